"""What the web's /me and /asks pages show: one person's week (what they owe this period, their KRs' forms, their
asks, the asks waiting on their decision) and the workspace's asks, open and decided."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.core import model
from bot.core.progress import okr_progress
from bot.core.rules import may_decide
from bot.core.weeks import week_of
from bot.services.context import load_scope, person_in
from bot.services.views import rows_by_person
from storage import repository
from storage.db import UnitOfWork
from storage.repository import my_week as store


@dataclass(frozen=True, slots=True)
class AskLine:
    """One ask as the pages list it: who asked, for what, and how (and by whom, with what words) it was decided."""

    id: int
    code: str
    person: str
    asker: str
    kind: str
    text: str
    amount: float | None
    unit: str | None
    status: str
    at: datetime
    decided_by: str | None
    decided_at: datetime | None
    comment: str | None

    @property
    def open(self) -> bool:
        """True while nobody has decided it."""
        return self.status == model.AskStatus.OPEN.value


@dataclass(frozen=True, slots=True)
class MyWeek:
    """One person's week: the period the reminders use (an ISO week on the workspace's clock), each KR they report on
    with its measures and whether it was checked in this period, their asks, and the asks they may decide."""

    period: str
    since: datetime
    reminded_at: datetime | None
    rows: tuple[dict[str, Any], ...]
    checked: dict[str, datetime]
    locale: str
    mine: tuple[AskLine, ...]
    waiting: tuple[AskLine, ...]
    decides: bool

    @property
    def owed(self) -> tuple[str, ...]:
        """The codes not checked in this period (those whose every measure a data source fills owe nothing)."""
        return tuple(row["code"] for row in self.rows if row["code"] not in self.checked and _typed(row))


def _typed(row: dict[str, Any]) -> bool:
    """True when some measure of the row is typed by a person (not pulled by a data source)."""
    return any(not measure["synced"] for measure in row["measures"])


def _line(*, item: store.AskWithComment, names: dict[str, str]) -> AskLine:
    ask = item.ask
    return AskLine(
        id=ask.id or 0, code=ask.code, person=ask.person, asker=names.get(ask.person, ask.person), kind=ask.kind.value,
        text=ask.text, amount=ask.amount, unit=ask.unit, status=ask.status.value, at=ask.at,
        decided_by=names.get(ask.decided_by, ask.decided_by) if ask.decided_by else None, decided_at=ask.decided_at,
        comment=item.comment,
    )


def period_start(*, moment: datetime, timezone: str) -> tuple[str, datetime]:
    """The reminders' period at `moment` (the ISO week on the workspace's clock) and its first instant (Monday)."""
    zone = ZoneInfo(timezone)
    day = moment.astimezone(zone).date()
    monday = day - timedelta(days=day.weekday())
    return week_of(day=day), datetime.combine(monday, time(0, 0), tzinfo=zone)


def my_week(*, uow: UnitOfWork, person: str, at: datetime, workspace: str | None = None) -> MyWeek:
    """The person's week as of `at`: the KRs they own or report for (as the reminder lists them) and their asks."""
    with uow.begin() as session:
        scope = load_scope(session=session, workspace=workspace, at=at)
        me = person_in(scope, person)
        period, since = period_start(moment=at, timezone=scope.workspace.timezone)
        checkins = repository.load_checkins(session=session, cycle_id=scope.cycle.id, until=at)
        rows = [row for row in rows_by_person(okr_progress(okrs=scope.okrs, checkins=checkins,
                                                            as_of=scope.local(at))).get(me.key, [])
                if not row.get("contributing")]
        checked = store.typed_since(session=session, cycle_id=scope.cycle.id, codes=[r["code"] for r in rows],
                                    since=since, until=at)
        reminded = store.reminder_sent(session=session, workspace_id=scope.workspace.id, person=me.key, period=period)
        asks = store.asks_of_cycle(session=session, workspace_id=scope.workspace.id, cycle_id=scope.cycle.id)
    names = {key: p.name for key, p in scope.okrs.people.items()}
    lines = [_line(item=item, names=names) for item in asks]
    decides = may_decide(person=me)
    return MyWeek(
        period=period, since=since, reminded_at=reminded, rows=tuple(rows), checked=checked,
        locale=scope.locale_for(me.key), mine=tuple(line for line in lines if line.person == me.key and line.open),
        waiting=tuple(line for line in lines if line.open) if decides else (), decides=decides,
    )


def all_asks(*, uow: UnitOfWork, at: datetime, workspace: str | None = None) -> tuple[list[AskLine], list[AskLine]]:
    """The current cycle's asks: (open ones, decided ones), each newest first."""
    with uow.begin() as session:
        scope = load_scope(session=session, workspace=workspace, at=at)
        asks = store.asks_of_cycle(session=session, workspace_id=scope.workspace.id, cycle_id=scope.cycle.id)
    names = {key: p.name for key, p in scope.okrs.people.items()}
    lines = [_line(item=item, names=names) for item in asks]
    return [line for line in lines if line.open], [line for line in lines if not line.open]
