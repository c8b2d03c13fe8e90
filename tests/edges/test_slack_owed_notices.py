"""Notices a Slack check-in form and an ask decision owe are queued in the transaction that stores them: krbot SIGKILLed
while sending them sends each once after the restart, and the same form or click delivered again tells nobody twice.
A real `krbot run` in Socket Mode (slack-bolt, slack_sdk) against the fake Slack, on the test's database."""

from __future__ import annotations

import json
import os
import re
import signal
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot import services
from bot.app import App
from bot.platforms import slack_blocks
from bot.platforms.slack_client import ANSWER_EVENT
from storage.models import DeliveryRow
from tests.conftest import EXAMPLE_ZH
from tests.edges import test_slack_drain
from tests.edges.test_slack import BOSS, CHEN, click_payload, submission
from tests.edges.test_slack_drain import (
    _env,
    _krbot_run,
    dm_envelope,
    wait_until,
)
from tests.fakes.fake_slack import FakeSlack
from tests.fakes.okr_helpers import reimport

CHEN_DM, SUN_DM = "D0CHEN0001", "D0SUN00001"
fake = test_slack_drain.fake  # the fake Slack, started for each test


def notices(app: App) -> list[tuple[str, str, bool]]:
    """(target, status, queued with what it sends) of the ledger's notice rows."""
    with app.uow.begin() as session:
        rows = session.scalars(select(DeliveryRow).where(DeliveryRow.kind == "notice").order_by(DeliveryRow.id))
        return [(row.target, row.status, bool(row.payload and row.payload.get("text"))) for row in rows]


def dms(slack: FakeSlack, *, channel: str, words: str) -> list[str]:
    """The texts posted to one DM that carry `words`."""
    return [c.args["text"] for c in slack.of("chat.postMessage")
            if c.args.get("channel") == channel and words in str(c.args.get("text"))]


def interactive(*, envelope_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    """An interaction (a click, a modal submitted) as Slack sends it over Socket Mode."""
    return {"envelope_id": envelope_id, "type": "interactive", "accepts_response_payload": True, "payload": payload}


def example_around(*, today: date) -> str:
    """The example OKR file with every date moved so that `today` falls where 2026-11-19 does (mid-cycle): `krbot run`
    stamps check-ins with the real clock, and the test must hold on any day."""
    offset = today - date(2026, 11, 19)
    return re.sub(r"\b(\d{4})-(\d{2})-(\d{2})\b", lambda m: (date(*map(int, m.groups())) + offset).isoformat(),
                  EXAMPLE_ZH.read_text(encoding="utf-8"))


def _setup(app: App, *, now: datetime) -> tuple[int, dict[str, Any]]:
    """chen's open ask, and KR4's check-in of 15 days ago; the form whose values drop KR4 (sun, consulted, is told)."""
    reimport(app, example_around(today=now.date()), at=now)
    services.run_command(uow=app.uow, person="chen", text="/kr update KR2 1.7% 需求：追加5000欧预算", at=now)
    services.run_command(uow=app.uow, person="chen", text="/kr update KR4 竞品监控覆盖率=90% 会员复购率=31%",
                         at=now - timedelta(days=15))
    ask_id = services.export_all(uow=app.uow, at=now)["asks"][0]["id"]
    rows = services.list_krs(uow=app.uow, person="chen", at=now)
    view = slack_blocks.checkin_view(rows=rows.params["rows"], code="KR4", lang=rows.lang)
    form = submission(user=CHEN, view=view, values={"m0": "70%", "m2": "26%", "risk": "ERP接口未开通"})
    return ask_id, form


def test_notices_of_a_form_and_a_decision_in_flight_at_sigkill_are_sent_once_after_the_restart(
    example: App, db_url: str, fake: FakeSlack, tmp_path: Path
) -> None:
    ask_id, form = _setup(example, now=datetime.now(UTC))
    approve = click_payload(user=BOSS, action_id=slack_blocks.APPROVE, value=json.dumps({"id": ask_id}),
                            response_url=fake.response_url(name="boss"))
    release = fake.hold(method="conversations.open")  # each notice's DM is opened, and the answer never comes back
    log = tmp_path / "krbot.log"
    process = _krbot_run(db_url=db_url, env=_env(fake), log=log)
    try:
        fake.connected(timeout=60)
        fake.push(envelope=interactive(envelope_id="env-form", payload=form))
        fake.push(envelope=interactive(envelope_id="env-approve", payload=approve))
        wait_until(lambda: "env-form" in fake.acks() and "env-approve" in fake.acks(), what="both acks")
        assert "KR4" in json.dumps(fake.acks()["env-form"]), fake.acks()["env-form"]
        wait_until(lambda: len(fake.of("conversations.open")) >= 2, what="both notices in flight")
        assert sorted(notices(example)) == [("chen", "claimed", True), ("sun", "claimed", True)], \
            "queued with what they say in the transaction that stored the check-in and the decision"
        os.killpg(process.pid, signal.SIGKILL)  # the notices' sends under way, unmarked
        process.wait(timeout=10)
        assert dms(fake, channel=CHEN_DM, words=f"#{ask_id}") == [] and dms(fake, channel=SUN_DM, words="KR4") == []
        release.set()
        opened = len(fake.of("apps.connections.open"))
        process = _krbot_run(db_url=db_url, env=_env(fake), log=log)
        fake.connected(timeout=60, after=opened)
        wait_until(lambda: [status for _, status, _ in notices(example)] == ["sent", "sent"], timeout=60,
                   what="the owed notices sent by the next start")
        fake.push(envelope=interactive(envelope_id="env-form-again", payload=form))  # both delivered again
        fake.push(envelope=interactive(envelope_id="env-approve-again", payload=approve))
        fake.push(envelope=dm_envelope(n=1, value=1.8))  # then a DM command: its answer is the positive control
        wait_until(lambda: {"env-form-again", "env-approve-again", "env-dm-1"} <= set(fake.acks()), what="the acks")
        wait_until(lambda: fake.posts(channel=CHEN_DM, event_type=ANSWER_EVENT), what="the DM command's answer")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    assert len(dms(fake, channel=CHEN_DM, words=f"#{ask_id}")) == 1, "the asker hears of the decision once"
    assert len(dms(fake, channel=SUN_DM, words="KR4")) == 1, "sun hears of KR4's drop once"
    assert services.export_all(uow=example.uow, at=datetime.now(UTC))["asks"][0]["status"] == "approved"
