"""The `sync` job: when `workspace.sync` falls due (daily or weekly), before reminders and digests, or by hand, pull
every data source once per slot and tell the owners of failed sources through the outbox (once a day)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from typing import Any
from zoneinfo import ZoneInfo

from bot import services
from bot.core import model
from bot.core.errors import KrbotError
from bot.outbox import Outbox, notice
from bot.owed import Outcome, last_slot, next_slot, parse_weekly
from storage.db import UnitOfWork

log = logging.getLogger("krbot.scheduler")

GRACE = timedelta(hours=6)  # a sync slot missed while krbot was down is caught up within this window
NOTICE = "source"  # the ledger kind of telling an owner that a source failed (once per source and day)


def _daily(spec: str) -> clock_time | None:
    """The time of "daily 06:00", else None (a weekly spec)."""
    words = spec.split()
    if len(words) != 2 or words[0].lower() != "daily":
        return None
    try:
        hours, minutes = words[1].split(":")
        return clock_time(int(hours), int(minutes))
    except ValueError:
        raise KrbotError("scheduler.unreadable_time", word=spec) from None


def sync_slot(*, spec: str, zone: str, now: datetime) -> datetime:
    """The latest sync slot at or before `now` on the workspace's wall clock."""
    at = _daily(spec)
    if at is None:
        return last_slot(weekly=parse_weekly(text=spec), zone=zone, now=now)
    local = now.astimezone(ZoneInfo(zone))
    slot = datetime.combine(local.date(), at, tzinfo=ZoneInfo(zone)).astimezone(UTC)
    return slot if slot <= now else datetime.combine(local.date() - timedelta(days=1), at,
                                                     tzinfo=ZoneInfo(zone)).astimezone(UTC)


def next_sync(*, spec: str, zone: str, now: datetime) -> datetime:
    """The first sync slot after `now`."""
    if _daily(spec) is None:
        return next_slot(weekly=parse_weekly(text=spec), zone=zone, now=now)
    return sync_slot(spec=spec, zone=zone, now=now + timedelta(days=1))


def slot_period(*, slot: datetime, zone: str, why: str = "at") -> str:
    """The ledger period of a slot: why it runs and its local minute ("at 2026-10-05T06:00")."""
    return f"{why} {slot.astimezone(ZoneInfo(zone)).strftime('%Y-%m-%dT%H:%M')}"


def sync_job(
    *,
    uow: UnitOfWork,
    outbox: Outbox,
    reach: Callable[[model.Person], Any],
    view: services.ScheduleView,
    now: datetime,
    force: bool = False,
    period: str | None = None,
    people: Collection[str] | None = None,
    worker: str,
) -> Outcome:
    """Pull the workspace's sources owed now: the scheduled slot's, a named period's (before reminders and digests),
    or — forced by hand — again now, whenever they last ran. Never raises: a failed sync leaves the others alone."""
    outcome = Outcome()
    if not view.sourced:  # no measure pulls its value: nothing to read, not even the tree
        return outcome
    if period is None:
        if force:
            period = slot_period(slot=now, zone=view.timezone, why="run")
        else:
            slot = sync_slot(spec=view.sync, zone=view.timezone, now=now)
            if now - slot > GRACE:
                return outcome
            period = slot_period(slot=slot, zone=view.timezone)
    marker = (view.workspace_id, "sync", "*", period)
    if marker in outbox.final:  # this process finished that slot: an idle tick reads nothing
        return outcome
    try:
        run = services.sync_sources(uow=uow, at=now, period=period, worker=worker, workspace=view.workspace,
                                    people=people)
    except Exception:  # noqa: BLE001 - a sync failing never stops reminders, digests or other workspaces
        log.exception("sync failed for workspace %s (%s)", view.workspace, period)
        outcome.counts["error"] += 1
        return outcome
    outbox.final.add(marker)
    outcome.counts["pulled"] += run.pulled
    outcome.counts["pull failed"] += run.failed
    outcome.counts["already"] += run.already

    def tell(told: services.SourceNotice) -> str:
        platform = reach(told.person)
        if platform is None:
            return "unreachable"
        item = notice(workspace_id=run.workspace_id, person=told.person.key, cause=told.cause, now=now, kind=NOTICE)
        return outbox.notify(item=item, platform=platform, person=told.person, text=told.text, now=now)

    for _, status in outbox.each(items=run.notices, one=tell):  # type: ignore[arg-type]
        outcome.counts["told" if status == "sent" else f"tell {status}"] += 1
    return outcome
