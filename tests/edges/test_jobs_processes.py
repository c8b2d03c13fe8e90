"""`krbot run` with a data source that trickles for ever: the reminder still goes out on time and /healthz stays 200
(issue #20, "Jobs that cannot hold each other"). A real `python -m bot run --http` against the fake Slack."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from bot import services
from bot.app import App
from tests.conftest import ROOT
from tests.fakes.fake_slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack
from tests.fakes.served import free_port
from tests.fakes.trickle import Trickle, trickling_okrs

METRICS_TOKEN = "jobs-metrics-token"
ON_TIME = 60.0  # seconds after its slot a reminder must be out (CONTRACT §8: "within a minute")
OWNERS = {"U0ANA00001", "U0BEN00001", "U0LEAD0001"}  # the KR owners, and the objective's owner (its headline)


class HealthWatch:
    """Polls /healthz in a thread until stopped; every status seen (after the first 200), with the details."""

    def __init__(self, *, url: str) -> None:
        self.url = url
        self.seen: list[tuple[float, int, dict]] = []
        self.up = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.wait(0.5):
            try:
                answer = httpx.get(self.url, headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=5)
            except httpx.HTTPError:
                if self.up.is_set():
                    self.seen.append((time.time(), 0, {}))
                continue
            if answer.status_code == 200:
                self.up.set()
            if self.up.is_set():
                self.seen.append((time.time(), answer.status_code, answer.json()))

    def __enter__(self) -> HealthWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def _reminders(fake: FakeSlack) -> dict[str, float]:
    """Each user a DM was opened to and then posted in, with when (epoch seconds) the post came."""
    epoch = time.time() - time.monotonic()  # the fake stamps calls with this process's monotonic clock
    opened = {call.args.get("users"): call.at for call in fake.of("conversations.open")}
    posts = [call.at for call in fake.of("chat.postMessage")]
    return {user: epoch + min(at for at in posts if at >= since) for user, since in opened.items()
            if any(at >= since for at in posts)}


def _clear_of_the_week_turn() -> None:
    """Wait out the ten minutes before Monday 00:00 UTC (a few minutes a week): the first import's reminder, already
    missed for the week before, must not share the ISO week of the slot the second import sets."""
    now = datetime.now(UTC)
    turn = datetime.combine(now.date() + timedelta(days=7 - now.weekday()), datetime.min.time(), tzinfo=UTC)
    if turn - now < timedelta(minutes=10):
        time.sleep((turn - now).total_seconds() + 1)


def test_a_source_trickling_for_ever_holds_neither_the_reminder_nor_healthz(
    app: App, db_url: str, tmp_path: Path
) -> None:
    """The sync job hangs on a source that sends a byte every 2 s and never ends (no per-read timeout fires); a
    reminder falling due while it hangs still goes out within a minute of its slot, and /healthz answers 200
    throughout. The slot is set once the sync is seen hanging (a second import, as an operator would change the
    reminder time), so the test waits for the next whole minute, not for a minute past a guessed start-up."""
    _clear_of_the_week_turn()
    now = datetime.now(UTC)
    later_today = now + timedelta(minutes=10)  # last week's slot is missed (past the grace); this week's is still ahead
    fake = FakeSlack().start()
    port = free_port()
    log = (tmp_path / "krbot.log").open("wb")
    with Trickle(every=2.0) as trickle:
        def okrs(*, reminder_at: datetime) -> None:
            services.import_okrs(uow=app.uow, filename="trickle.yaml", at=datetime.now(UTC), text=trickling_okrs(
                url=trickle.url, reminder_at=reminder_at, sync_at=now, today=now.date()))

        okrs(reminder_at=later_today)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "FEISHU_", "KRBOT_"))},
            "PYTHONPATH": str(ROOT), "KRBOT_LOG_LEVEL": "INFO", "KRBOT_METRICS_TOKEN": METRICS_TOKEN,
            "KRBOT_OUTBOUND_ALLOW": "127.0.0.1",  # the outbound guard refuses loopback otherwise
            "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_API_URL": fake.api_url,
        }
        server = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--http", "--port", str(port), "--db", db_url],
            cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        try:
            with HealthWatch(url=f"http://127.0.0.1:{port}/healthz") as health:
                assert health.up.wait(60), (tmp_path / "krbot.log").read_text()[-3000:]
                assert trickle.wait_for(1, timeout=30), "the sync never reached the trickling source"
                slot = (datetime.now(UTC) + timedelta(seconds=62)).replace(second=0, microsecond=0)
                assert slot < later_today, "krbot took minutes to start: the first reminder would fall due first"
                okrs(reminder_at=slot)  # due at the next whole minute, while the sync hangs
                deadline = slot.timestamp() + ON_TIME + 30  # a little past the promise: a late one is seen, not hung on
                while not OWNERS <= set(_reminders(fake)) and time.time() < deadline and server.poll() is None:
                    time.sleep(0.2)
                sent = _reminders(fake)
                more, settle = len(health.seen) + 5, time.time() + 30  # five more answers after the reminders: 200
                while len(health.seen) < more and time.time() < settle:
                    time.sleep(0.2)
                assert len(health.seen) >= more, "/healthz stopped answering after the reminders"
            printed = (tmp_path / "krbot.log").read_text()
            assert server.poll() is None, printed[-3000:]
            assert OWNERS <= set(sent), (sent, printed[-3000:])
            late = {user: at - slot.timestamp() for user, at in sent.items()}
            assert all(0 <= seconds <= ON_TIME for seconds in late.values()), late
            statuses = [status for _, status, _ in health.seen]
            assert statuses and set(statuses) == {200}, [(s, d) for _, s, d in health.seen if s != 200][:3]
            assert all(details["scheduler"] for _, _, details in health.seen)
            assert trickle.requests >= 1 and trickle.stopped.is_set() is False  # still trickling: nothing ended it
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
            fake.stop()
            log.close()
