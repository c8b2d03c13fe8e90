"""A separate process for the race and crash tests: run scheduler jobs against a database and the fake platform."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from fake_platform import HttpTestPlatform

from bot.app import build_app
from bot.scheduler import RetryPolicy, Runner


def _slack(*, api: str, app: Any) -> Any:
    """The Slack platform talking to a fake Slack at `api`."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from bot.config import Settings
    from bot.platforms import slack
    from tests.fakes.fake_slack import BOT_TOKEN, SIGNING_SECRET

    settings = Settings(_env_file=None, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL=api)
    return slack.build(settings=settings, uow=app.uow, http=True)


def main() -> None:
    """Parse the arguments, wait for the common start, run the jobs, print the counts as JSON."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--url", help="the fake platform (tests/fakes/fake_platform.py)")
    parser.add_argument("--slack-api", help="a fake Slack's Web API URL: send to Slack instead")
    parser.add_argument("--rate", type=float, default=0.0, help="messages per second to the platform, for every replica")
    parser.add_argument("--now", required=True, help="ISO date-time with zone: the jobs' clock")
    parser.add_argument("--job", action="append", required=True, help="tick, or reminders/chasers/digest (forced)")
    parser.add_argument("--start-at", type=float, default=0.0, help="epoch seconds to wait for, so processes race")
    parser.add_argument("--go", help="a file to wait for (after saying `ready` on stdout), so processes start together")
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    app = build_app(database_url=args.db, migrate=False)
    platform = HttpTestPlatform(url=args.url) if args.url else _slack(api=args.slack_api, app=app)
    runner = Runner(
        uow=app.uow,
        platforms=[platform],
        policy=RetryPolicy(tries=3, backoff=0.01, backoff_max=0.05, workers=args.workers),
        rates={platform.name: args.rate} if args.rate else {},
    )
    now = datetime.fromisoformat(args.now)
    time.sleep(max(0.0, args.start_at - time.time()))
    if args.go:
        print("ready", flush=True)
        while not Path(args.go).exists():
            time.sleep(0.01)
    counts: dict[str, float] = {}
    for job in args.job:
        outcome = runner.tick(now=now) if job == "tick" else runner.run(job=job, now=now, force=True)
        for key, value in outcome.counts.items():
            counts[key] = counts.get(key, 0) + value
    print(json.dumps({**counts, "finished_at": time.time()}), flush=True)


if __name__ == "__main__":
    main()
