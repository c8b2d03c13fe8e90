"""The named jobs the timer starts — sync, reminders, chasers, digest, webhooks — each with its own deadline, each run
for each workspace in a worker thread of its own: a run past its deadline is left behind (its thread finishes or
hangs on its own, and it is not started again while it runs), so one stuck pull or receiver never holds the others."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

log = logging.getLogger("krbot.scheduler")

# Each job's deadline per workspace: past it the run is overdue, the timer stops counting it as running on time (it
# frees its place for the others), and `/healthz` names it; it runs again at the first tick after it ends.
DEADLINES: Mapping[str, timedelta] = {
    "sync": timedelta(minutes=5),
    "reminders": timedelta(minutes=3),
    "chasers": timedelta(minutes=3),
    "digest": timedelta(minutes=3),
    "webhooks": timedelta(minutes=2),
}
JOBS = tuple(DEADLINES)  # sync first: a tick pulls the sources before it reminds
ON_TIME = 4  # runs of one job going at once within their deadline (each may hold database connections)


def _real_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class JobRun:
    """One job's run for one workspace: when it got its place, and whether it was left behind past its deadline."""

    job: str
    workspace: str
    deadline: timedelta
    queued: datetime
    started: datetime | None = None
    overdue: bool = False
    holds_place: bool = False

    def due_by(self) -> datetime | None:
        """The moment this run becomes overdue (None while it waits for its place)."""
        return None if self.started is None else self.started + self.deadline


Work = Callable[[str, Any, datetime], Any]


@dataclass
class Lanes:
    """Starts what is due without waiting for it: one thread per job and workspace; a run still going is not
    started twice; `ON_TIME` runs per job at once, a run past its deadline giving up its place."""

    work: Work  # (job, the workspace's schedule view, the tick's moment) -> an Outcome
    deadlines: Mapping[str, timedelta] = field(default_factory=lambda: dict(DEADLINES))
    on_time: int = ON_TIME
    clock: Callable[[], datetime] = _real_now  # the real clock: deadlines are about real time, whatever a tick says
    _runs: dict[tuple[str, int], JobRun] = field(default_factory=dict, init=False)
    _places: dict[str, threading.Semaphore] = field(default_factory=dict, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        self._places = {job: threading.Semaphore(self.on_time) for job in self.deadlines}

    def start_due(self, *, views: Sequence[Any], now: datetime) -> list[tuple[str, str]]:
        """Start every job for every workspace whose last run has ended; (job, workspace) of each started."""
        self.watch()
        started = []
        for job in self.deadlines:
            for view in views:
                key = (job, view.workspace_id)
                with self._lock:
                    if key in self._runs:
                        continue
                    run = self._runs[key] = JobRun(job=job, workspace=view.workspace, deadline=self.deadlines[job],
                                                   queued=self.clock())
                threading.Thread(target=self._run, kwargs={"key": key, "run": run, "view": view, "now": now},
                                 name=f"krbot-{job}-{view.workspace_id}", daemon=True).start()
                started.append((job, view.workspace))
        return started

    def _run(self, *, key: tuple[str, int], run: JobRun, view: Any, now: datetime) -> None:
        place = self._places[run.job]
        place.acquire()
        with self._lock:
            run.started, run.holds_place = self.clock(), True
        try:
            outcome = self.work(run.job, view, now)
            counts = getattr(outcome, "counts", None)
            if counts:
                log.info("%s for %s: %s", run.job, run.workspace, dict(counts))
        except Exception:  # noqa: BLE001 - a job failing never stops the timer or the other jobs
            log.exception("%s failed for workspace %s", run.job, run.workspace)
        finally:
            with self._lock:
                self._runs.pop(key, None)
                self._give_place(run)
            if run.overdue:
                log.warning("%s for %s ended %s after it started, past its deadline of %s: it runs again at the "
                            "next tick", run.job, run.workspace, self.clock() - (run.started or run.queued), run.deadline)

    def _give_place(self, run: JobRun) -> None:
        """Hand the run's place to the next run of its job (once; the caller holds the lock)."""
        if run.holds_place:
            run.holds_place = False
            self._places[run.job].release()

    def watch(self) -> list[JobRun]:
        """Leave behind every run past its deadline: it gives up its place and is named in `overdue()`; those left now."""
        moment = self.clock()
        left = []
        with self._lock:
            for run in self._runs.values():
                due_by = run.due_by()
                if not run.overdue and due_by is not None and moment > due_by:
                    run.overdue = True
                    self._give_place(run)
                    left.append(run)
        for run in left:
            log.warning("%s for %s is overdue (running since %s, deadline %s): left to finish on its own; the other "
                        "jobs go on, and it is not started again while it runs", run.job, run.workspace,
                        run.started.isoformat() if run.started else "?", run.deadline)
        return left

    def overdue(self) -> dict[str, str]:
        """Each job with a run past its deadline, in words for `/healthz` ("overdue since … (workspace)")."""
        self.watch()
        said: dict[str, list[str]] = {}
        with self._lock:
            for run in self._runs.values():
                due_by = run.due_by()
                if run.overdue and due_by is not None:
                    said.setdefault(run.job, []).append(
                        f"overdue since {due_by.isoformat(timespec='seconds')} ({run.workspace})")
        return {job: "; ".join(words) for job, words in said.items()}

    def running(self) -> list[tuple[str, str]]:
        """(job, workspace) of every run not yet ended."""
        with self._lock:
            return [(run.job, run.workspace) for run in self._runs.values()]

    def wait(self, *, timeout: float) -> bool:
        """Wait until every run not overdue has ended (or `timeout` seconds); True when none is left running on time."""
        end = time.monotonic() + timeout
        while True:
            self.watch()
            with self._lock:
                busy = any(not run.overdue for run in self._runs.values())
            if not busy:
                return True
            if time.monotonic() >= end:
                return False
            time.sleep(0.05)
