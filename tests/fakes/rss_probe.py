"""A program the memory test runs in a process of its own: it pulls each `source URL` through krbot's JSON source and
POSTs each `webhook URL` as a webhook try, and prints its peak RSS (ru_maxrss) before and after as JSON, with what
each exchange gave (`python -m tests.fakes.rss_probe WARM_URL source URL webhook URL …`)."""

from __future__ import annotations

import json
import os
import resource
import sys

from bot.core import model
from bot.core.errors import KrbotError
from bot.pulling import Puller
from bot.webhook_post import WebhookFailed, post


def _pull(url: str) -> str:
    puller = Puller()
    try:
        return f"pulled {puller.pull(source=model.Source(url=url, json_path='$.data.orders'))}"
    except KrbotError as error:
        return error.key
    finally:
        puller.close()


def _post(url: str) -> str:
    os.environ["TEST_WEBHOOK_SECRET"] = "probe-secret"
    payload = {"url": url, "secret_env": "TEST_WEBHOOK_SECRET", "event": "checkin.saved", "body": {"id": "d-1"}}
    try:
        return f"sent {post(payload=payload).message_id}"
    except WebhookFailed as error:
        return str(error)


def main() -> None:
    warm, *rest = sys.argv[1:]
    warmed = [_pull(warm), _post(warm)]  # imports, the TLS context, the first pool: not the answers' doing
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    results = [(_pull if kind == "source" else _post)(url) for kind, url in zip(rest[::2], rest[1::2], strict=True)]
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"warmed": warmed, "before_kb": before, "after_kb": after, "results": results}))


if __name__ == "__main__":
    main()
