"""A webhook address carrying credentials or a key is never shown whole: not in `krbot jobs list`, not in the admins'
DM about a delivery given up on, not in the ledger's error nor in the log lines of its failed tries."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from bot import services
from bot.app import App
from bot.config import Settings
from bot.platforms import slack
from bot.webhooks import Drainer, job
from tests.fakes.fake_slack import BOT_TOKEN, FROZEN_AT, SIGNING_SECRET, FakeSlack
from tests.fakes.okr_helpers import reimport
from tests.fakes.webhook_receiver import (
    BEFORE_CYCLE,
    QUICK,
    Receiver,
    okr_file_with_webhooks,
    quiet,
    webhook_rows,
)

KEY, PASSWORD = "k3y-0f-the-erp", "pa55w0rd-of-the-erp"


@pytest.fixture
def on_slack(hooked: App) -> Iterator[tuple[FakeSlack, slack.SlackPlatform]]:
    """The fake Slack Web API served locally, and krbot's Slack platform talking to it."""
    served = FakeSlack().start()
    yield served, slack.build(uow=hooked.uow, http=True, settings=Settings(
        _env_file=None, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL=served.api_url))
    served.stop()


def test_a_webhook_address_with_credentials_and_a_key_is_shown_blanked(
    hooked: App, receiver: Receiver, on_slack, run_cli, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.down = True
    secret_url = receiver.url.replace("http://", f"http://erp:{PASSWORD}@") + f"?key={KEY}"
    shown = receiver.url.replace("http://", "http://…@") + "?…"
    reimport(hooked, okr_file_with_webhooks(urls=[secret_url]), at=BEFORE_CYCLE)
    writer = quiet(hooked)
    assert services.run_command(uow=writer.uow, person="chen", text="/kr update KR2 1.7%", at=FROZEN_AT).ok
    fake, platform = on_slack
    [view] = services.schedule_views(uow=hooked.uow, at=FROZEN_AT)
    drainer = Drainer(uow=hooked.uow, schedule=QUICK)
    counts: Counter[str] = Counter()
    caplog.set_level(logging.INFO)
    end = time.monotonic() + 20
    while not counts["escalated"] and time.monotonic() < end:
        counts.update(job(uow=hooked.uow, platforms=[platform], view=view, now=datetime.now(UTC), drainer=drainer))
        time.sleep(0.02)
    assert counts["failed"] == 1 and counts["escalated"] == 1, counts
    assert receiver.requests and all(request.status == 500 for request in receiver.requests)  # it was really tried

    [row] = webhook_rows(hooked)
    assert row.status == "failed" and shown in (row.error or "") and KEY not in (row.error or "")
    [dm] = [c.args["text"] for c in fake.of("chat.postMessage") if "webhook" in str(c.args.get("text", ""))]
    assert shown in dm and KEY not in dm and PASSWORD not in dm, dm
    code, out, _ = run_cli("jobs", "list")
    assert code == 0 and "checkin.saved" in out and shown in out, out
    assert KEY not in out and PASSWORD not in out, out
    ours = [record.getMessage() for record in caplog.records if record.name.startswith("krbot")]  # httpx's own lines
    assert any("failed" in line and shown in line for line in ours), ours  # are blanked by the handler (bot/logs.py)
    assert not [line for line in ours if KEY in line or PASSWORD in line]
