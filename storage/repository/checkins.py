"""Check-ins and their values: stored once per event, read back by cycle or by code."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.orm import Session

from bot.core import model
from storage.models import (
    AskRow,
    CheckinRow,
    CheckinValueRow,
    MeasureRow,
)
from storage.repository.tree import Loaded


def _history_statement(*, until: bool, code: bool) -> Select[Any]:
    """The check-ins of a cycle with their values, oldest first; `until` and `code` bound when asked for."""
    query = (
        select(
            CheckinRow.id,
            CheckinRow.code,
            CheckinRow.person_key,
            CheckinRow.at,
            CheckinRow.note,
            CheckinRow.next_step,
            CheckinRow.risk,
            CheckinRow.source,
            MeasureRow.name,
            CheckinValueRow.value,
        )
        .outerjoin(CheckinValueRow, CheckinValueRow.checkin_id == CheckinRow.id)
        .outerjoin(MeasureRow, MeasureRow.id == CheckinValueRow.measure_id)
        .where(CheckinRow.cycle_id == bindparam("cycle_id"))
        .order_by(CheckinRow.at, CheckinRow.id)
    )
    if until:
        query = query.where(CheckinRow.at <= bindparam("until", type_=CheckinRow.at.type))
    if code:
        query = query.where(CheckinRow.code == bindparam("code"))
    return query


_HISTORY = {(until, code): _history_statement(until=until, code=code) for until in (False, True) for code in (False, True)}


def load_checkins(
    *, session: Session, cycle_id: int, until: datetime | None = None, code: str | None = None
) -> list[model.Checkin]:
    """Every check-in of the cycle (at or before `until`, of one code, when given), oldest first, in one query.

    Read as plain rows through the session's connection (no ORM objects): a KR's history is read on every check-in."""
    statement = _HISTORY[(until is not None, code is not None)]
    rows = session.connection().execute(statement, {"cycle_id": cycle_id, "until": until, "code": code})
    grouped: dict[int, model.Checkin] = {}
    for checkin_id, code, person, at, note, next_step, risk, source, measure, value in rows:
        checkin = grouped.get(checkin_id)
        if checkin is None:
            checkin = model.Checkin(
                code=code, person=person, at=at, values={}, note=note, next_step=next_step, risk=risk,
                source=source,
            )
            grouped[checkin_id] = checkin
        if measure is not None:
            checkin.values[measure] = value
    return list(grouped.values())


def add_checkin(
    *,
    session: Session,
    loaded: Loaded,
    checkin: model.Checkin,
    asks: Iterable[model.Ask] = (),
    source: str,
    event_key: str | None = None,
) -> int:
    """Store one check-in with its values and asks; returns its id."""
    row = CheckinRow(
        workspace_id=loaded.workspace_id,
        cycle_id=loaded.cycle_id,
        code=checkin.code,
        person_key=checkin.person,
        at=checkin.at,
        note=checkin.note,
        next_step=checkin.next_step,
        risk=checkin.risk,
        source=source,
        event_key=event_key,
    )
    session.add(row)
    session.flush()
    session.add_all(
        CheckinValueRow(checkin_id=row.id, measure_id=loaded.measure_ids[(checkin.code, name)], value=value)
        for name, value in checkin.values.items()
    )
    for ask in asks:
        session.add(
            AskRow(
                workspace_id=loaded.workspace_id,
                cycle_id=loaded.cycle_id,
                checkin_id=row.id,
                code=ask.code,
                person_key=ask.person,
                kind=ask.kind.value,
                amount=ask.amount,
                unit=ask.unit,
                text=ask.text,
                status=ask.status.value,
                at=ask.at,
            )
        )
    session.flush()
    return row.id


_CHECKIN_WITH_EVENT = select(CheckinRow.id).where(
    CheckinRow.workspace_id == bindparam("workspace_id"), CheckinRow.event_key == bindparam("event_key")
)


def checkin_with_event(*, session: Session, workspace_id: int, event_key: str) -> int | None:
    """The id of the check-in already stored for this platform event, if any."""
    return session.scalar(_CHECKIN_WITH_EVENT, {"workspace_id": workspace_id, "event_key": event_key})


def last_checkins(*, session: Session, cycle_id: int, until: datetime) -> dict[str, datetime]:
    """Each person's latest check-in in a cycle up to `until` (UTC)."""
    rows = session.execute(
        select(CheckinRow.person_key, func.max(CheckinRow.at))
        .where(CheckinRow.cycle_id == cycle_id, CheckinRow.at <= until)
        .group_by(CheckinRow.person_key)
    ).all()
    return {key: moment.replace(tzinfo=ZoneInfo("UTC")) for key, moment in rows}
