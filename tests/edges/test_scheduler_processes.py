"""Real processes on one database: racing replicas send each message once; a kill -9 after claiming loses nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from bot import services
from bot.app import App
from bot.scheduler import Runner
from storage.models import DeliveryRow
from tests.fakes.fake_platform import Behaviour, FakePlatformServer, HttpTestPlatform, owners_yaml

RUNNER = Path(__file__).resolve().parents[1] / "fakes" / "scheduler_runner.py"
MONDAY = datetime(2026, 10, 5, 9, 30, tzinfo=UTC)


def _spawn(db_url: str, url: str, now: datetime, *jobs: str, start_at: float = 0.0) -> subprocess.Popen[str]:
    args = [sys.executable, str(RUNNER), "--db", db_url, "--url", url, "--now", now.isoformat(),
            "--start-at", str(start_at)]
    for job in jobs:
        args += ["--job", job]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=RUNNER.parents[2])


def _result(process: subprocess.Popen[str]) -> dict[str, int]:
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def _ledger(app: App) -> list[DeliveryRow]:
    with app.uow.begin() as session:
        return list(session.scalars(select(DeliveryRow).order_by(DeliveryRow.id)))


def test_two_processes_race_and_each_message_goes_out_once(app: App, db_url: str) -> None:
    """Two replicas start the same second on the same due work: 40 reminders and 1 digest, each delivered once."""
    services.import_okrs(uow=app.uow, text=owners_yaml(owners=40, zones=("UTC",)), filename="t.yaml",
                         at=MONDAY - timedelta(days=7))
    with FakePlatformServer(behaviour=Behaviour(latency=0.005)) as server:
        start = time.time() + 2.0
        racers = [_spawn(db_url, server.url, MONDAY, "tick", "digest", start_at=start) for _ in range(2)]
        results = [_result(process) for process in racers]
        assert server.stats.duplicates == 0
        assert set(server.stats.delivered.values()) == {1}
        assert server.kinds()["reminder"] == 40 and server.kinds()["digest"] == 1
    assert sum(result.get("sent", 0) for result in results) == 41
    assert sum(result.get("busy", 0) + result.get("already", 0) for result in results) == 41
    sent = [row for row in _ledger(app) if row.status == "sent"]
    assert len(sent) == 41 and len({row.message_id for row in sent}) == 41


def test_kill_9_between_claim_and_send_sends_once_after_the_lease(app: App, db_url: str) -> None:
    """A process killed while its sends hang leaves claims; a restart inside the lease waits, after it sends once."""
    services.import_okrs(uow=app.uow, text=owners_yaml(owners=3, zones=("UTC",)), filename="t.yaml",
                         at=MONDAY - timedelta(days=7))
    hold = threading.Event()
    behaviour = Behaviour(hold=hold)
    with FakePlatformServer(behaviour=behaviour) as server:
        victim = _spawn(db_url, server.url, MONDAY, "reminders")
        deadline = time.time() + 60
        while server.stats.arrived < 3 and time.time() < deadline:
            time.sleep(0.05)
        assert server.stats.arrived == 3, "the victim never reached the platform"
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=10)
        behaviour.hold = None
        hold.set()
        claimed = _ledger(app)
        assert [(row.status, row.attempts) for row in claimed] == [("claimed", 1)] * 3
        other = Runner(uow=app.uow, platforms=[HttpTestPlatform(url=server.url)])  # a live replica, within the lease
        assert other.run(job="reminders", now=MONDAY + timedelta(minutes=5), force=True).counts["already"] == 3
        late = _result(_spawn(db_url, server.url, MONDAY + timedelta(minutes=11), "reminders"))  # the restart
        assert late.get("sent") == 3
        assert other.run(job="reminders", now=MONDAY + timedelta(minutes=12), force=True).counts["sent"] == 0
        assert server.kinds()["reminder"] == 3 and set(server.stats.delivered.values()) == {1}
    rows = _ledger(app)
    assert [(row.status, row.attempts) for row in rows] == [("sent", 2)] * 3
    assert len({row.claimed_by for row in rows}) == 1 and rows[0].claimed_by != claimed[0].claimed_by
