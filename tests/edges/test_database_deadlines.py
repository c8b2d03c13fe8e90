"""A database that stops answering: every Slack and Feishu request is answered within 3 s, and none told "nothing was
saved" is stored afterwards — a real PostgreSQL behind a proxy that stalls, and a SQLite file another writer locks."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import make_url

from bot import services
from bot.app import App, build_app, database_answers
from bot.http import build_http_app
from bot.i18n import translate
from bot.platforms import slack
from storage.scratch import postgres_schema
from tests.conftest import EXAMPLE_ZH, IMPORTED_AT, POSTGRES, POSTGRES_URL, ROOT
from tests.edges.test_feishu import CHEN as FEISHU_CHEN
from tests.edges.test_feishu import Clock, fake, open_api, settings_for  # noqa: F401 - fixtures
from tests.edges.test_feishu_requests import served as served_feishu
from tests.edges.test_slack import CHEN, NOW, Bot
from tests.edges.test_slack import settings_for as slack_settings
from tests.fakes import fake_feishu as ff
from tests.fakes.fake_slack import (
    BOT_TOKEN,
    SIGNING_SECRET,
    FakeSlack,
    SlackSender,
    free_port,
    frozen_now,
    serve,
)
from tests.fakes.stalling_proxy import StallingProxy

ANSWERED_WITHIN = 3.0  # Slack and Feishu show a failure after 3 s
SETTLE = 4.0  # seconds the database is watched after the proxy resumes, for anything stored late
FAILED = translate("slack.failed", lang="en")
UNSURE = translate("slack.unsure", lang="en")


def with_example(*, url: str) -> App:
    """The wired app on `url` with the shared example OKRs imported."""
    app = build_app(database_url=url)
    services.import_okrs(uow=app.uow, text=EXAMPLE_ZH.read_text(encoding="utf-8"), filename=str(EXAMPLE_ZH),
                         at=IMPORTED_AT)
    return app


@dataclass
class Stalled:
    """The example on a real PostgreSQL schema: `direct` talks to it, `through` goes through the stalling proxy."""

    direct: App
    through: App
    proxy: StallingProxy


@pytest.fixture
def stalled() -> Iterator[Stalled]:
    """A PostgreSQL schema with the example, and the app krbot serves reaching it through a proxy that can stall."""
    if not POSTGRES:
        pytest.skip(f"PostgreSQL does not answer at {POSTGRES_URL}")
    with postgres_schema(url=POSTGRES_URL) as url:
        target = make_url(url)
        with StallingProxy(target=(str(target.host), int(target.port or 5432))) as proxy:
            direct = with_example(url=url)
            through = build_app(database_url=proxy.url(of=url), migrate=False)
            try:
                yield Stalled(direct=direct, through=through, proxy=proxy)
            finally:
                proxy.resume()
                through.uow.engine.dispose()
                direct.uow.engine.dispose()


@contextmanager
def slack_bot(*, served_on: App, seen_by: App) -> Iterator[Bot]:
    """The Slack edge served over HTTP on `served_on`'s database; `seen_by` reads what was stored."""
    fake_slack = FakeSlack().start()
    platform = slack.build(settings=slack_settings(fake_slack), uow=served_on.uow, http=True, clock=frozen_now)
    platform.start()
    served = serve(app=build_http_app(routes=platform.routes(), health=lambda: {"ok": True}))
    sender = SlackSender(url=served.url)
    try:
        yield Bot(app=seen_by, platform=platform, fake=fake_slack, served=served, slack=sender)
    finally:
        sender.client.close()
        served.stop()
        platform.stop()
        fake_slack.stop()


def timed_command(bot: Bot, *, n: int, text: str) -> tuple[float, int, str]:
    """Send `/kr text` as Chen; (seconds to the answer, status, the answer's text)."""
    started = time.monotonic()
    answer = bot.slack.command(user_id=CHEN, text=text, response_url=bot.fake.response_url(name=f"c{n}"),
                               trigger_id=f"t-stall-{n}-{time.monotonic_ns()}")
    took = time.monotonic() - started
    return took, answer.status_code, (answer.json().get("text", "") if answer.content else "")


def stored_notes(app: App) -> set[str]:
    """The notes of every stored check-in."""
    return {str(c.get("note")) for c in services.export_all(uow=app.uow, at=NOW)["checkins"]}


def never_stored(app: App, *, notes: set[str], seconds: float = SETTLE) -> None:
    """Watch the database for `seconds`: none of `notes` may turn up."""
    end = time.monotonic() + seconds
    while True:
        assert not notes & stored_notes(app), notes & stored_notes(app)
        if time.monotonic() > end:
            return
        time.sleep(0.2)


def test_a_stalled_postgres_every_slack_request_is_answered_within_3s_and_nothing_told_unsaved_is_stored_later(
    stalled: Stalled,
) -> None:
    with slack_bot(served_on=stalled.through, seen_by=stalled.direct) as bot:
        assert timed_command(bot, n=0, text="update KR2 1.5% note: before")[1] == 200  # the pool holds connections now
        stalled.proxy.stall()
        with ThreadPoolExecutor(max_workers=14) as pool:
            commands = [pool.submit(timed_command, bot, n=n, text=f"update KR2 1.{n}% note: stall-{n}") for n in range(1, 14)]
            event = pool.submit(lambda: (time.monotonic(), bot.slack.event(
                event={"type": "message", "channel_type": "im", "channel": "D0CHEN0001", "user": CHEN,
                       "text": "update KR2 1.9% note: stall-dm", "ts": "1790000000.000700"}, event_id="Ev0STALL01")))
            answers = [future.result() for future in commands]
            sent_at, dm = event.result()
            dm_took = time.monotonic() - sent_at
        assert all(took < ANSWERED_WITHIN for took, _, _ in answers), [round(took, 2) for took, _, _ in answers]
        assert all(status == 200 and FAILED in text for _, status, text in answers), answers
        assert dm.status_code >= 500 and dm_took < ANSWERED_WITHIN  # Slack delivers the event again
        probed = time.monotonic()
        assert database_answers(app=stalled.through) == "slow"
        assert time.monotonic() - probed < 2.0
        stalled.proxy.resume()
        never_stored(stalled.direct, notes={f"stall-{n}" for n in range(1, 14)} | {"stall-dm"})
        took, status, text = timed_command(bot, n=99, text="update KR2 1.7% note: after")
        assert status == 200 and "1.7%" in text and took < ANSWERED_WITHIN
        assert stored_notes(stalled.direct) >= {"before", "after"}
        assert database_answers(app=stalled.through) is True


BURST = [f"2.{k:02d}" for k in range(1, 100) if k % 10][:40]  # no trailing zero: the reply writes 2.10 as 2.1


def test_a_stall_in_the_middle_of_a_burst_never_leaves_a_nothing_was_saved_that_was_stored(stalled: Stalled) -> None:
    """Requests caught at every step, COMMIT included: "saved" is stored, "nothing was saved" never is (not even
    when the proxy delivers what it held), "could not confirm" may be either."""
    with slack_bot(served_on=stalled.through, seen_by=stalled.direct) as bot:
        assert timed_command(bot, n=0, text="list")[1] == 200
        with ThreadPoolExecutor(max_workers=20) as pool:
            burst = [pool.submit(timed_command, bot, n=n, text=f"update KR2 {BURST[n]}% note: burst-{n}") for n in range(40)]
            time.sleep(0.05)
            stalled.proxy.stall()
            answers = [future.result() for future in burst]
        assert all(took < ANSWERED_WITHIN for took, _, _ in answers), [round(took, 2) for took, _, _ in answers]
        told_failed = {f"burst-{n}" for n, (_, _, text) in enumerate(answers) if FAILED in text}
        told_saved = {f"burst-{n}" for n, (_, _, text) in enumerate(answers) if f"{BURST[n]}%" in text}
        unsure = {f"burst-{n}" for n, (_, _, text) in enumerate(answers) if UNSURE in text}
        assert len(told_failed) + len(told_saved) + len(unsure) == 40, answers
        assert told_failed, "the stall caught no request: the test proves nothing"
        stalled.proxy.resume()
        never_stored(stalled.direct, notes=told_failed)
        assert told_saved <= stored_notes(stalled.direct)


def test_a_stalled_postgres_feishu_messages_get_5xx_and_cards_say_nothing_saved_within_3s(
    stalled: Stalled, fake: ff.FakeFeishu  # noqa: F811 - the fixture imported above
) -> None:
    with served_feishu(example=stalled.direct, settings=settings_for(domain=fake._served.url),
                       uow=stalled.through.uow) as bot:
        warm, _ = bot.say(FEISHU_CHEN, "/kr list")
        assert warm.status_code == 200
        stalled.proxy.stall()

        def card(n: int) -> tuple[float, dict[str, Any]]:
            started = time.monotonic()
            answer = bot.click(FEISHU_CHEN, {"a": "checkin", "code": "KR2", "measures": ["新客转化率"]},
                               form={"m0": f"1.{n}%", "note": f"card-{n}"})
            return time.monotonic() - started, answer

        def message(n: int) -> tuple[float, int]:
            started = time.monotonic()
            answer, _ = bot.say(FEISHU_CHEN, f"/kr update KR2 1.{n}% note: msg-{n}")
            return time.monotonic() - started, answer.status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            cards = [pool.submit(card, n) for n in range(4)]
            messages = [pool.submit(message, n) for n in range(4)]
            toasts = [future.result() for future in cards]
            pushed = [future.result() for future in messages]
        assert all(took < ANSWERED_WITHIN for took, _ in toasts + pushed), [round(t, 2) for t, _ in toasts + pushed]
        failed = translate("feishu.failed", lang="zh")
        assert all(t["toast"]["type"] == "error" and t["toast"]["content"] == failed for _, t in toasts), toasts
        assert all(status >= 500 for _, status in pushed)  # Feishu pushes them again
        stalled.proxy.resume()
        never_stored(stalled.direct, notes={f"card-{n}" for n in range(4)} | {f"msg-{n}" for n in range(4)})


def test_a_sqlite_file_locked_by_another_writer_every_request_is_answered_within_3s(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'krbot.db'}"
    app = with_example(url=url)
    locker = sqlite3.connect(tmp_path / "krbot.db", isolation_level=None, check_same_thread=False)
    try:
        with slack_bot(served_on=app, seen_by=app) as bot:
            locker.execute("BEGIN IMMEDIATE")  # another process's writer holds the file's write lock
            with ThreadPoolExecutor(max_workers=5) as pool:
                answers = [future.result() for future in
                           [pool.submit(timed_command, bot, n=n, text=f"update KR2 1.{n}% note: locked-{n}") for n in range(5)]]
            assert all(took < ANSWERED_WITHIN for took, _, _ in answers), [round(took, 2) for took, _, _ in answers]
            assert all(status == 200 and FAILED in text for _, status, text in answers), answers
            locker.execute("ROLLBACK")
            never_stored(app, notes={f"locked-{n}" for n in range(5)}, seconds=1.0)
            took, status, text = timed_command(bot, n=9, text="update KR2 1.7% note: unlocked")
            assert status == 200 and "1.7%" in text and took < ANSWERED_WITHIN
    finally:
        locker.close()
        app.uow.engine.dispose()


def test_background_work_keeps_its_long_limits_while_requests_get_short_ones(stalled: Stalled) -> None:
    """The limits are per use: a job's transaction may wait and run long; a request's is bounded by its deadline."""
    from sqlalchemy import text

    from storage.deadlines import deadline

    with stalled.through.uow.engine.connect() as connection:
        assert connection.execute(text("SHOW statement_timeout")).scalar() == "5min"
    with deadline(seconds=2.5), stalled.through.uow.engine.connect() as connection:
        limit = connection.execute(text("SHOW statement_timeout")).scalar()
        orphan = connection.execute(text("SHOW idle_in_transaction_session_timeout")).scalar()
    assert limit.endswith("ms") and int(limit[:-2]) <= 2500 and orphan == "5s"
    slow = threading.Event()

    def sleeper() -> None:
        with stalled.through.uow.engine.connect() as connection:
            connection.execute(text("SELECT pg_sleep(3)"))
        slow.set()

    worker = threading.Thread(target=sleeper)
    worker.start()
    worker.join(timeout=20)
    assert slow.is_set()  # three seconds is nothing for a job


def test_krbot_run_answers_healthz_and_slack_within_their_deadlines_while_postgres_stalls(
    stalled: Stalled, tmp_path: Path
) -> None:
    """The real `krbot run --http`: with the database stalled, /healthz says "slow" (503) within its own deadline and a
    command is told "nothing was saved" within 3 s; once the database answers again, /healthz is ok again."""
    fake_slack = FakeSlack().start()
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "FEISHU_", "KRBOT_"))},
           "PYTHONPATH": str(ROOT), "KRBOT_METRICS_TOKEN": "health-token", "SLACK_BOT_TOKEN": BOT_TOKEN,
           "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_API_URL": fake_slack.api_url}
    url = stalled.through.uow.engine.url.render_as_string(hide_password=False)
    with (tmp_path / "krbot.log").open("wb") as log_file:
        server = subprocess.Popen([sys.executable, "-m", "bot", "run", "--http", "--port", str(port), "--db", url],
                                  cwd=tmp_path, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
    health = f"http://127.0.0.1:{port}/healthz"
    sender = SlackSender(url=f"http://127.0.0.1:{port}")
    try:
        def healthz() -> tuple[float, int, dict[str, Any]]:
            started = time.monotonic()
            answer = httpx.get(health, headers={"Authorization": "Bearer health-token"}, timeout=10)
            return time.monotonic() - started, answer.status_code, answer.json()

        end = time.monotonic() + 60
        while time.monotonic() < end:
            try:
                if healthz()[1] == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        assert healthz()[1] == 200, (tmp_path / "krbot.log").read_text()[-3000:]
        stalled.proxy.stall()
        with ThreadPoolExecutor(max_workers=2) as pool:
            command = pool.submit(lambda: (time.monotonic(), sender.command(
                user_id=CHEN, text="update KR2 1.6% note: run-stalled", response_url=fake_slack.response_url(name="r"),
                trigger_id="t-run-stalled")))
            took, status, report = healthz()
            sent_at, answer = command.result()
            answered = time.monotonic() - sent_at
        assert status == 503 and report["database"] == "slow" and took < 2.5, (took, status, report)
        assert answer.status_code == 200 and FAILED in answer.json()["text"] and answered < ANSWERED_WITHIN
        stalled.proxy.resume()
        end = time.monotonic() + 20
        while healthz()[1] != 200 and time.monotonic() < end:
            time.sleep(0.3)
        assert healthz()[2]["database"] is True
        never_stored(stalled.direct, notes={"run-stalled"}, seconds=1.0)
    finally:
        sender.client.close()
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        fake_slack.stop()


def test_a_long_write_of_this_process_on_sqlite_holds_no_request_past_3s(tmp_path: Path) -> None:
    """An import (or any long transaction) of the same process holds SQLite's one writer turn: requests wait for it
    only until their deadline, then say nothing was saved; the long write itself is not disturbed."""
    app = with_example(url=f"sqlite:///{tmp_path / 'krbot.db'}")
    holding, release = threading.Event(), threading.Event()

    def long_write() -> None:
        with app.uow.atomic():
            holding.set()
            release.wait(20)

    writer = threading.Thread(target=long_write)
    writer.start()
    try:
        assert holding.wait(10)
        with slack_bot(served_on=app, seen_by=app) as bot:
            with ThreadPoolExecutor(max_workers=3) as pool:
                answers = [future.result() for future in
                           [pool.submit(timed_command, bot, n=n, text=f"update KR2 1.{n}% note: queued-{n}") for n in range(3)]]
            assert all(took < ANSWERED_WITHIN for took, _, _ in answers), [round(took, 2) for took, _, _ in answers]
            assert all(status == 200 and FAILED in text for _, status, text in answers), answers
            release.set()
            writer.join(timeout=10)
            never_stored(app, notes={f"queued-{n}" for n in range(3)}, seconds=1.0)
    finally:
        release.set()
        writer.join(timeout=10)
        app.uow.engine.dispose()


def test_a_stalled_postgres_socket_mode_commands_are_answered_within_3s_and_never_stored_later(
    stalled: Stalled,
) -> None:
    """Socket Mode envelopes get the same deadline as HTTP requests: each acked within 3 s of its push, "nothing
    was saved" while the database stalls, and none of them stored after it answers again."""
    from urllib.parse import parse_qsl

    from bot.config import Settings
    from tests.fakes.fake_slack import command_body

    fake_slack = FakeSlack().start()
    settings = Settings(_env_file=None, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_APP_TOKEN="xapp-fake-app-token",
                        SLACK_API_URL=fake_slack.api_url)
    platform = slack.build(settings=settings, uow=stalled.through.uow, http=False, clock=frozen_now)

    def push(n: int, note: str) -> None:
        form = dict(parse_qsl(command_body(user_id=CHEN, text=f"update KR2 1.{n}% note: {note}",
                                           response_url=fake_slack.response_url(name=f"s{n}"), trigger_id=f"t-s{n}")))
        fake_slack.push(envelope={"envelope_id": f"env-{n}", "type": "slash_commands", "accepts_response_payload": True,
                                  "payload": form})

    try:
        platform.start()
        end = time.monotonic() + 10
        while not (fake_slack.sockets and platform.healthy()) and time.monotonic() < end:
            time.sleep(0.05)
        push(0, "before")
        fake_slack.wait_for("socket_ack", count=1)
        stalled.proxy.stall()
        pushed = {}
        for n in range(1, 6):
            pushed[f"env-{n}"] = time.monotonic()
            push(n, f"socket-stall-{n}")
        fake_slack.wait_for("socket_ack", count=6, timeout=ANSWERED_WITHIN + 2)
        acked = {call.args["envelope_id"]: (call, call.at) for call in fake_slack.of("socket_ack")}
        for envelope, sent_at in pushed.items():
            call, at = acked[envelope]
            assert at - sent_at < ANSWERED_WITHIN, (envelope, round(at - sent_at, 2))
            assert FAILED in call.args.get("payload", {}).get("text", ""), call.args
        stalled.proxy.resume()
        never_stored(stalled.direct, notes={f"socket-stall-{n}" for n in range(1, 6)})
        assert "before" in stored_notes(stalled.direct)
    finally:
        stalled.proxy.resume()
        platform.stop()
        fake_slack.stop()
