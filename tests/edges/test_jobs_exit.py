"""A short command's webhooks: `krbot jobs run sync` with webhooks configured sends the delivery its sync queued before
it exits (or, to a receiver that never answers, leaves it owed within seconds), and prints no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot import services
from bot.app import App
from tests.conftest import ROOT, SOURCE_ENVS
from tests.fakes.sources import HEADERS, JsonSource
from tests.fakes.trickle import Trickle, trickling_okrs
from tests.fakes.webhook_receiver import SECRET, Receiver, quiet, webhook_rows

HOOK_SECRET = "HOOK_SECRET"  # a name the suite allows in KRBOT_SOURCE_ENVS (tests/conftest.py)
EXIT_WITHIN = 30.0  # seconds: the command's own work, then a few seconds for its drains at most


def _sync(*, app: App, db_url: str, tmp_path: Path, source: str, hook: str,
          command: tuple[str, ...] = ("jobs", "run", "sync")) -> tuple[subprocess.CompletedProcess, float]:
    """Import a file whose KR pulls `source` and whose webhook goes to `hook`, then run `krbot jobs run sync` (or
    another command)."""
    now = datetime.now(UTC)
    services.import_okrs(uow=quiet(app).uow, filename="hooked.yaml", at=now - timedelta(days=1), text=trickling_okrs(
        url=source, reminder_at=now + timedelta(hours=3), sync_at=now, today=now.date(), headers_env="SHOP_HEADERS",
        webhooks=((hook, HOOK_SECRET), (hook + "?copy=2", HOOK_SECRET))))  # two deliveries: a drain on threads
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "FEISHU_", "KRBOT_"))},
        "PYTHONPATH": str(ROOT), "SHOP_HEADERS": HEADERS, HOOK_SECRET: SECRET,
        "KRBOT_OUTBOUND_ALLOW": "127.0.0.1", "KRBOT_SOURCE_ENVS": SOURCE_ENVS,
    }
    began = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "bot", *command, "--db", db_url], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    return done, time.monotonic() - began


@pytest.fixture
def source() -> JsonSource:
    with JsonSource(document={"v": 420}) as served:
        yield served


def test_jobs_run_sync_sends_its_webhook_before_it_exits_without_a_traceback(
    app: App, db_url: str, tmp_path: Path, source: JsonSource
) -> None:
    receiver = Receiver().start()
    try:
        done, _ = _sync(app=app, db_url=db_url, tmp_path=tmp_path, source=source.url, hook=receiver.url)
        said = done.stdout + done.stderr
        assert done.returncode == 0, said
        assert "sync: 1 pulled, 0 failed" in done.stdout, said
        assert "Traceback" not in said and "cannot schedule new futures" not in said, said
        assert [body["event"] for body in receiver.delivered()] == ["checkin.saved"] * 2, said  # out before the exit
        assert [row.status for row in webhook_rows(app)] == ["sent"] * 2
    finally:
        receiver.stop()


def test_a_receiver_that_never_answers_leaves_the_delivery_owed_and_the_command_exits(
    app: App, db_url: str, tmp_path: Path, source: JsonSource
) -> None:
    with Trickle(every=1.0) as receiver:
        done, took = _sync(app=app, db_url=db_url, tmp_path=tmp_path, source=source.url, hook=receiver.url)
        said = done.stdout + done.stderr
        assert receiver.requests == 2, said  # the drain began, and the receiver held both
    assert done.returncode == 0, said
    assert took < EXIT_WITHIN, (took, said)
    assert "Traceback" not in said and "cannot schedule new futures" not in said, said
    assert {row.status for row in webhook_rows(app)} <= {"claimed", "queued"}  # owed: the webhooks job sends them


def test_a_checkin_to_a_receiver_that_never_answers_exits_within_seconds(
    app: App, db_url: str, tmp_path: Path, source: JsonSource
) -> None:
    """`krbot checkin` waits for its drains only at the exit (no command of its own asks): the same bound holds."""
    with Trickle(every=1.0) as receiver:
        done, took = _sync(app=app, db_url=db_url, tmp_path=tmp_path, source=source.url, hook=receiver.url,
                           command=("checkin", "KR2", "90", "--as", "ben"))
        said = done.stdout + done.stderr
        assert receiver.requests == 2, said
    assert done.returncode == 0 and took < EXIT_WITHIN, (took, said)
    assert "Traceback" not in said and "cannot schedule new futures" not in said, said
    assert {row.status for row in webhook_rows(app)} <= {"claimed", "queued"}
