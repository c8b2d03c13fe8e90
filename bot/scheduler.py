"""The schedule: reminders, chasers and the weekly digest, each sent once per period through the delivery ledger."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from typing import Any
from zoneinfo import ZoneInfo

from urllib3.exceptions import MaxRetryError
from urllib3.util.retry import Retry

from bot import services
from bot.core import model
from bot.core.errors import KrbotError
from bot.i18n import translate
from bot.metrics import DELIVERIES, PLATFORM_ERRORS, PLATFORM_RETRIES
from bot.platforms.base import Reminder, Sent
from storage.db import UnitOfWork
from storage.ledger import LEASE, Key, attempt, claim, finish, key_of, record_missed, settled

log = logging.getLogger("krbot.scheduler")

JOBS = ("reminders", "chasers", "digest")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
GRACE = {"reminder": timedelta(hours=6), "chaser": timedelta(hours=4), "digest": timedelta(hours=24)}
CHASER_LEAD = timedelta(hours=4)
TICK_SECONDS = 60
FINAL_MEMORY = 200_000


# ---------------------------------------------------------------- time: weekly slots and period keys


@dataclass(frozen=True, slots=True)
class Weekly:
    """A weekly wall-clock time such as "thu 10:00"."""

    weekday: int
    at: clock_time


def parse_weekly(*, text: str) -> Weekly:
    """Read "thu 10:00" (a weekday's first three letters and a 24-hour time)."""
    try:
        day, hhmm = text.strip().lower().split()
        hours, minutes = hhmm.split(":")
        return Weekly(weekday=DAYS.index(day[:3]), at=clock_time(int(hours), int(minutes)))
    except ValueError:
        raise KrbotError("scheduler.unreadable_time", word=text) from None


def slot_on(*, day: date, weekly: Weekly, zone: str) -> datetime:
    """The instant (in UTC) of `weekly`'s wall time on `day` in `zone`: the first of a repeated hour, a skipped one moved on."""
    return datetime.combine(day, weekly.at, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def last_slot(*, weekly: Weekly, zone: str, now: datetime) -> datetime:
    """The latest slot at or before `now`."""
    local = now.astimezone(ZoneInfo(zone))
    day = local.date() - timedelta(days=(local.weekday() - weekly.weekday) % 7)
    slot = slot_on(day=day, weekly=weekly, zone=zone)
    return slot if slot <= now else slot_on(day=day - timedelta(days=7), weekly=weekly, zone=zone)


def next_slot(*, weekly: Weekly, zone: str, now: datetime) -> datetime:
    """The first slot after `now`."""
    previous = last_slot(weekly=weekly, zone=zone, now=now).astimezone(ZoneInfo(zone))
    return slot_on(day=previous.date() + timedelta(days=7), weekly=weekly, zone=zone)


def week_slot(*, weekly: Weekly, zone: str, now: datetime) -> datetime:
    """The slot in the week (Monday to Sunday, local to `zone`) that contains `now`, past or still to come."""
    local = now.astimezone(ZoneInfo(zone)).date()
    return slot_on(day=local - timedelta(days=local.weekday() - weekly.weekday), weekly=weekly, zone=zone)


def period_of(*, slot: datetime, zone: str) -> str:
    """The ledger's period key: the ISO week of the slot's local date, so DST repeats and catch-ups share one key."""
    year, week, _ = slot.astimezone(ZoneInfo(zone)).isocalendar()
    return f"{year}-W{week:02d}"


def _away_on(view: services.ScheduleView, key: str, day: date) -> bool:
    return any(start <= day <= end for start, end in view.away.get(key, ()))


def _zone_of(view: services.ScheduleView, person: model.Person) -> str:
    return person.timezone or view.timezone


# ---------------------------------------------------------------- what is owed


@dataclass(frozen=True, slots=True)
class Due:
    """One message owed: its ledger key (kind, target, period), its slot, and what to send."""

    kind: str
    workspace_id: int
    workspace: str
    lang: str
    target: str
    period: str
    slot: datetime
    person: model.Person | None = None
    channel: str | None = None
    platform: Any = None
    text: str | None = None


@dataclass(slots=True)
class Outcome:
    """What one job run did, counted by result."""

    counts: Counter[str] = field(default_factory=Counter)
    sent: list[Due] = field(default_factory=list)

    def add(self, other: Outcome, /) -> None:
        """Fold another run's counts into this one."""
        self.counts.update(other.counts)
        self.sent.extend(other.sent)


def _slot_for(*, weekly: Weekly, zone: str, now: datetime, force: bool) -> datetime:
    return week_slot(weekly=weekly, zone=zone, now=now) if force else last_slot(weekly=weekly, zone=zone, now=now)


def owed_reminders(
    *, view: services.ScheduleView, now: datetime, force: bool = False
) -> tuple[list[Due], list[Due], int]:
    """(due now, past their grace window, skipped as away) reminders of one workspace at `now`."""
    weekly = parse_weekly(text=view.reminder)
    due, late, skipped = [], [], 0
    for person in view.owners:
        zone = _zone_of(view, person)
        slot = _slot_for(weekly=weekly, zone=zone, now=now, force=force)
        day = slot.astimezone(ZoneInfo(zone)).date()
        if not view.cycle_start <= day <= view.cycle_end:
            continue
        if _away_on(view, person.key, day):
            skipped += 1
            continue
        item = Due(
            kind="reminder", workspace_id=view.workspace_id, workspace=view.workspace, lang=view.lang,
            target=person.key, period=period_of(slot=slot, zone=zone), slot=slot, person=person,
        )
        (due if force or now - slot <= GRACE["reminder"] else late).append(item)
    return due, late, skipped


def _digest_slot(*, view: services.ScheduleView, now: datetime, force: bool) -> datetime:
    weekly = parse_weekly(text=view.digest)
    return _slot_for(weekly=weekly, zone=view.timezone, now=now, force=force)


def owed_chasers(
    *, view: services.ScheduleView, now: datetime, force: bool = False
) -> tuple[list[Due], list[Due], int]:
    """Chasers owed a few hours before the digest to owners who have not checked in this period."""
    digest_slot = _digest_slot(view=view, now=now + (timedelta(0) if force else CHASER_LEAD), force=force)
    slot = digest_slot - CHASER_LEAD
    day = digest_slot.astimezone(ZoneInfo(view.timezone)).date()
    if not view.cycle_start <= day <= view.cycle_end:  # after the cycle's end the digest is the final report: no chasing
        return [], [], 0
    in_grace = force or timedelta(0) <= now - slot <= GRACE["chaser"]
    since = digest_slot - timedelta(days=7)
    due, late, skipped = [], [], 0
    for person in view.owners:
        last = view.last_checkin.get(person.key)
        if _away_on(view, person.key, day) or (last is not None and last > since):
            skipped += 1
            continue
        item = Due(
            kind="chaser", workspace_id=view.workspace_id, workspace=view.workspace, lang=view.lang,
            target=person.key, period=period_of(slot=digest_slot, zone=view.timezone), slot=slot, person=person,
        )
        (due if in_grace else late).append(item)
    return due, late, skipped


_WARNED: set[tuple[str, str]] = set()


def channel_of(*, platform: Any, view: services.ScheduleView) -> str | None:
    """The boss channel on this platform: the file's, else the platform's own default (the console's terminal)."""
    return view.boss_channel.get(platform.name) or getattr(platform, "default_channel", None)


def owed_digests(
    *, view: services.ScheduleView, platforms: Sequence[Any], now: datetime, force: bool = False
) -> tuple[list[Due], list[Due], int]:
    """The digest owed to each platform's boss channel."""
    slot = _digest_slot(view=view, now=now, force=force)
    day = slot.astimezone(ZoneInfo(view.timezone)).date()
    if not view.cycle_start <= day <= view.cycle_end + timedelta(days=7):
        return [], [], 0
    due, late = [], []
    for platform in platforms:
        channel = channel_of(platform=platform, view=view)
        if channel is None:
            if (view.workspace, platform.name) not in _WARNED:
                _WARNED.add((view.workspace, platform.name))
                log.warning("no boss channel for %s in %s: digest not posted there", platform.name, view.workspace)
            continue
        item = Due(
            kind="digest", workspace_id=view.workspace_id, workspace=view.workspace, lang=view.lang,
            target=f"{platform.name}:{channel}", period=period_of(slot=slot, zone=view.timezone), slot=slot,
            channel=channel, platform=platform,
        )
        (due if force or now - slot <= GRACE["digest"] else late).append(item)
    return due, late, 0


# ---------------------------------------------------------------- sending, with retries


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try one send: failures back off exponentially (urllib3's Retry); rate limits wait as told."""

    tries: int = 5
    backoff: float = 1.0
    backoff_max: float = 60.0
    rate_limited_waits: int = 100
    workers: int = 16

    def retry(self) -> Retry:
        """A fresh urllib3 Retry counting this policy's failures."""
        return Retry(total=self.tries - 1, other=self.tries - 1, backoff_factor=self.backoff,
                     backoff_max=self.backoff_max, backoff_jitter=self.backoff / 4)


def retry_after(error: BaseException, /) -> float | None:
    """Seconds a rate-limited platform asked us to wait (an error's `retry_after`, or its response's Retry-After)."""
    seconds = getattr(error, "retry_after", None)
    if seconds is None:
        headers = getattr(getattr(error, "response", None), "headers", None) or {}
        header = headers.get("Retry-After") or headers.get("retry-after") if hasattr(headers, "get") else None
        if header is None:
            return None
        try:
            seconds = Retry().parse_retry_after(str(header))
        except Exception:  # noqa: BLE001 - an unreadable header is no instruction
            return None
    return max(0.0, float(seconds))


class Gate:
    """A shared "not before" time per platform: one Retry-After pauses every sender to that platform."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._until = 0.0

    def hold(self, *, seconds: float) -> None:
        """Let nobody through for `seconds` from now."""
        with self._lock:
            self._until = max(self._until, time.monotonic() + seconds)

    def wait(self) -> None:
        """Block until the gate is open."""
        while True:
            with self._lock:
                delay = self._until - time.monotonic()
            if delay <= 0:
                return
            time.sleep(delay)


def deliver(
    *, send: Callable[[], Sent], policy: RetryPolicy, gate: Gate, before_try: Callable[[], bool], platform: str = ""
) -> Sent:
    """Call `send` until it succeeds: back off after failures, wait out rate limits; raise the last error when spent."""
    retry = policy.retry()
    waits = 0
    while True:
        gate.wait()
        if not before_try():
            raise LostClaim("another worker took this claim over")
        try:
            return send()
        except LostClaim:
            raise
        except Exception as error:  # noqa: BLE001 - every platform failure is retried, then recorded
            PLATFORM_ERRORS.labels(platform=platform).inc()
            seconds = retry_after(error)
            if seconds is not None and waits < policy.rate_limited_waits:
                waits += 1
                gate.hold(seconds=seconds)
                PLATFORM_RETRIES.labels(platform=platform).inc()
                continue
            try:
                retry = retry.increment(error=error)
            except MaxRetryError:
                raise error from None
            PLATFORM_RETRIES.labels(platform=platform).inc()
            log.info("send failed (%s); retrying in %.2fs", error, retry.get_backoff_time())
            time.sleep(retry.get_backoff_time())


class LostClaim(RuntimeError):
    """Another worker took the claim over (this one outlived its lease): stop without sending."""


# ---------------------------------------------------------------- one run of the jobs


def worker_id() -> str:
    """This process's name in the ledger: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _reaches(platform: Any, person: model.Person) -> bool:
    reaches = getattr(platform, "reaches", None)
    if callable(reaches):
        return bool(reaches(person=person))
    if platform.name == "slack":
        return bool(person.slack_id)
    if platform.name == "feishu":
        return bool(person.feishu_id)
    return True


@dataclass
class Runner:
    """Sends owed items through the ledger: claim, send with retries, mark; many at once in a bounded pool."""

    uow: UnitOfWork
    platforms: Sequence[Any]
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    worker: str = field(default_factory=worker_id)
    lease: timedelta = LEASE
    clock: Callable[[], datetime] | None = None
    gates: dict[str, Gate] = field(default_factory=dict)
    final: set[Key] = field(default_factory=set)

    def _settled(self, *, items: Sequence[Due], now: datetime) -> set[Key]:
        """Keys no one may claim now; final states are remembered, so an idle tick reads the ledger rarely."""
        unknown = [item for item in items if key_of(item) not in self.final]
        live: set[Key] = set()
        if unknown:
            final, live = settled(uow=self.uow, items=unknown, now=now, lease=self.lease)
            self.final |= final
        return self.final | live

    def _now(self, fallback: datetime) -> datetime:
        return self.clock() if self.clock is not None else fallback

    def _gate(self, platform: Any) -> Gate:
        return self.gates.setdefault(platform.name, Gate())

    def _platform_for(self, item: Due) -> Any:
        if item.platform is not None:
            return item.platform
        assert item.person is not None
        return next((p for p in self.platforms if _reaches(p, item.person)), None)

    def send_one(self, *, item: Due, now: datetime, payload: Callable[[Any, str], Sent]) -> str:
        """Claim and send one item; returns "sent", "failed", "busy" (claimed elsewhere) or "unreachable"."""
        platform = self._platform_for(item)
        if platform is None:
            return "unreachable"
        row_id = claim(uow=self.uow, item=item, worker=self.worker, now=now, lease=self.lease)
        if row_id is None:
            return "busy"
        key = f"{item.workspace_id}:{item.kind}:{item.target}:{item.period}"
        tries = 0

        def before_try() -> bool:
            nonlocal tries
            tries += 1
            return tries == 1 or attempt(uow=self.uow, row_id=row_id, worker=self.worker, now=self._now(now))

        try:
            sent = deliver(
                send=lambda: payload(platform, key),
                policy=self.policy,
                gate=self._gate(platform),
                before_try=before_try,
                platform=platform.name,
            )
        except LostClaim:
            return "busy"
        except Exception as error:  # noqa: BLE001 - recorded in the ledger, reported in the digest
            log.error("%s to %s for %s failed after the last try: %s", item.kind, item.target, item.period, error)
            finish(uow=self.uow, row_id=row_id, worker=self.worker, now=self._now(now), sent=None, error=repr(error))
            self.final.add(key_of(item))
            DELIVERIES.labels(kind=item.kind, status="failed").inc()
            return "failed"
        finish(
            uow=self.uow, row_id=row_id, worker=self.worker, now=self._now(now), sent=(sent.platform, sent.message_id),
            error=None,
        )
        self.final.add(key_of(item))
        DELIVERIES.labels(kind=item.kind, status="sent").inc()
        return "sent"

    def send_all(self, *, items: Sequence[Due], now: datetime, payload: Callable[[Due, Any, str], Sent]) -> Outcome:
        """Send many items concurrently (a bounded thread pool); count the results."""
        outcome = Outcome()
        if not items:
            return outcome

        def one(item: Due) -> tuple[Due, str]:
            return item, self.send_one(item=item, now=now, payload=lambda platform, key: payload(item, platform, key))

        workers = max(1, min(self.policy.workers, len(items)))
        if workers == 1:
            results = [one(item) for item in items]
        else:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="krbot-send") as pool:
                results = list(pool.map(one, items))
        for item, result in results:
            outcome.counts[result] += 1
            if result == "sent":
                outcome.sent.append(item)
        return outcome

    # ------------------------------------------------------------ the three jobs

    def _pending(self, *, due: list[Due], late: list[Due], now: datetime, outcome: Outcome) -> list[Due]:
        """Drop what the ledger already settled; log what is past its grace window as missed."""
        done = self._settled(items=[*due, *late], now=now)
        for item in late:
            if key_of(item) not in done:
                if record_missed(uow=self.uow, item=item, now=now):
                    outcome.counts["missed"] += 1
                self.final.add(key_of(item))
        if outcome.counts["missed"]:
            log.warning("%d %s(s) of %s were due before the grace window and are logged as missed, not sent",
                        outcome.counts["missed"], late[0].kind, late[0].period)
        pending = [item for item in due if key_of(item) not in done]
        outcome.counts["already"] += len(due) - len(pending)
        return pending

    def reminders(self, *, view: services.ScheduleView, now: datetime, force: bool = False, chaser: bool = False) -> Outcome:
        """Reminders (or chasers) owed in one workspace: each owner's KRs with last value and target."""
        outcome = Outcome()
        owed = owed_chasers if chaser else owed_reminders
        due, late, skipped = owed(view=view, now=now, force=force)
        outcome.counts["skipped"] += skipped
        pending = self._pending(due=due, late=late, now=now, outcome=outcome)
        if not pending:
            return outcome
        rows = services.reminder_rows(
            uow=self.uow, people=[item.target for item in pending], at=now, workspace=view.workspace
        )

        def payload(item: Due, platform: Any, key: str) -> Sent:
            assert item.person is not None
            reminder = Reminder(
                workspace=view.workspace, lang=view.lang, person=item.person, rows=rows.get(item.target, []),
                chaser=chaser,
            )
            return platform.send_reminder(reminder=reminder, idempotency_key=key)

        outcome.add(self.send_all(items=pending, now=now, payload=payload))
        return outcome

    def digest(self, *, view: services.ScheduleView, now: datetime, force: bool = False) -> Outcome:
        """The digest owed to each boss channel, then a word to the accountable person of each stale KR and to
        the owner of each overdue task (once per task and due date)."""
        outcome = Outcome()
        due, late, _ = owed_digests(view=view, platforms=self.platforms, now=now, force=force)
        pending = self._pending(due=due, late=late, now=now, outcome=outcome)
        if not pending:
            return outcome
        digest, escalations = services.boss_digest(uow=self.uow, as_of=now, workspace=view.workspace)

        def post(item: Due, platform: Any, key: str) -> Sent:
            assert item.channel is not None
            return platform.post_digest(digest=digest, channel=item.channel, idempotency_key=key)

        outcome.add(self.send_all(items=pending, now=now, payload=post))
        notices = [
            Due(
                kind="escalation", workspace_id=view.workspace_id, workspace=view.workspace, lang=view.lang,
                target=f"{stale.code}>{stale.person.key}",
                period="since " + (stale.last_at.date().isoformat() if stale.last_at else "start"),
                slot=pending[0].slot, person=stale.person,
                text=translate(
                    "scheduler.escalation", lang=view.lang, code=stale.code, title=stale.title, owner=stale.owner,
                    days=stale.days, last=stale.last_at.date().isoformat() if stale.last_at else "",
                ),
            )
            for stale in escalations
        ]
        today = now.astimezone(ZoneInfo(view.timezone)).date()
        notices += [
            Due(
                kind="overdue", workspace_id=view.workspace_id, workspace=view.workspace, lang=view.lang,
                target=f"{kr.code}>{task.title}>{person.key}"[:200], period="due " + task.due.isoformat(),
                slot=pending[0].slot, person=person,
                text=translate(
                    "scheduler.overdue", lang=view.lang, code=kr.code, title=task.title, due=task.due.isoformat(),
                    days=(today - task.due).days,
                ),
            )
            for person, kr, task in services.overdue_tasks(uow=self.uow, as_of=now, workspace=view.workspace)
        ]
        told = self._settled(items=notices, now=now)
        todo = [item for item in notices if key_of(item) not in told]

        def tell(item: Due, platform: Any, key: str) -> Sent:
            assert item.person is not None and item.text is not None
            return platform.notify(person=item.person, text=item.text, idempotency_key=key)

        escalated = self.send_all(items=todo, now=now, payload=tell)
        outcome.counts["escalated"] += escalated.counts["sent"]
        outcome.counts["failed"] += escalated.counts["failed"]
        return outcome

    def run(
        self, *, job: str, now: datetime, force: bool = False, views: list[services.ScheduleView] | None = None
    ) -> Outcome:
        """One job over every workspace at `now`; `force` sends what the current period owes whatever the hour."""
        if job not in JOBS:
            raise KrbotError("scheduler.unknown_job", word=job, known=", ".join(JOBS))
        outcome = Outcome()
        for view in services.schedule_views(uow=self.uow, at=now) if views is None else views:
            try:
                if job == "digest":
                    outcome.add(self.digest(view=view, now=now, force=force))
                else:
                    outcome.add(self.reminders(view=view, now=now, force=force, chaser=job == "chasers"))
            except Exception:  # noqa: BLE001 - one workspace failing never stops the others
                log.exception("%s failed for workspace %s", job, view.workspace)
                outcome.counts["error"] += 1
        return outcome

    def tick(self, *, now: datetime) -> Outcome:
        """Everything due at `now`: what the timer calls every minute (and a simulation calls with its own clock)."""
        outcome = Outcome()
        if len(self.final) > FINAL_MEMORY:
            self.final.clear()  # only a cache: the ledger stays the judge
        views = services.schedule_views(uow=self.uow, at=now)
        for job in JOBS:
            outcome.add(self.run(job=job, now=now, views=views))
        return outcome


def next_times(*, uow: UnitOfWork, now: datetime) -> list[dict[str, Any]]:
    """Each workspace's jobs with their next time (reminders: the earliest owner's, in their own timezone)."""
    listing = []
    for view in services.schedule_views(uow=uow, at=now):
        reminder = parse_weekly(text=view.reminder)
        digest = parse_weekly(text=view.digest)
        zones = sorted({_zone_of(view, person) for person in view.owners}) or [view.timezone]
        next_reminder = min(next_slot(weekly=reminder, zone=zone, now=now) for zone in zones)
        next_digest = next_slot(weekly=digest, zone=view.timezone, now=now)
        next_chaser = next_slot(weekly=digest, zone=view.timezone, now=now + CHASER_LEAD) - CHASER_LEAD
        listing.append(
            {
                "workspace": view.workspace,
                "lang": view.lang,
                "timezone": view.timezone,
                "jobs": {
                    "reminders": (next_reminder, {"spec": view.reminder}),
                    "chasers": (next_chaser, {"hours": int(CHASER_LEAD.total_seconds() // 3600)}),
                    "digest": (next_digest, {"spec": view.digest, "zone": view.timezone}),
                },
            }
        )
    return listing


# ---------------------------------------------------------------- the in-memory timer


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
