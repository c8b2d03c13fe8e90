"""Webhooks at the edges: the digest job tells digest.posted, a dead receiver ends in the ledger, /metrics,
`krbot jobs list` and one admin DM on (fake) Slack, and a killed process loses no delivery."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot import services
from bot.app import App
from bot.config import Settings
from bot.metrics import WEBHOOKS, exposition
from bot.platforms import slack
from bot.render import render_digest
from bot.scheduler import Runner
from bot.webhooks import Drainer, finish_drains, job
from tests.fakes.fake_slack import BOT_TOKEN, FROZEN_AT, SIGNING_SECRET, FakeSlack
from tests.fakes.webhook_receiver import (
    QUICK,
    SECRET,
    SECRET_ENV,
    Receiver,
    quiet,
    webhook_rows,
)

CRASHER = Path(__file__).resolve().parents[1] / "fakes" / "webhook_crasher.py"


@pytest.fixture
def on_slack(hooked: App) -> Iterator[tuple[FakeSlack, slack.SlackPlatform]]:
    """The fake Slack Web API served locally, and krbot's Slack platform talking to it."""
    served = FakeSlack().start()
    yield served, slack.build(uow=hooked.uow, http=True, settings=Settings(
        _env_file=None, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL=served.api_url))
    served.stop()


def test_the_digest_job_tells_digest_posted_once(hooked: App, receiver: Receiver, on_slack) -> None:
    """The weekly digest posted to the boss channel: one digest.posted with its period, channel and each
    objective's completion and forecast — however often the job runs after."""
    runner = Runner(uow=hooked.uow, platforms=[on_slack[1]])
    assert runner.run(job="digest", now=FROZEN_AT, force=True).counts["sent"] == 1
    for _ in range(3):
        runner.run(job="webhooks", now=FROZEN_AT + timedelta(minutes=1))
    [body] = receiver.wait_for(1)
    assert finish_drains(timeout=15)  # the drains the commits started have ended: a second request would be in
    assert len(receiver.requests) == 1 and receiver.requests[0].valid
    assert body["event"] == "digest.posted" and body["workspace"] == "欧洲事业部"
    data = body["data"]
    digest = services.compose(uow=hooked.uow, as_of=FROZEN_AT)
    assert data["channel"] == "slack:C0BOSSDIGEST" and data["channels"] == ["slack:C0BOSSDIGEST"] and data["period"]
    assert [(o["code"], o["completion"], o["forecast"], o["status"]) for o in data["summary"]] == [
        (o.code, o.completion, o.forecast_completion, o.status.value) for o in digest.objectives
    ]


def test_a_receiver_down_for_good_is_given_up_shown_and_told_once(
    hooked: App, receiver: Receiver, on_slack, run_cli
) -> None:
    """After the last of 8 tries: the ledger says failed, /metrics counts it, `krbot jobs list` shows it, and the
    admin (林雪) gets one DM — not one per run of the job."""
    receiver.down = True
    writer = quiet(hooked)
    assert services.run_command(uow=writer.uow, person="chen", text="/kr update KR2 1.7%", at=FROZEN_AT).ok
    before = WEBHOOKS.labels(event="checkin.saved", outcome="failed")._value.get()
    fake, platform = on_slack
    [view] = services.schedule_views(uow=hooked.uow, at=FROZEN_AT)
    drainer = Drainer(uow=hooked.uow, schedule=QUICK)
    counts: Counter[str] = Counter()
    end = time.monotonic() + 20
    while not webhook_rows(hooked, "failed") and time.monotonic() < end:
        counts.update(job(uow=hooked.uow, platforms=[platform], view=view, now=datetime.now(UTC), drainer=drainer))
        time.sleep(0.02)
    for _ in range(2):
        counts.update(job(uow=hooked.uow, platforms=[platform], view=view, now=datetime.now(UTC), drainer=drainer))
    [row] = webhook_rows(hooked)
    assert (row.status, row.attempts) == ("failed", 8) and "HTTP 500" in (row.error or "")
    assert len(receiver.requests) == 8 and len({r.body["id"] for r in receiver.requests}) == 1
    assert counts["retry"] == 7 and counts["failed"] == 1 and counts["escalated"] == 1
    assert WEBHOOKS.labels(event="checkin.saved", outcome="failed")._value.get() == before + 1
    assert 'krbot_webhook_deliveries_total{event="checkin.saved",outcome="failed"}' in exposition()[0].decode()
    dms = [c for c in fake.of("chat.postMessage") if "webhook" in str(c.args.get("text", ""))]
    assert len(dms) == 1 and receiver.url in dms[0].args["text"]
    code, out, _ = run_cli("jobs", "list")
    assert code == 0 and "checkin.saved" in out and receiver.url in out and "已失败" in out and "8" in out
    digest = services.digest_run(uow=hooked.uow, as_of=datetime.now(UTC)).digest
    assert [f.kind for f in digest.failed] == ["webhook"]
    for lang, word in (("zh", "webhook"), ("en", "webhook")):
        assert word in render_digest(digest=digest, fmt="markdown", lang=lang).split(row.period)[0].splitlines()[-1]


def test_no_delivery_is_lost_or_doubled_across_a_crash(hooked: App, receiver: Receiver, db_url: str) -> None:
    """A process storing check-ins (each drained right after its commit) is SIGKILLed mid-stream: a restarted
    drainer delivers every check-in committed, each once — except one the receiver answered 2xx while krbot died
    before marking it (documented: receivers dedupe by id)."""
    receiver.delay = 0.2  # slower than check-ins are stored: the kill finds some queued, some mid-send
    env = {**os.environ, SECRET_ENV: SECRET}
    victim = subprocess.Popen([sys.executable, str(CRASHER), "--db", db_url, "--count", "400"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert victim.stdout is not None
    for line in victim.stdout:
        if line.startswith("stored ") and int(line.split()[1]) >= 15 and receiver.delivered():
            break
    else:
        raise AssertionError(victim.stderr.read() if victim.stderr else "the victim ended")
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=10)
    at_kill = {row.period: row.status for row in webhook_rows(hooked)}
    in_flight = {period for period, status in at_kill.items() if status == "claimed"}
    assert len(at_kill) >= 16 and set(at_kill.values()) - {"sent"}, "the kill should leave deliveries owed"
    time.sleep(1.1)
    counts = Drainer(uow=quiet(hooked).uow, lease=timedelta(seconds=1)).drain()
    with hooked.uow.begin() as session:
        from sqlalchemy import func, select

        from storage.models import CheckinRow

        stored = session.scalar(select(func.count()).select_from(CheckinRow))
    rows = webhook_rows(hooked)
    assert len(rows) == stored and {row.status for row in rows} == {"sent"}
    ids = Counter(body["id"] for body in receiver.delivered())
    assert set(ids) == {row.period for row in rows}, "a committed check-in was never told"
    twice = {delivery for delivery, times in ids.items() if times > 1}
    assert twice <= in_flight, "told twice, and not in the crash window"
    print(f"crash: {stored} committed, {len(at_kill) - len(in_flight) - sum(s == 'sent' for s in at_kill.values())}"
          f" queued and {len(in_flight)} in flight at the kill, {counts['sent']} sent on restart, {len(twice)} twice")


def test_lint_and_import_warn_of_an_unset_secret(tmp_path: Path, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """A webhook whose secret variable is not set: `krbot lint` and `krbot import` warn, naming it, in zh and en."""
    from tests.conftest import EXAMPLE_EN
    from tests.fakes.webhook_receiver import okr_file_with_webhooks

    monkeypatch.delenv(SECRET_ENV, raising=False)
    zh = tmp_path / "zh.yaml"
    zh.write_text(okr_file_with_webhooks(urls=["https://erp.example.com/krbot"]), encoding="utf-8")
    code, out, _ = run_cli("lint", str(zh))
    assert f"环境变量 {SECRET_ENV}" in out and "未设置" in out
    code, out, _ = run_cli("import", str(zh))
    assert code == 0 and f"环境变量 {SECRET_ENV}" in out
    en = tmp_path / "en.yaml"
    en.write_text(okr_file_with_webhooks(urls=["https://erp.example.com/krbot"], base=EXAMPLE_EN), encoding="utf-8")
    code, out, _ = run_cli("lint", str(en))
    assert f"environment variable {SECRET_ENV}, which is not set" in out
    monkeypatch.setenv(SECRET_ENV, SECRET)
    code, out, _ = run_cli("lint", str(en))
    assert SECRET_ENV not in out


def test_digest_post_from_the_cli_is_sent_once_through_the_ledger_and_told(
    hooked: App, receiver: Receiver, run_cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`krbot digest --post`: the headline and each thread reply go through the delivery ledger (a reply that fails
    once is retried alone), digest.posted is told at once — and the same command again posts nothing twice."""
    from bot.platforms.slack_blocks import digest_messages

    fake = FakeSlack().start()
    try:
        for name in ("SLACK_APP_TOKEN", "SLACK_CLIENT_ID", "FEISHU_APP_ID"):
            monkeypatch.delenv(name, raising=False)
        for name, value in (("SLACK_BOT_TOKEN", BOT_TOKEN), ("SLACK_SIGNING_SECRET", SIGNING_SECRET),
                            ("SLACK_API_URL", fake.api_url)):
            monkeypatch.setenv(name, value)
        fake.fail(method="chat.postMessage", times=1, in_thread=True)
        code, out, err = run_cli("digest", "--post", "--as-of", "2026-10-21T10:00")
        assert code == 0, err
        assert "C0BOSSDIGEST" in out
        as_of = datetime(2026, 10, 21, 8, 0, tzinfo=UTC)  # 10:00 in Berlin
        _, thread = digest_messages(digest=services.compose(uow=hooked.uow, as_of=as_of))
        stored = fake.posts(channel="C0BOSSDIGEST")
        assert len(stored) == 1 + len(thread) >= 2  # the failed reply retried, none doubled
        assert len({m.get("ts") for m in stored}) == len(stored)
        [body] = receiver.wait_for(1)
        assert body["event"] == "digest.posted" and body["data"]["channel"] == "slack:C0BOSSDIGEST"
        assert body["data"]["period"] == "2026-10-21T10:00"  # the minute it was posted for

        code, out, err = run_cli("digest", "--post", "--as-of", "2026-10-21T10:00")
        assert code == 0, err
        assert "不会重复发送" in out and "C0BOSSDIGEST" not in out  # the workspace speaks Chinese
        assert finish_drains(timeout=15) and {row.status for row in webhook_rows(hooked)} == {"sent"}  # none owed
        assert len(fake.posts(channel="C0BOSSDIGEST")) == len(stored) and len(receiver.requests) == 1
    finally:
        fake.stop()
