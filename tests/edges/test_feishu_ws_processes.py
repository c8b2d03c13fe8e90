"""`krbot run` on Feishu's long connection as an operator meets it: a wrong secret at start, SIGTERM, SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import App
from storage.models import CheckinRow, DeliveryRow
from tests.conftest import ROOT
from tests.edges import test_feishu_ws
from tests.edges.test_feishu import replies_to, text_of
from tests.edges.test_feishu_ws import message
from tests.fakes import fake_feishu as ff
from tests.fakes.okr_helpers import count


@pytest.fixture
def example(example_now: App) -> App:
    """The example moved to the current quarter: krbot stamps check-ins with the real clock."""
    return example_now

open_api, fake = test_feishu_ws.open_api, test_feishu_ws.fake  # the fake Open API and long-connection endpoint


def krbot_env(*, fake: ff.FakeFeishu, secret: str = ff.APP_SECRET) -> dict[str, str]:
    """The environment of a `krbot run` on the long connection of the fake Feishu."""
    return {
        **{key: value for key, value in os.environ.items() if not key.startswith(("SLACK_", "FEISHU_", "KRBOT_"))},
        "PYTHONPATH": str(ROOT), "KRBOT_LOG_LEVEL": "INFO",
        "FEISHU_APP_ID": ff.APP_ID, "FEISHU_APP_SECRET": secret, "FEISHU_DOMAIN": fake._served.url,
    }


class Krbot:
    """`python -m bot run` (long connection, no --http) in its own process group, restartable."""

    def __init__(self, *, db_url: str, fake: ff.FakeFeishu, workdir: Path) -> None:
        self.db_url, self.fake, self.workdir = db_url, fake, workdir
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        """Start krbot and wait until it holds a long connection."""
        before = self.fake.long.connections()
        log = (self.workdir / f"krbot-{self.starts}.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--db", self.db_url], cwd=self.workdir, env=krbot_env(fake=self.fake),
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.starts += 1
        deadline = time.monotonic() + 60
        while self.fake.long.connections() <= before:
            assert self.process.poll() is None, self.log()
            assert time.monotonic() < deadline, "krbot never opened the long connection"
            time.sleep(0.05)

    def log(self) -> str:
        return (self.workdir / f"krbot-{self.starts - 1}.log").read_text(errors="replace")[-4000:]

    def signal(self, number: int) -> int:
        """Send a signal to the whole group, as `docker stop` (SIGTERM) or a dying container (SIGKILL); its exit."""
        assert self.process is not None
        os.killpg(self.process.pid, number)
        return self.process.wait(timeout=30)


@pytest.fixture
def krbot(example: App, db_url: str, fake: ff.FakeFeishu, tmp_path: Path) -> Iterator[Krbot]:
    runner = Krbot(db_url=db_url, fake=fake, workdir=tmp_path)
    yield runner
    fake.stall_replies = None
    if runner.process is not None and runner.process.poll() is None:
        runner.signal(signal.SIGKILL)


def replies(app: App) -> list[Any]:
    with app.uow.begin() as session:
        return list(session.scalars(select(DeliveryRow).where(DeliveryRow.kind == "reply")))


def test_a_wrong_secret_ends_krbot_run_with_exit_2_naming_the_variable(
    example: App, db_url: str, fake: ff.FakeFeishu, tmp_path: Path
) -> None:
    """No traceback, no running on unconnected: one sentence naming FEISHU_APP_SECRET and Feishu's own words."""
    done = subprocess.run([sys.executable, "-m", "bot", "run", "--db", db_url], cwd=tmp_path, capture_output=True,
                          text=True, env=krbot_env(fake=fake, secret="not-the-secret"), timeout=60)
    assert done.returncode == 2, done.stderr
    assert "FEISHU_APP_SECRET" in done.stderr and "10014" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_sigterm_during_a_burst_answers_every_stored_checkin_on_its_frame(
    krbot: Krbot, example: App, fake: ff.FakeFeishu
) -> None:
    """`docker stop` in the middle of 40 check-ins: krbot exits 0, and every one it stored was answered and replied."""
    krbot.start()
    warm = fake.long.push(message("/kr update KR4 70%", n="warm"))  # krbot is up: its scheduler started, it answers
    assert fake.long.answer_to(warm)["code"] == 200
    fake.wait_for(lambda: replies_to(fake, "om_ws_warm"))  # its reply sent too: nothing of it in flight
    values = {round(1.0 + n / 100, 2): f"term{n}" for n in range(40)}
    frames: dict[float, str] = {}
    for n, (value, tag) in enumerate(values.items()):
        frames[value] = fake.long.push(message(f"/kr update KR2 {value}%", n=tag))
        if n == 20:
            os.killpg(krbot.process.pid, signal.SIGTERM)  # type: ignore[union-attr]
            break
    assert krbot.process.wait(timeout=30) == 0, krbot.log()  # type: ignore[union-attr]
    stored = {c["value"] for c in test_feishu_ws.checkins(example) if c["code"] == "KR2"}
    answered = {value for value, frame in frames.items() if (fake.long.answered(frame) or {}).get("code") == 200}
    assert stored and stored == answered, krbot.log()
    assert all(replies_to(fake, f"om_ws_{values[value]}") for value in stored)
    assert {row.status for row in replies(example)} == {"sent"}


@pytest.mark.parametrize("cut", ["before", "after"])
def test_a_reply_cut_off_by_sigkill_is_sent_once_after_the_restart(
    krbot: Krbot, example: App, fake: ff.FakeFeishu, cut: str
) -> None:
    """The check-in is stored and its frame answered; krbot dies while its reply is on the way ("before" Feishu kept
    it, or "after"): the next start sends it, and the user sees it exactly once."""
    krbot.start()
    fake.stall_replies = cut
    frame = fake.long.push(message("/kr update KR2 1.8%", n=f"kill-{cut}"))
    assert fake.long.answer_to(frame)["code"] == 200
    fake.wait_for(lambda: any(c.get("path", "").endswith("/om_ws_kill-" + cut + "/reply") for c in fake.calls))
    krbot.signal(signal.SIGKILL)
    assert count(example, CheckinRow) == 1
    assert [row.status for row in replies(example)] == ["claimed"]
    fake.stall_replies = None
    krbot.start()
    fake.wait_for(lambda: [row.status for row in replies(example)] == ["sent"], timeout=30)
    assert krbot.signal(signal.SIGTERM) == 0  # stopped after its drain: every send it started has ended
    sent = replies_to(fake, f"om_ws_kill-{cut}")
    assert len(sent) == 1 and "已保存KR2" in text_of(sent[0]), krbot.log()


def test_sigkill_during_a_burst_loses_no_reply_and_doubles_none(krbot: Krbot, example: App, fake: ff.FakeFeishu) -> None:
    """40 check-ins, krbot killed while storing and replying: after the restart every stored check-in has exactly one
    reply, and every frame answered 200 was stored (the others Feishu pushes again)."""
    krbot.start()
    values = {round(1.0 + n / 100, 2): f"kill{n}" for n in range(40)}
    frames = {value: fake.long.push(message(f"/kr update KR2 {value}%", n=tag)) for value, tag in values.items()}
    fake.wait_for(lambda: count(example, CheckinRow) >= 15, timeout=30)
    krbot.signal(signal.SIGKILL)
    stored = {c["value"] for c in test_feishu_ws.checkins(example)}
    answered = {value for value, frame in frames.items() if (fake.long.answered(frame) or {}).get("code") == 200}
    assert answered <= stored
    krbot.start()
    fake.wait_for(lambda: {row.status for row in replies(example)} == {"sent"}, timeout=30)
    assert krbot.signal(signal.SIGTERM) == 0  # stopped after its drain: every send it started has ended
    counts = {value: len(replies_to(fake, f"om_ws_{values[value]}")) for value in stored}
    print(f"SIGKILL trial: {len(stored)} stored, {len(answered)} answered, "
          f"{sum(1 for n in counts.values() if n == 0)} without reply, {sum(1 for n in counts.values() if n > 1)} doubled")
    assert set(counts.values()) == {1}, krbot.log()
