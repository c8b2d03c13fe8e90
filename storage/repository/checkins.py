"""Check-ins and their values: stored once per event, read back by cycle or by code."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
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
from storage.repository.tree import Loaded


def load_checkins(
    *, session: Session, cycle_id: int, until: datetime | None = None, code: str | None = None
) -> list[model.Checkin]:
    """Every check-in of the cycle (at or before `until`, of one code, when given), oldest first, in one query."""
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
        .where(CheckinRow.cycle_id == cycle_id)
        .order_by(CheckinRow.at, CheckinRow.id)
    )
    if until is not None:
        query = query.where(CheckinRow.at <= until)
    if code is not None:
        query = query.where(CheckinRow.code == code)
    rows = session.execute(query)
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
    tell_checkins(session=session, loaded=loaded, stored=[(row.id, checkin)], source=source)
    return row.id


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
    return session.scalar(
        select(CheckinRow.id).where(
            CheckinRow.workspace_id == workspace_id, CheckinRow.event_key == event_key
        )
    )


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
        next_step=row.next_step, risk=row.risk, source=row.source,
    )
    asks = [
        model.Ask(id=a.id, code=a.code, person=a.person_key, kind=model.AskKind(a.kind), text=a.text, at=a.at,
                  amount=a.amount, unit=a.unit)
        for a in session.scalars(select(AskRow).where(AskRow.checkin_id == row.id).order_by(AskRow.id))
    ]
    return checkin, asks
