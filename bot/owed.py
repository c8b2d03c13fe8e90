"""What the schedule owes at a moment: weekly slots, period keys, and the reminders, chasers and digests due."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from typing import Any
from zoneinfo import ZoneInfo

from bot import services
from bot.core import model
from bot.core.errors import KrbotError
from storage.db import UnitOfWork

log = logging.getLogger("krbot.scheduler")

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
GRACE = {"reminder": timedelta(hours=6), "chaser": timedelta(hours=4), "digest": timedelta(hours=24)}
CHASER_LEAD = timedelta(hours=4)


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


def away_now(*, view: services.ScheduleView, person: model.Person, now: datetime) -> bool:
    """True when the person is away on their own calendar day at `now` (the moment of sending), whatever the slot."""
    today = now.astimezone(ZoneInfo(_zone_of(view, person))).date()
    return any(start <= today <= end for start, end in view.away.get(person.key, ()))


def _spared(*, view: services.ScheduleView, person: model.Person, now: datetime, slot: datetime, sending: bool) -> bool:
    """Left out as away: at the moment of sending when it would be sent now; else (a miss to log) at its slot."""
    return away_now(view=view, person=person, now=now if sending else slot)


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
        sending = force or now - slot <= GRACE["reminder"]
        if _spared(view=view, person=person, now=now, slot=slot, sending=sending):
            skipped += 1
            continue
        item = Due(
            kind="reminder", workspace_id=view.workspace_id, workspace=view.workspace, lang=view.lang,
            target=person.key, period=period_of(slot=slot, zone=zone), slot=slot, person=person,
        )
        (due if sending else late).append(item)
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
        spared = _spared(view=view, person=person, now=now, slot=digest_slot, sending=in_grace)
        if spared or person.key in view.synced_only or (last is not None and last > since):
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
    *, view: services.ScheduleView, platforms: Sequence[Any], now: datetime, force: bool = False, by_hand: bool = False
) -> tuple[list[Due], list[Due], int]:
    """The digest owed to each platform's boss channel; `by_hand` (`krbot digest --post`): the digest of this very
    minute, a period of its own (posted once however often the same command runs), whatever the schedule sent."""
    slot = now if by_hand else _digest_slot(view=view, now=now, force=force)
    day = slot.astimezone(ZoneInfo(view.timezone)).date()
    if not by_hand and not view.cycle_start <= day <= view.cycle_end + timedelta(days=7):
        return [], [], 0
    period = (slot.astimezone(ZoneInfo(view.timezone)).strftime("%Y-%m-%dT%H:%M") if by_hand
              else period_of(slot=slot, zone=view.timezone))
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
            target=f"{platform.name}:{channel}", period=period, slot=slot, channel=channel, platform=platform,
        )
        (due if force or by_hand or now - slot <= GRACE["digest"] else late).append(item)
    return due, late, 0


def next_times(*, uow: UnitOfWork, now: datetime) -> list[dict[str, Any]]:
    """Each workspace's jobs with their next time (reminders: the earliest owner's, in their own timezone)."""
    from bot.syncing import next_sync

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
                    "sync": (next_sync(spec=view.sync, zone=view.timezone, now=now),
                             {"spec": view.sync, "zone": view.timezone, **_pulls(uow=uow, view=view)}),
                    "reminders": (next_reminder, {"spec": view.reminder}),
                    "chasers": (next_chaser, {"hours": int(CHASER_LEAD.total_seconds() // 3600)}),
                    "digest": (next_digest, {"spec": view.digest, "zone": view.timezone}),
                },
            }
        )
    return listing


def _pulls(*, uow: UnitOfWork, view: services.ScheduleView) -> dict[str, Any]:
    """The sync job's last outcome in a workspace: sources that last pulled a value, that last failed, the last try."""
    status = services.source_status(uow=uow, workspace=view.workspace)
    last = status["last"]
    shown = last.astimezone(ZoneInfo(view.timezone)).strftime("%Y-%m-%d %H:%M") if last is not None else ""
    return {"pulled": status["pulled"], "failed": status["failed"], "last": shown}
