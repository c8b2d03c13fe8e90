"""Jobs that cannot hold each other, in one process: the pull before a reminder is waited for a short while only,
and the timer names a job past its deadline while it keeps ticking and starting the others."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bot import services
from bot.app import App
from bot.jobs.registry import DEADLINES
from bot.platforms.console import ConsolePlatform
from bot.scheduler import Runner
from bot.timer import Scheduler
from tests.fakes.synced import FAST
from tests.fakes.trickle import Trickle, trickling_okrs

NOW = datetime(2026, 10, 19, 7, 31, 0, tzinfo=UTC)  # a Monday
SLOT = NOW.replace(second=0) + timedelta(minutes=1)


@pytest.fixture
def trickle(app: App) -> Iterator[Trickle]:
    """A source sending a byte every second for ever, measured by ana's KR1; the sync due at NOW, the reminder at
    SLOT."""
    with Trickle(every=1.0) as source:
        services.import_okrs(uow=app.uow, filename="trickle.yaml", at=NOW - timedelta(days=1),
                             text=trickling_okrs(url=source.url, reminder_at=SLOT, sync_at=NOW, today=NOW.date()))
        yield source


def test_the_reminder_waits_for_its_pull_a_short_while_then_goes_out_with_what_it_has(app: App, trickle: Trickle) -> None:
    out = io.StringIO()
    runner = Runner(uow=app.uow, platforms=[ConsolePlatform(uow=app.uow, stdout=out)], policy=FAST, presync=1.0)
    began = time.monotonic()
    outcome = runner.run(job="reminders", now=SLOT + timedelta(seconds=5))
    took = time.monotonic() - began
    assert trickle.requests == 1  # the pull began, and hangs on
    assert outcome.counts["pull late"] == 1 and outcome.counts["sent"] == 3, outcome.counts
    assert took < 10, took
    assert "→ Ana" in out.getvalue() and "KR1" in out.getvalue()


def test_the_timer_names_an_overdue_job_and_keeps_ticking_the_others(app: App, trickle: Trickle) -> None:
    """The sync hangs past its (shortened) deadline: `jobs()` names it, `ticking()` stays true, the next tick starts
    every other job again but not a second sync."""
    out = io.StringIO()
    timer = Scheduler(uow=app.uow, platforms=[ConsolePlatform(uow=app.uow, stdout=out)], policy=FAST,
                      clock=lambda: NOW, deadlines={**DEADLINES, "sync": timedelta(seconds=1)})
    timer.start()
    try:
        assert trickle.wait_for(1, timeout=20), "the sync never reached the source"
        end = time.monotonic() + 20
        while "sync" not in timer.jobs() and time.monotonic() < end:
            time.sleep(0.05)
        assert timer.jobs()["sync"].startswith("overdue since ") and "(Trickle Test)" in timer.jobs()["sync"]
        assert timer.ticking()
        started = timer.tick()
        assert ("reminders", "Trickle Test") in started and ("webhooks", "Trickle Test") in started
        assert ("sync", "Trickle Test") not in started and trickle.requests == 1
        assert timer.ticking()
    finally:
        timer.stop()
    assert not timer.ticking()
