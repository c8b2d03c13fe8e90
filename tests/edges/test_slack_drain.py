"""Socket Mode connections that end well: SIGTERM drains before the socket closes, a dropped socket's envelopes sent again
are answered from what is stored, another team is refused, an answer owed at a crash goes out once, start-up errors
name what is wrong. Real slack_sdk and slack-bolt against the fake Slack's Socket Mode server; real `krbot run`s."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from sqlalchemy import select

from bot import services
from bot.app import App
from bot.config import Settings
from bot.platforms import slack
from bot.platforms.slack_client import ANSWER_EVENT
from storage.models import DeliveryRow
from tests.conftest import ROOT, sqlite_only
from tests.fakes.fake_slack import (
    BOT_TOKEN,
    FROZEN_AT,
    SIGNING_SECRET,
    TEAM_ID,
    FakeSlack,
    SlackSender,
    command_body,
    event_body,
)
from tests.fakes.served import free_port

CHEN = "U0CHEN0001"
CHEN_DM = "D0CHEN0001"
APP_TOKEN = "xapp-fake-app-token"
SAVED = "已保存KR2"  # the example workspace speaks Chinese: "saved KR2 …"



def wait_until(condition: Callable[[], Any], *, timeout: float = 20.0, what: str = "condition") -> Any:
    """Poll until `condition()` is truthy; its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def command_envelope(*, fake: FakeSlack, n: int, value: float, team: str = TEAM_ID) -> dict[str, Any]:
    """`/kr update KR2 value%` as Slack sends it over Socket Mode."""
    form = dict(parse_qsl(command_body(user_id=CHEN, text=f"update KR2 {value:.4f}%",
                                       response_url=fake.response_url(name=f"cmd-{n}"), trigger_id=f"t-drain-{n}")))
    form["team_id"] = team
    return {"envelope_id": f"env-cmd-{n}", "type": "slash_commands", "accepts_response_payload": True, "payload": form}


def dm_envelope(*, n: int, value: float) -> dict[str, Any]:
    """A check-in typed in the bot's DM, as an Events API envelope over Socket Mode."""
    event = {"type": "message", "channel_type": "im", "channel": CHEN_DM, "user": CHEN,
             "text": f"update KR2 {value:.4f}%", "ts": f"1790000001.{n:06d}"}
    return {"envelope_id": f"env-dm-{n}", "type": "events_api", "accepts_response_payload": False,
            "payload": json.loads(event_body(event=event, event_id=f"Ev0DRAIN{n:04d}"))}


def kr2_values(app: App, *, at: datetime) -> list[float]:
    """KR2's stored check-in values, as export shows them."""
    return [round(c["value"], 3) for c in services.export_all(uow=app.uow, at=at)["checkins"] if c["code"] == "KR2"]


def answer_rows(app: App) -> list[tuple[str, int]]:
    """(status, tries) of the ledger's answer rows."""
    with app.uow.begin() as session:
        return [(row.status, row.attempts) for row in session.scalars(select(DeliveryRow).where(DeliveryRow.kind == "answer"))]


@contextmanager
def socket_platform(app: App, fake: FakeSlack) -> Iterator[slack.SlackPlatform]:
    """The Slack platform in Socket Mode, in this process, connected to the fake."""
    settings = Settings(_env_file=None, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_APP_TOKEN=APP_TOKEN, SLACK_API_URL=fake.api_url)
    platform = slack.build(settings=settings, uow=app.uow, http=False, clock=lambda: FROZEN_AT)
    platform.start()
    try:
        fake.connected()
        yield platform
    finally:
        platform.stop()


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    started = FakeSlack().start()
    yield started
    started.stop()


# ---------------------------------------------------------------- in this process


def test_a_dropped_socket_then_the_envelopes_sent_again_are_answered_from_what_is_stored(
    example: App, fake: FakeSlack
) -> None:
    dms = [dm_envelope(n=n, value=1 + n / 1000) for n in range(10)]
    commands = [command_envelope(fake=fake, n=n, value=1.5 + n / 1000) for n in range(10)]
    with socket_platform(example, fake) as platform:
        for n, (dm, command) in enumerate(zip(dms, commands, strict=True)):
            fake.push(envelope=dm)
            fake.push(envelope=command)
            if n == 4:
                fake.drop()  # mid-burst: the acks under way lose their socket; the app connects again
                fake.connected(after=1)
        wait_until(lambda: platform._socket is not None and platform._socket.in_flight() == 0, what="the burst handled")
        for envelope in fake.unacked():  # what Slack saw no ack for, sent again (events say which try this is)
            fake.push(envelope={**envelope, "retry_attempt": 1, "retry_reason": "timeout"})
        wait_until(lambda: not fake.unacked(), what="every envelope acked")
        answers = wait_until(lambda: len(fake.posts(channel=CHEN_DM, event_type=ANSWER_EVENT)) >= len(dms) and
                             fake.posts(channel=CHEN_DM, event_type=ANSWER_EVENT), what="every DM answered")
    stored = kr2_values(example, at=FROZEN_AT)
    sent = sorted([*(1 + n / 1000 for n in range(10)), *(1.5 + n / 1000 for n in range(10))])
    assert sorted(stored) == [round(v, 3) for v in sent], "each check-in stored once"
    assert len(answers) == len(dms), "each DM answered once"
    for key, ack in fake.acks().items():
        if key.startswith("env-cmd-"):  # a command's ack carries its answer: saved, or already saved when sent again
            assert "KR2" in ack["payload"]["text"], ack


def test_a_goal_change_over_socket_mode_queues_its_notice_with_the_change_and_tells_the_owner_once(
    example: App, fake: FakeSlack
) -> None:
    envelope = command_envelope(fake=fake, n=1, value=0)
    envelope["payload"].update(user_id="U0LIN00001", text="change KR2 target=2.2% reason: 市场变化")
    with socket_platform(example, fake):
        fake.push(envelope=envelope)
        ack = wait_until(lambda: fake.acks().get("env-cmd-1"), what="the ack")
        assert "2.2%" in ack["payload"]["text"]
        wait_until(lambda: notice_rows(example) == [("sent", True)], what="the notice marked sent")
        fake.push(envelope={**envelope, "envelope_id": "env-cmd-again"})  # the same command delivered again
        wait_until(lambda: fake.acks().get("env-cmd-again"), what="the second ack")
    told = [c for c in fake.of("chat.postMessage") if c.args["channel"] == CHEN_DM]
    assert len(told) == 1 and "KR2" in told[0].args["text"], "the owner hears of the change once"
    assert len(services.export_all(uow=example.uow, at=FROZEN_AT)["changes"]) == 1


def notice_rows(app: App) -> list[tuple[str, bool]]:
    """(status, queued with what it sends) of the ledger's notice rows."""
    with app.uow.begin() as session:
        rows = session.scalars(select(DeliveryRow).where(DeliveryRow.kind == "notice"))
        return [(row.status, bool(row.payload and row.payload.get("text"))) for row in rows]


def test_a_command_from_another_team_over_socket_mode_is_refused_and_nothing_stored(example: App, fake: FakeSlack) -> None:
    with socket_platform(example, fake):
        fake.push(envelope=command_envelope(fake=fake, n=1, value=1.77, team="T0FOREIGN1"))
        ack = wait_until(lambda: fake.acks().get("env-cmd-1"), what="the refusal's ack")
    assert "payload" not in ack  # acked (Slack does not send it again), answered nothing
    assert kr2_values(example, at=FROZEN_AT) == []


def test_a_wrong_app_token_is_named_at_start(example: App, fake: FakeSlack) -> None:
    settings = Settings(_env_file=None, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_APP_TOKEN=BOT_TOKEN, SLACK_API_URL=fake.api_url)
    platform = slack.build(settings=settings, uow=example.uow, http=False)
    with pytest.raises(Exception) as refused:
        platform.start()
    assert getattr(refused.value, "key", None) == "slack.bad_app_token"
    assert not platform.healthy()


# ---------------------------------------------------------------- a real `krbot run`


def _env(fake: FakeSlack | None, **extra: str) -> dict[str, str]:
    base = {key: value for key, value in os.environ.items() if not key.startswith(("SLACK_", "FEISHU_", "KRBOT_"))}
    return {**base, "PYTHONPATH": str(ROOT), "KRBOT_LOG_LEVEL": "INFO", "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_APP_TOKEN": APP_TOKEN, **({"SLACK_API_URL": fake.api_url} if fake else {}), **extra}


def _krbot_run(*, db_url: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "bot", "run", "--db", db_url], cwd=log.parent, env=env,
                            stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)


def test_sigterm_during_a_burst_acks_every_stored_command_then_exits_0(
    example_now: App, db_url: str, fake: FakeSlack, tmp_path: Path
) -> None:
    log = tmp_path / "krbot.log"
    process = _krbot_run(db_url=db_url, env=_env(fake), log=log)
    try:
        fake.connected(timeout=60)
        values = {f"env-cmd-{n}": round(1 + n / 1000, 3) for n in range(50)}
        for n in range(40):
            fake.push(envelope=command_envelope(fake=fake, n=n, value=values[f"env-cmd-{n}"]))
        wait_until(lambda: fake.acks(), what="the first ack")
        os.killpg(process.pid, signal.SIGTERM)  # `docker stop`, with most of the burst in flight
        late = 0
        for n in range(40, 50):  # sent while krbot stops: refused, or never reaching it
            try:
                fake.push(envelope=command_envelope(fake=fake, n=n, value=values[f"env-cmd-{n}"]))
                late += 1
            except AssertionError:
                break
        assert process.wait(timeout=30) == 0, log.read_text()[-3000:]
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    stored = kr2_values(example_now, at=datetime.now(UTC))
    acks = fake.acks()
    texts = {key: (ack.get("payload") or {}).get("text", "") for key, ack in acks.items()}
    saved = sorted(values[key] for key, text in texts.items() if SAVED in text)
    refused = [key for key, text in texts.items() if "krbot 正在重启" in text]
    print(f"\n[{db_url.split(':')[0]}] SIGTERM mid-burst: stored={len(stored)} acked saved={len(saved)} "
          f"refused while stopping={len(refused)} sent after SIGTERM={late}")
    assert sorted(stored) == saved, "a stored check-in without its ack, or an ack without its check-in"
    assert set(values[f"env-cmd-{n}"] for n in range(40)) <= set(saved), "every command sent before SIGTERM answered"
    assert len(saved) + len(refused) == len(acks), texts
    assert "Traceback" not in log.read_text()


def test_an_answer_owed_at_sigkill_right_after_the_ack_is_sent_once_after_restart(
    example_now: App, db_url: str, fake: FakeSlack, tmp_path: Path
) -> None:
    log = tmp_path / "krbot.log"
    stored, release = fake.hold_after_storing(event_type=ANSWER_EVENT)  # the answer reaches Slack; its reply never does
    process = _krbot_run(db_url=db_url, env=_env(fake), log=log)
    try:
        fake.connected(timeout=60)
        fake.push(envelope=dm_envelope(n=1, value=1.234))
        wait_until(lambda: fake.acks().get("env-dm-1"), what="the ack")
        assert stored.wait(timeout=20)
        os.killpg(process.pid, signal.SIGKILL)  # after the ack, with the answer's send unmarked
        process.wait(timeout=10)
        release.set()
        opened = len(fake.of("apps.connections.open"))
        process = _krbot_run(db_url=db_url, env=_env(fake), log=log)
        fake.connected(timeout=60, after=opened)
        wait_until(lambda: answer_rows(example_now) == [("sent", 2)], timeout=60, what="the owed answer taken over")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    assert len(fake.posts(channel=CHEN_DM, event_type=ANSWER_EVENT)) == 1, "the answer is in the DM exactly once"
    assert kr2_values(example_now, at=datetime.now(UTC)) == [1.234]


def _start_fails(*, db_url: str, env: dict[str, str], tmp_path: Path, timeout: float) -> tuple[int, str, float]:
    log = tmp_path / "krbot.log"
    started = time.monotonic()
    process = _krbot_run(db_url=db_url, env=env, log=log)
    try:
        code = process.wait(timeout=timeout)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    return code, log.read_text(), time.monotonic() - started


def test_krbot_run_with_a_wrong_app_token_exits_2_naming_it(example: App, db_url: str, fake: FakeSlack,
                                                            tmp_path: Path) -> None:
    code, output, _ = _start_fails(db_url=db_url, env=_env(fake, SLACK_APP_TOKEN="xoxb-not-an-app-token"),
                                   tmp_path=tmp_path, timeout=60)
    assert code == 2, output
    assert "SLACK_APP_TOKEN" in output and "not_allowed_token_type" in output
    assert "Traceback" not in output


@sqlite_only  # 30 s of retries against a closed port: the database plays no part
def test_krbot_run_with_slack_unreachable_tries_again_then_exits_2_saying_so(example: App, db_url: str,
                                                                             tmp_path: Path) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}/api/"
    code, output, took = _start_fails(db_url=db_url, env=_env(None, SLACK_API_URL=nowhere), tmp_path=tmp_path,
                                      timeout=120)
    assert code == 2, output
    assert "SLACK_API_URL" in output and nowhere in output
    assert "Traceback" not in output
    assert output.count("slack unreachable (try") >= 3 and took >= 25  # backed off over about 30 seconds


def test_the_drain_waits_for_follow_ups_under_way(example: App, fake: FakeSlack) -> None:
    with socket_platform(example, fake) as platform:
        gate = threading.Event()
        platform._submit(gate.wait, 5)
        assert not platform.drain(timeout=0.2)
        gate.set()
        assert platform.drain(timeout=5)


def test_sigterm_in_http_mode_answers_the_requests_under_way_then_exits_0(
    example_now: App, db_url: str, fake: FakeSlack, tmp_path: Path
) -> None:
    port = free_port()
    env = _env(fake, SLACK_SIGNING_SECRET=SIGNING_SECRET)
    env.pop("SLACK_APP_TOKEN")
    log = tmp_path / "krbot.log"
    process = subprocess.Popen([sys.executable, "-m", "bot", "run", "--http", "--port", str(port), "--db", db_url],
                               cwd=tmp_path, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
                               start_new_session=True)
    answers: dict[float, str] = {}
    lock = threading.Lock()

    def send(values: list[float]) -> None:
        with httpx.Client(timeout=10) as client:
            sender = SlackSender(url=f"http://127.0.0.1:{port}", client=client)
            for value in values:
                try:
                    answer = sender.command(user_id=CHEN, text=f"update KR2 {value:.4f}%", trigger_id=f"t-h-{value}",
                                            response_url=fake.response_url(name="http"))
                    text = answer.json().get("text", "") if answer.status_code == 200 else str(answer.status_code)
                except httpx.HTTPError:
                    text = "unanswered"  # krbot had stopped taking connections: nothing reached it
                with lock:
                    answers[value] = text

    try:
        wait_until(lambda: _answers_health(port), timeout=60, what="krbot serving")
        values = [round(1 + n / 1000, 3) for n in range(40)]
        threads = [threading.Thread(target=send, args=(values[n::4],)) for n in range(4)]
        for thread in threads:
            thread.start()
        wait_until(lambda: len(answers) >= 5, what="the first answers")
        os.killpg(process.pid, signal.SIGTERM)
        for thread in threads:
            thread.join(timeout=60)
        assert process.wait(timeout=30) == 0, log.read_text()[-3000:]
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    saved = sorted(value for value, text in answers.items() if SAVED in text)
    assert sorted(kr2_values(example_now, at=datetime.now(UTC))) == saved, answers
    assert all(SAVED in text or text == "unanswered" for text in answers.values()), answers
    assert "Traceback" not in log.read_text()


def _answers_health(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code in (200, 503)
    except httpx.HTTPError:
        return False
