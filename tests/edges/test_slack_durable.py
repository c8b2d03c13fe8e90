"""Nothing acknowledged is lost: every krbot process SIGKILLed at random moments of a burst, restarted, every answered check-in found.

A real `python -m bot run --http` (Slack and Feishu both on) against the fake Slack and Feishu servers; signed `/kr update`s
and sealed Feishu messages from several threads; a killer that SIGKILLs the whole process group and starts it again.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from bot import services
from bot.app import App
from tests.conftest import ROOT
from tests.fakes import fake_feishu as ff
from tests.fakes.fake_slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack, SlackSender
from tests.fakes.served import free_port

SLACK_CHEN, FEISHU_CHEN = "U0CHEN0001", "ou_chen0001"
PER_SURFACE = 120  # check-ins sent on each surface
SENDERS = 4  # threads per surface
KILLS = 4  # SIGKILLs of every krbot process during the burst


@pytest.fixture
def example(example_now: App) -> App:
    """The example moved to the current quarter: krbot stamps check-ins with the real clock."""
    return example_now


@dataclass
class Server:
    """`python -m bot run --http` in its own process group, restartable."""

    db_url: str
    port: int
    env: dict[str, str]
    workdir: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    up: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the server and wait until it answers /healthz."""
        log = (self.workdir / f"server-{self.starts}.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--http", "--port", str(self.port), "--db", self.db_url],
            cwd=self.workdir, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.starts += 1
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(self.url + "/healthz", timeout=1)
                self.up.set()
                return
            except httpx.HTTPError:
                assert self.process.poll() is None, (self.workdir / f"server-{self.starts - 1}.log").read_text()[-3000:]
                time.sleep(0.05)
        raise AssertionError("krbot did not start")

    def kill(self) -> None:
        """SIGKILL every process of the server's group, as a container dies."""
        assert self.process is not None
        self.up.clear()
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM, as `docker stop` does; SIGKILL when it does not end."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()


@contextmanager
def krbot_server(*, db_url: str, tmp_path: Path) -> Iterator[tuple[Server, FakeSlack, ff.FakeFeishu]]:
    """The fake Slack and Feishu, and krbot serving both over HTTP on the test's database."""
    slack_fake = FakeSlack().start()
    feishu_fake = ff.FakeFeishu()
    feishu_fake.start()
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith(("SLACK_", "FEISHU_", "KRBOT_"))},
        "PYTHONPATH": str(ROOT), "KRBOT_LOG_LEVEL": "WARNING",
        "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_API_URL": slack_fake.api_url,
        "FEISHU_APP_ID": ff.APP_ID, "FEISHU_APP_SECRET": ff.APP_SECRET, "FEISHU_ENCRYPT_KEY": ff.ENCRYPT_KEY,
        "FEISHU_VERIFICATION_TOKEN": ff.VERIFICATION_TOKEN, "FEISHU_DOMAIN": feishu_fake._served.url,
    }
    server = Server(db_url=db_url, port=free_port(), env=env, workdir=tmp_path)
    server.start()
    try:
        yield server, slack_fake, feishu_fake
    finally:
        server.stop()
        slack_fake.stop()
        feishu_fake.stop()


@dataclass
class Burst:
    """What the senders saw: the values acknowledged as saved, and how many requests went unanswered."""

    acked: set[float] = field(default_factory=set)
    refused: int = 0
    unanswered: int = 0
    texts: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self) -> int:
        """How many requests were sent and seen through (answered or not)."""
        with self.lock:
            return len(self.acked) + self.refused + self.unanswered

    def saw(self, *, value: float, saved: bool | None) -> None:
        with self.lock:
            if saved is None:
                self.unanswered += 1
            elif saved:
                self.acked.add(value)
            else:
                self.refused += 1


def _slack_sender(server: Server, burst: Burst, values: list[float]) -> Callable[[], None]:
    def send() -> None:
        with httpx.Client(timeout=10) as client:
            slack = SlackSender(url=server.url, client=client)
            for value in values:
                try:
                    answer = slack.command(user_id=SLACK_CHEN, text=f"update KR2 {value:.4f}%",
                                           response_url="http://127.0.0.1:9/none", trigger_id=f"t-{value:.3f}")
                except httpx.HTTPError:
                    burst.saw(value=value, saved=None)  # never answered: Slack would show the user an error
                    server.up.wait(timeout=60)  # the user tries again later, with a new command
                    continue
                text = answer.json().get("text", "") if answer.status_code == 200 and answer.content else ""
                saved = "已保存KR2" in text if answer.status_code == 200 else None  # "saved", with the value as understood
                if saved is False:
                    burst.texts.append(f"{answer.status_code} {answer.content[:300]!r}")
                burst.saw(value=value, saved=saved)
    return send


def _feishu_sender(server: Server, burst: Burst, values: list[float]) -> Callable[[], None]:
    def send() -> None:
        with httpx.Client(timeout=10) as client:
            for value in values:
                event = ff.message_event(text=f"/kr update KR2 {value:.4f}%", open_id=FEISHU_CHEN,
                                         event_id=f"ev-{value:.3f}", message_id=f"om-{value:.3f}")
                body, headers = ff.signed_push(payload=event)
                try:
                    answer = client.post(server.url + "/feishu/events", content=body, headers=headers)
                except httpx.HTTPError:
                    burst.saw(value=value, saved=None)  # Feishu would push it again; the test sends the next one
                    server.up.wait(timeout=60)
                    continue
                burst.saw(value=value, saved=True if answer.status_code == 200 else None)  # 200 = acknowledged
    return send


def _run_burst(
    server: Server, *, make: list[Callable[[], None]], kills: int, seed: int, seen: Callable[[], int], total: int
) -> int:
    """Run the senders while a killer SIGKILLs the server `kills` times at random moments of the burst (after a random
    share of its `total` requests were `seen` — however fast the server answers), restarting it each time."""
    threads = [threading.Thread(target=send) for send in make]
    for thread in threads:
        thread.start()
    rng = random.Random(seed)
    step = total / (kills + 1)
    moments = [round(step * (n + 1) + rng.uniform(-step / 3, step / 3)) for n in range(kills)]
    done = 0
    while done < kills and any(thread.is_alive() for thread in threads):
        if seen() < moments[done]:
            time.sleep(0.005)
            continue
        server.kill()
        done += 1
        server.start()
    for thread in threads:
        thread.join(timeout=300)
    return done


def test_every_acknowledged_checkin_survives_sigkill_of_every_krbot_process(example: App, db_url: str, tmp_path: Path) -> None:
    slack_values = [round(1 + n / 1000, 3) for n in range(PER_SURFACE)]
    feishu_values = [round(1.2 + n / 1000, 3) for n in range(PER_SURFACE)]
    slack_burst, feishu_burst = Burst(), Burst()
    with krbot_server(db_url=db_url, tmp_path=tmp_path) as (server, _slack, _feishu):
        senders = [
            *(_slack_sender(server, slack_burst, slack_values[n::SENDERS]) for n in range(SENDERS)),
            *(_feishu_sender(server, feishu_burst, feishu_values[n::SENDERS]) for n in range(SENDERS)),
        ]
        kills = _run_burst(server, make=senders, kills=KILLS, seed=len(db_url), total=2 * PER_SURFACE,
                           seen=lambda: slack_burst.count() + feishu_burst.count())
    stored = [c for c in services.export_all(uow=example.uow, at=datetime.now(UTC))["checkins"] if c["code"] == "KR2"]
    values = [round(c["value"], 3) for c in stored]
    print(  # the figures for the closing note (pytest -s)
        f"\n[{db_url.split(':')[0]}] kills={kills} "
        f"slack: acked={len(slack_burst.acked)} unanswered={slack_burst.unanswered} refused={slack_burst.refused}; "
        f"feishu: acked={len(feishu_burst.acked)} unanswered={feishu_burst.unanswered}; stored={len(values)}"
    )
    assert kills == KILLS
    assert slack_burst.refused == 0, slack_burst.texts
    assert slack_burst.acked and feishu_burst.acked
    lost = sorted((slack_burst.acked | feishu_burst.acked) - set(values))
    assert lost == [], f"acknowledged but not stored: {lost}"
    assert len(values) == len(set(values)), "a check-in stored twice"
