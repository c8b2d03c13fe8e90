"""The in-memory timer of `krbot run`: APScheduler ticks the Runner every minute; the schedule itself lives in the
database, so any number of processes may tick (the ledger sends each message once)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.owed import Outcome
from bot.retrying import RetryPolicy
from bot.scheduler import Runner
from storage.db import UnitOfWork

log = logging.getLogger("krbot.scheduler")

TICK_SECONDS = 60


class Scheduler:
    """APScheduler as an in-memory timer only: one interval job asks the database every minute what is due."""

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        platforms: Sequence[Any],
        policy: RetryPolicy | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.clock = clock or (lambda: datetime.now(UTC))
        self.runner = Runner(uow=uow, platforms=platforms, policy=policy or RetryPolicy(), clock=self.clock)
        self._timer: Any = None
        self.last_tick: datetime | None = None

    def ticking(self) -> bool:
        """True once the timer has ticked within the last three intervals."""
        return self.last_tick is not None and datetime.now(UTC) - self.last_tick < timedelta(seconds=3 * TICK_SECONDS)

    def tick(self) -> Outcome:
        """Run everything due now; never raises (a failed tick is logged and the next one tries again)."""
        self.last_tick = datetime.now(UTC)
        try:
            outcome = self.runner.tick(now=self.clock())
        except Exception:  # noqa: BLE001 - the timer must keep ticking
            log.exception("scheduler tick failed")
            return Outcome()
        if outcome.counts:
            log.info("tick: %s", dict(outcome.counts))
        return outcome

    def start(self) -> None:
        """Start ticking now and every minute after (no shared job store: the schedule lives in our tables)."""
        from apscheduler.schedulers.background import BackgroundScheduler

        logging.getLogger("apscheduler").setLevel(logging.WARNING)  # a line per tick says nothing; ours say what was sent
        self._timer = BackgroundScheduler(timezone=UTC)
        self._timer.add_job(
            self.tick, "interval", seconds=TICK_SECONDS, next_run_time=datetime.now(UTC),
            id="krbot-tick", max_instances=1, coalesce=True, misfire_grace_time=TICK_SECONDS,
        )
        self._timer.start()

    def stop(self) -> None:
        """Stop the timer (a send in flight finishes; an unfinished claim is taken over after its lease)."""
        if self._timer is not None:
            self._timer.shutdown(wait=False)
            self._timer = None
