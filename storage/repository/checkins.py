"""Check-ins and their values: stored once per event, read back by cycle or by code."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import DateTime, Select, bindparam, func, insert, select, type_coerce
from sqlalchemy.orm import Session

from bot.core import model
from bot.core.webhooks import checkin_data
from storage import webhooks
from storage.models import (
    AskRow,
    CheckinRow,
    CheckinValueRow,
    MeasureRow,
)
from storage.repository.daily import note_days
from storage.repository.tree import Loaded


def _history_statement(*, until: bool) -> Select[Any]:
    """One code's check-ins in a cycle with their values, oldest first; `until` bound when asked for."""
    query = (
        select(
            CheckinRow.id,
            CheckinRow.code,
            CheckinRow.person_key,
            type_coerce(CheckinRow.at, DateTime()),  # naive UTC, made aware below: no per-row decorator call
            CheckinRow.note,
            CheckinRow.next_step,
            CheckinRow.risk,
            CheckinRow.source,
            CheckinRow.confidence,
            MeasureRow.name,
            CheckinValueRow.value,
        )
        .outerjoin(CheckinValueRow, CheckinValueRow.checkin_id == CheckinRow.id)
        .outerjoin(MeasureRow, MeasureRow.id == CheckinValueRow.measure_id)
        .where(CheckinRow.cycle_id == bindparam("cycle_id"), CheckinRow.code == bindparam("code"))
        .order_by(CheckinRow.at, CheckinRow.id)
    )
    if until:
        query = query.where(CheckinRow.at <= bindparam("until", type_=CheckinRow.at.type))
    return query


_HISTORY = {until: _history_statement(until=until) for until in (False, True)}


def _cycle_statements(*, until: bool) -> tuple[Select[Any], Select[Any]]:
    """A whole cycle's check-ins, then their values (the check-in's words not repeated on each value's row)."""
    checkins = (
        select(
            CheckinRow.id,
            CheckinRow.code,
            CheckinRow.person_key,
            type_coerce(CheckinRow.at, DateTime()),
            CheckinRow.note,
            CheckinRow.next_step,
            CheckinRow.risk,
            CheckinRow.source,
            CheckinRow.confidence,
        )
        .where(CheckinRow.cycle_id == bindparam("cycle_id"))
        .order_by(CheckinRow.at, CheckinRow.id)
    )
    values = (
        select(CheckinValueRow.checkin_id, MeasureRow.name, CheckinValueRow.value)
        .join(CheckinRow, CheckinRow.id == CheckinValueRow.checkin_id)
        .join(MeasureRow, MeasureRow.id == CheckinValueRow.measure_id)
        .where(CheckinRow.cycle_id == bindparam("cycle_id"))
        .order_by(CheckinValueRow.id)
    )
    if until:
        checkins = checkins.where(CheckinRow.at <= bindparam("until", type_=CheckinRow.at.type))
        values = values.where(CheckinRow.at <= bindparam("until", type_=CheckinRow.at.type))
    return checkins, values


_CYCLE = {until: _cycle_statements(until=until) for until in (False, True)}


def load_checkins(
    *, session: Session, cycle_id: int, until: datetime | None = None, code: str | None = None
) -> list[model.Checkin]:
    """Every check-in of the cycle (at or before `until`, of one code, when given), oldest first.

    Read as plain rows through the session's connection (no ORM objects): one code's history (on every check-in) in
    one joined query; a whole cycle's (the digest's tens of thousands) in two, so that no check-in's words are read
    once per value."""
    params = {"cycle_id": cycle_id, "until": until, "code": code}
    connection = session.connection()
    if code is None:
        checkins_query, values_query = _CYCLE[until is not None]
        grouped = {
            checkin_id: model.Checkin(
                code=code, person=person, at=at.replace(tzinfo=UTC), values={}, note=note, next_step=next_step,
                risk=risk, source=source, confidence=confidence,
            )
            for checkin_id, code, person, at, note, next_step, risk, source, confidence in connection.execute(
                checkins_query, params
            )
        }
        for checkin_id, measure, value in connection.execute(values_query, params):
            if checkin_id in grouped:  # outside a snapshot: one committed after the first read is not part of this one
                grouped[checkin_id].values[measure] = value
        return list(grouped.values())
    rows = connection.execute(_HISTORY[until is not None], params).all()
    grouped = {}
    for checkin_id, code, person, at, note, next_step, risk, source, confidence, measure, value in rows:
        checkin = grouped.get(checkin_id)
        if checkin is None:
            checkin = model.Checkin(
                code=code, person=person, at=at.replace(tzinfo=UTC), values={}, note=note, next_step=next_step,
                risk=risk, source=source, confidence=confidence,
            )
            grouped[checkin_id] = checkin
        if measure is not None:
            checkin.values[measure] = value
    return list(grouped.values())


@dataclass(frozen=True, slots=True)
class NewCheckin:
    """A check-in to store: the domain check-in, its asks, where it came from and the platform's key for it."""

    checkin: model.Checkin
    asks: Sequence[model.Ask] = ()
    source: str = "cli"
    event_key: str | None = None


def add_checkins(*, session: Session, loaded: Loaded, items: Sequence[NewCheckin]) -> list[int]:
    """Store check-ins with their values and asks, in batches whatever their number; returns their ids in order."""
    if not items:
        return []
    # keyed by the UTC instant: a local time in the repeated hour of a daylight-saving change never equals a moment
    # of another zone (PEP 495), so the stored rows' UTC times would not find it
    keys = [(item.checkin.code, item.checkin.person, item.checkin.at.astimezone(UTC)) for item in items]
    if len(set(keys)) != len(keys):
        raise ValueError("two check-ins of one code by one person at one moment")
    # RETURNING the key with the id, in whatever order the database gives: batched (insertmanyvalues) on SQLite too,
    # where asking for the parameters' order would send one INSERT per row.
    connection = session.connection()  # Core statements: no ORM objects to track
    returned = connection.execute(
        insert(CheckinRow.__table__).returning(CheckinRow.id, CheckinRow.code, CheckinRow.person_key, CheckinRow.at),
        [
            {
                "workspace_id": loaded.workspace_id,
                "cycle_id": loaded.cycle_id,
                "code": item.checkin.code,
                "person_key": item.checkin.person,
                "at": item.checkin.at,
                "note": item.checkin.note,
                "next_step": item.checkin.next_step,
                "risk": item.checkin.risk,
                "confidence": item.checkin.confidence,
                "source": item.source,
                "event_key": item.event_key,
            }
            for item in items
        ],
        execution_options={"render_nulls": True},  # one batch for every row, not one per pattern of NULLs
    )
    by_key = {(code, person, at.astimezone(UTC)): checkin_id for checkin_id, code, person, at in returned}
    ids = [by_key[key] for key in keys]
    values = [
        {"checkin_id": checkin_id, "measure_id": loaded.measure_ids[(item.checkin.code, name)], "value": value}
        for checkin_id, item in zip(ids, items, strict=True)
        for name, value in item.checkin.values.items()
    ]
    asks = [
        {
            "workspace_id": loaded.workspace_id,
            "cycle_id": loaded.cycle_id,
            "checkin_id": checkin_id,
            "code": ask.code,
            "person_key": ask.person,
            "kind": ask.kind.value,
            "amount": ask.amount,
            "unit": ask.unit,
            "text": ask.text,
            "status": ask.status.value,
            "at": ask.at,
        }
        for checkin_id, item in zip(ids, items, strict=True)
        for ask in item.asks
    ]
    if values:
        connection.execute(insert(CheckinValueRow.__table__), values)
        note_days(session=session, timezone=loaded.okrs.workspace.timezone, values=[
            (checkin_id, loaded.measure_ids[(item.checkin.code, name)], item.checkin.at, value)
            for checkin_id, item in zip(ids, items, strict=True)
            for name, value in item.checkin.values.items()
        ])
    if asks:
        connection.execute(insert(AskRow.__table__), asks, execution_options={"render_nulls": True})
    for source in dict.fromkeys(item.source for item in items):
        tell_checkins(session=session, loaded=loaded, source=source, stored=[
            (checkin_id, item.checkin) for checkin_id, item in zip(ids, items, strict=True) if item.source == source
        ])
    return ids


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
    item = NewCheckin(checkin=checkin, asks=tuple(asks), source=source, event_key=event_key)
    return add_checkins(session=session, loaded=loaded, items=[item])[0]


_CHECKIN_WITH_EVENT = select(CheckinRow.id).where(
    CheckinRow.workspace_id == bindparam("workspace_id"), CheckinRow.event_key == bindparam("event_key")
)


def tell_checkins(
    *, session: Session, loaded: Loaded, stored: Iterable[tuple[int, model.Checkin]], source: str
) -> None:
    """Queue a checkin.saved webhook for each stored check-in, in the transaction that stores them."""
    if loaded.okrs.workspace.webhooks:
        items = [
            checkin_data(checkin=checkin, okrs=loaded.okrs, checkin_id=checkin_id, source=source)
            for checkin_id, checkin in stored
        ]
        webhooks.enqueue(session=session, workspace_id=loaded.workspace_id, workspace=loaded.okrs.workspace,
                         event=model.WebhookEvent.CHECKIN_SAVED, items=items)


def checkin_with_event(*, session: Session, workspace_id: int, event_key: str) -> int | None:
    """The id of the check-in already stored for this platform event, if any."""
    return session.connection().execute(_CHECKIN_WITH_EVENT, {"workspace_id": workspace_id, "event_key": event_key}).scalar()


def last_checkins(*, session: Session, cycle_id: int, until: datetime, typed_only: bool = False) -> dict[str, datetime]:
    """Each person's latest check-in in a cycle up to `until` (UTC); `typed_only` leaves out what data sources pulled."""
    query = select(CheckinRow.person_key, func.max(CheckinRow.at)).where(
        CheckinRow.cycle_id == cycle_id, CheckinRow.at <= until
    )
    if typed_only:
        query = query.where(CheckinRow.source != model.SYNCED)
    rows = session.execute(query.group_by(CheckinRow.person_key)).all()
    return {key: moment.replace(tzinfo=ZoneInfo("UTC")) for key, moment in rows}


def stored_checkin(
    *, session: Session, workspace_id: int, event_key: str
) -> tuple[model.Checkin, list[model.Ask]] | None:
    """The check-in stored for a request's key, with its asks, as it was stored (for answering a retry alike)."""
    row = session.scalar(
        select(CheckinRow).where(CheckinRow.workspace_id == workspace_id, CheckinRow.event_key == event_key)
    )
    if row is None:
        return None
    values = session.execute(
        select(MeasureRow.name, CheckinValueRow.value)
        .join(CheckinValueRow, CheckinValueRow.measure_id == MeasureRow.id)
        .where(CheckinValueRow.checkin_id == row.id)
        .order_by(CheckinValueRow.id)
    )
    checkin = model.Checkin(
        code=row.code, person=row.person_key, at=row.at, values={name: value for name, value in values}, note=row.note,
        next_step=row.next_step, risk=row.risk, source=row.source, confidence=row.confidence,
    )
    asks = [
        model.Ask(id=a.id, code=a.code, person=a.person_key, kind=model.AskKind(a.kind), text=a.text, at=a.at,
                  amount=a.amount, unit=a.unit)
        for a in session.scalars(select(AskRow).where(AskRow.checkin_id == row.id).order_by(AskRow.id))
    ]
    return checkin, asks
