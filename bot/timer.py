"""The in-memory timer of `krbot run`: APScheduler ticks every 30 seconds and the tick only starts what is due, each job
for each workspace in a thread of its own (bot/jobs/registry.py), so the tick never waits on a pull or a webhook; the
schedule itself lives in the database, so any number of processes may tick (the ledger sends each message once)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from bot import services
from bot.jobs.registry import DEADLINES, Lanes
from bot.retrying import RetryPolicy
from bot.scheduler import FINAL_MEMORY, Runner
from storage.db import UnitOfWork

log = logging.getLogger("krbot.scheduler")

TICK_SECONDS = 30  # a reminder goes out within this of its slot (plus the pull before it, PRESYNC at most)
ALIVE_WITHIN = timedelta(seconds=3 * TICK_SECONDS)  # a timer whose last tick ended longer ago is not ticking
STOP_WAIT = 5.0  # seconds a stopping timer gives the runs under way (what they leave, the ledger hands to the next)


class Scheduler:
    """APScheduler as an in-memory timer only: one interval job asks the database every 30 seconds what is due and
    starts it in the job lanes."""

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        platforms: Sequence[Any],
        policy: RetryPolicy | None = None,
        clock: Callable[[], datetime] | None = None,
        deadlines: Mapping[str, timedelta] | None = None,
    ) -> None:
        self.clock = clock or (lambda: datetime.now(UTC))
        self.runner = Runner(uow=uow, platforms=platforms, policy=policy or RetryPolicy(), clock=self.clock)
        self.lanes = Lanes(work=self._work, deadlines=deadlines or DEADLINES)
        self._timer: Any = None
        self.started_at: datetime | None = None
        self.last_tick: datetime | None = None  # when the last tick ended (the real clock)

    def _work(self, job: str, view: Any, now: datetime) -> Any:
        """One job for one workspace: what a lane runs."""
        return self.runner.run(job=job, now=now, views=[view])

    def ticking(self) -> bool:
        """True while the timer runs and a tick ended within the last three intervals (or it started that recently)."""
        if self._timer is None or not self._timer.running:
            return False
        since = self.last_tick or self.started_at
        return since is not None and datetime.now(UTC) - since < ALIVE_WITHIN

    def jobs(self) -> dict[str, str]:
        """Each job with a run past its deadline, in words (`/healthz` details); empty when all are on time."""
        return self.lanes.overdue()

    def tick(self) -> list[tuple[str, str]]:
        """Start what is due now and return at once; never raises (a failed tick is logged, the next one tries again)."""
        try:
            now = self.clock()
            if len(self.runner.final) > FINAL_MEMORY:
                self.runner.final.clear()  # only a cache: the ledger stays the judge
            return self.lanes.start_due(views=services.schedule_views(uow=self.runner.uow, at=now), now=now)
        except Exception:  # noqa: BLE001 - the timer must keep ticking
            log.exception("scheduler tick failed")
            return []
        finally:
            self.last_tick = datetime.now(UTC)

    def start(self) -> None:
        """Start ticking now and every 30 seconds after (no shared job store: the schedule lives in our tables)."""
        from apscheduler.schedulers.background import BackgroundScheduler

        logging.getLogger("apscheduler").setLevel(logging.WARNING)  # a line per tick says nothing; ours say what was sent
        self._timer = BackgroundScheduler(timezone=UTC)
        self.started_at = datetime.now(UTC)
        self._timer.add_job(
            self.tick, "interval", seconds=TICK_SECONDS, next_run_time=datetime.now(UTC),
            id="krbot-tick", max_instances=1, coalesce=True, misfire_grace_time=TICK_SECONDS,
        )
        self._timer.start()

    def halt(self) -> None:
        """Tick no more (SIGTERM: the runs under way go on)."""
        if self._timer is not None:
            self._timer.shutdown(wait=False)
            self._timer = None

    def stop(self, *, deadline: float | None = None) -> None:
        """Stop ticking and give the runs under way until `deadline` (a time.monotonic()), STOP_WAIT at most; a send in
        flight finishes, an unfinished claim is taken over after its lease."""
        self.halt()
        left = STOP_WAIT if deadline is None else min(STOP_WAIT, deadline - time.monotonic())
        self.lanes.wait(timeout=max(0.0, left))
