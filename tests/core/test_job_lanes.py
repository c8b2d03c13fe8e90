"""The timer's job lanes (bot/jobs/registry.py): a job that hangs is left behind past its deadline and started again
only after it ends, while every other job starts at each tick; no database, the jobs are plain functions."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.jobs.registry import DEADLINES, JOBS, Lanes

NOW = datetime(2026, 10, 5, 9, 30, tzinfo=UTC)


@dataclass(frozen=True)
class View:
    """What a lane needs of a workspace's schedule view."""

    workspace_id: int
    workspace: str


class Clock:
    """A clock the test moves (deadlines are judged by it)."""

    def __init__(self) -> None:
        self.at = NOW

    def __call__(self) -> datetime:
        return self.at


class Jobs:
    """The work the lanes run: each call counted; `sync` of workspace 1 hangs until released."""

    def __init__(self) -> None:
        self.started: Counter[tuple[str, int]] = Counter()
        self.ended: Counter[tuple[str, int]] = Counter()
        self.running: Counter[tuple[str, int]] = Counter()
        self.most_at_once: Counter[tuple[str, int]] = Counter()
        self.release = threading.Event()
        self.lock = threading.Lock()

    def __call__(self, job: str, view: View, now: datetime) -> None:
        key = (job, view.workspace_id)
        with self.lock:
            self.started[key] += 1
            self.running[key] += 1
            self.most_at_once[key] = max(self.most_at_once[key], self.running[key])
        if key == ("sync", 1):
            self.release.wait(30)
        with self.lock:
            self.running[key] -= 1
            self.ended[key] += 1

    def wait_ended(self, key: tuple[str, int], count: int) -> None:
        end = time.monotonic() + 10
        while self.ended[key] < count and time.monotonic() < end:
            time.sleep(0.01)
        assert self.ended[key] >= count, (key, self.ended)


def test_a_hanging_job_is_left_behind_and_started_again_only_after_it_ends() -> None:
    jobs, clock = Jobs(), Clock()
    lanes = Lanes(work=jobs, clock=clock)
    views = [View(1, "Stuck"), View(2, "Fine")]
    first = lanes.start_due(views=views, now=NOW)
    assert len(first) == len(JOBS) * 2
    for job in JOBS:
        if job != "sync":
            jobs.wait_ended((job, 1), 1)
    jobs.wait_ended(("sync", 2), 1)

    second = lanes.start_due(views=views, now=NOW + timedelta(minutes=1))  # the next tick: all but the stuck one
    assert ("sync", "Stuck") not in second and ("reminders", "Stuck") in second and ("sync", "Fine") in second
    jobs.wait_ended(("reminders", 1), 2)
    assert lanes.overdue() == {}  # still within its deadline

    clock.at += DEADLINES["sync"] + timedelta(seconds=1)
    assert lanes.overdue() == {"sync": f"overdue since {(NOW + DEADLINES['sync']).isoformat()} (Stuck)"}
    third = lanes.start_due(views=views, now=NOW + timedelta(minutes=6))
    assert ("sync", "Stuck") not in third and len(third) == len(JOBS) * 2 - 1
    assert jobs.started[("sync", 1)] == 1 and jobs.most_at_once[("sync", 1)] == 1

    jobs.release.set()  # the hung pull ends at last: the next tick starts the job again
    jobs.wait_ended(("sync", 1), 1)
    end = time.monotonic() + 10
    while ("sync", "Stuck") in lanes.running() and time.monotonic() < end:
        time.sleep(0.01)
    assert ("sync", "Stuck") in lanes.start_due(views=views, now=NOW + timedelta(minutes=7))
    jobs.wait_ended(("sync", 1), 2)
    assert lanes.overdue() == {} and jobs.most_at_once[("sync", 1)] == 1


def test_a_run_past_its_deadline_gives_its_place_to_the_next() -> None:
    """One place per job: a second workspace's sync waits behind the first until the first is overdue, then runs."""
    jobs, clock = Jobs(), Clock()
    lanes = Lanes(work=jobs, clock=clock, on_time=1, deadlines={"sync": DEADLINES["sync"]})
    lanes.start_due(views=[View(1, "Stuck")], now=NOW)
    end = time.monotonic() + 10
    while jobs.started[("sync", 1)] < 1 and time.monotonic() < end:
        time.sleep(0.01)
    lanes.start_due(views=[View(1, "Stuck"), View(2, "Fine")], now=NOW)
    assert not lanes.wait(timeout=0.3) and jobs.started[("sync", 2)] == 0  # waiting for the place the stuck one holds
    clock.at += DEADLINES["sync"] + timedelta(seconds=1)
    lanes.watch()
    jobs.wait_ended(("sync", 2), 1)  # the stuck run gave its place up: the other went out
    assert lanes.wait(timeout=5)  # only the overdue run is left, and it is not waited for
    jobs.release.set()
