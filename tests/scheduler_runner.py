"""A separate process for the race and crash tests: run scheduler jobs against a database and the fake platform."""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime

from fake_platform import HttpTestPlatform

from bot.app import build_app
from bot.scheduler import RetryPolicy, Runner


def main() -> None:
    """Parse the arguments, wait for the common start, run the jobs, print the counts as JSON."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--now", required=True, help="ISO date-time with zone: the jobs' clock")
    parser.add_argument("--job", action="append", required=True, help="tick, or reminders/chasers/digest (forced)")
    parser.add_argument("--start-at", type=float, default=0.0, help="epoch seconds to wait for, so processes race")
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    app = build_app(database_url=args.db, migrate=False)
    runner = Runner(
        uow=app.uow,
        platforms=[HttpTestPlatform(url=args.url)],
        policy=RetryPolicy(tries=3, backoff=0.01, backoff_max=0.05, workers=args.workers),
    )
    now = datetime.fromisoformat(args.now)
    time.sleep(max(0.0, args.start_at - time.time()))
    counts: dict[str, int] = {}
    for job in args.job:
        outcome = runner.tick(now=now) if job == "tick" else runner.run(job=job, now=now, force=True)
        for key, value in outcome.counts.items():
            counts[key] = counts.get(key, 0) + value
    print(json.dumps(counts), flush=True)


if __name__ == "__main__":
    main()
