"""What the scheduler needs: who is owed a reminder, escalations, overdue tasks, away days."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.core import model
from bot.core.progress import okr_progress
from bot.services.context import load_scope, person_in
from bot.services.digest import digest_run
from bot.services.replies import Reply
from bot.services.views import rows_by_person, rows_in_locale
from storage import repository
from storage.db import UnitOfWork
from storage.repository import pulls


def set_away(
    *,
    uow: UnitOfWork,
    person: str,
    start: date | None,
    end: date | None,
    at: datetime,
    workspace: str | None = None,
) -> Reply:
    """Record the days a person is away (no prompts), or clear them."""
    with uow.begin() as session:
        scope = load_scope(session=session, workspace=workspace, at=at)
        sender = person_in(scope, person)
        repository.set_away(
            session=session, workspace_id=scope.workspace.id, person_key=sender.key, start=start, end=end
        )
    return Reply(key="reply.away", lang=scope.lang, params={"start": start, "end": end})


@dataclass(frozen=True, slots=True)
class ScheduleView:
    """What the scheduler reads of one workspace at a moment: its times, its owners, who is away, who checked in."""

    workspace_id: int
    workspace: str
    lang: str
    timezone: str
    reminder: str
    digest: str
    boss_channel: dict[str, str]
    cycle_start: date
    cycle_end: date
    owners: tuple[model.Person, ...]
    away: dict[str, list[tuple[date, date]]]
    last_checkin: dict[str, datetime]  # typed check-ins only: a synced one is no owner's report
    sync: str = model.DEFAULT_SYNC  # when the data sources are pulled
    synced_only: frozenset[str] = frozenset()  # owners whose numbers all come from data sources
    sourced: bool = True  # some measure of the cycle has a data source (False: the sync job has nothing to pull)


def schedule_views(*, uow: UnitOfWork, at: datetime) -> list[ScheduleView]:
    """Every workspace with a current cycle at `at`, with its KR owners (and objective owners with a headline)."""
    views = []
    with uow.begin() as session:
        for row in repository.workspaces(session=session):
            day = at.astimezone(ZoneInfo(row.timezone)).date()
            cycle = repository.current_cycle(session=session, workspace_id=row.id, day=day)
            if cycle is None:
                continue
            owners = repository.schedule_owners(session=session, workspace_id=row.id, cycle_id=cycle.id)
            last = repository.last_checkins(session=session, cycle_id=cycle.id, until=at, typed_only=True)
            synced_only, sourced = pulls.synced_only_owners(session=session, cycle_id=cycle.id)
            views.append(
                ScheduleView(
                    workspace_id=row.id,
                    workspace=row.name,
                    lang=row.language,
                    timezone=row.timezone,
                    reminder=row.reminder,
                    digest=row.digest,
                    boss_channel=dict(row.boss_channel or {}),
                    cycle_start=cycle.start,
                    cycle_end=cycle.end,
                    owners=owners,
                    away=dict(repository.away_days(session=session, workspace_id=row.id)),
                    last_checkin=last,
                    sync=row.sync or model.DEFAULT_SYNC,
                    synced_only=synced_only,
                    sourced=sourced,
                )
            )
    return views


def reminder_rows(
    *, uow: UnitOfWork, people: list[str], at: datetime, workspace: str | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Each named person's KR rows (as /kr list shows them), computed once for many people."""
    with uow.begin() as session:
        scope = load_scope(session=session, workspace=workspace, at=at)
        checkins = repository.load_checkins(session=session, cycle_id=scope.cycle.id, until=at)
    rows = rows_by_person(okr_progress(okrs=scope.okrs, checkins=checkins, as_of=scope.local(at)))
    return {
        key: rows_in_locale(rows=[row for row in rows.get(key, []) if not row.get("contributing")],
                            locale=scope.locale_for(key))
        for key in people
    }


def overdue_tasks(
    *, uow: UnitOfWork, as_of: datetime, workspace: str | None = None
) -> list[tuple[model.Person, model.KeyResult, model.Task]]:
    """Each task past its due date and not done (of KRs not yet done), with the person who owns it."""
    return list(digest_run(uow=uow, as_of=as_of, workspace=workspace).overdue)
