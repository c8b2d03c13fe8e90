"""Each measure's last value per calendar day, kept as check-ins arrive and read back as a forecast's history.

A forecast reads each day's latest value (CONTRACT §7) and the latest value before a moment, never the values a
day's later check-in replaced. So `day_values` keeps one row per measure and day of the workspace's calendar,
written in the transaction that stores the check-in, and a check-in's answer reads at most one row per measure and
day: `/kr update` costs the same however often a person or a data source reports. A new timezone re-reckons the days.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import DateTime, bindparam, delete, select, type_coerce
from sqlalchemy.orm import Session

from bot.core import model
from storage.ledger import insert_of
from storage.models import CheckinRow, CheckinValueRow, CycleRow, DayValueRow, MeasureRow

CHUNK = 500  # rows per INSERT: well under every database's limit on parameters
DayValue = tuple[int, int, datetime, float]  # (check-in id, measure id, at, value)


def _upsert(*, dialect: str) -> Any:
    """INSERT a day's value, or replace the stored one when this one is later (by time, then by check-in id)."""
    statement = insert_of(dialect=dialect)(DayValueRow.__table__)
    table, new = DayValueRow.__table__, statement.excluded
    return statement.on_conflict_do_update(
        index_elements=[table.c.measure_id, table.c.day],
        set_={"at": new.at, "checkin_id": new.checkin_id, "value": new.value},
        where=(new.at > table.c.at) | ((new.at == table.c.at) & (new.checkin_id > table.c.checkin_id)),
    )


_UPSERTS = {dialect: _upsert(dialect=dialect) for dialect in ("sqlite", "postgresql")}


def note_days(*, session: Session, timezone: str, values: Iterable[DayValue]) -> None:
    """Keep each stored value as its measure's value of its day (in `timezone`) where it is that day's latest."""
    zone = ZoneInfo(timezone)
    latest: dict[tuple[int, date], tuple[datetime, int, float]] = {}
    for checkin_id, measure_id, at, value in values:
        moment = at.astimezone(UTC)
        key = (measure_id, moment.astimezone(zone).date())
        held = latest.get(key)
        if held is None or (moment, checkin_id) > held[:2]:
            latest[key] = (moment, checkin_id, value)
    rows = [{"measure_id": measure_id, "day": day, "at": at, "checkin_id": checkin_id, "value": value}
            for (measure_id, day), (at, checkin_id, value) in latest.items()]
    connection = session.connection()
    upsert = _UPSERTS[connection.dialect.name]
    for start in range(0, len(rows), CHUNK):
        connection.execute(upsert, rows[start:start + CHUNK])


def reckon_days(*, session: Session, workspace_id: int, timezone: str) -> None:
    """Re-reckon a workspace's days from every stored value (its timezone changed, or the table is new)."""
    measures = select(MeasureRow.id).join(CycleRow, CycleRow.id == MeasureRow.cycle_id).where(CycleRow.workspace_id == workspace_id)
    session.execute(delete(DayValueRow).where(DayValueRow.measure_id.in_(measures)))
    rows = session.execute(
        select(CheckinValueRow.checkin_id, CheckinValueRow.measure_id, type_coerce(CheckinRow.at, DateTime()),
               CheckinValueRow.value)
        .join(CheckinRow, CheckinRow.id == CheckinValueRow.checkin_id)
        .where(CheckinRow.workspace_id == workspace_id)
    )
    note_days(session=session, timezone=timezone,
              values=((checkin_id, measure_id, at.replace(tzinfo=UTC), value) for checkin_id, measure_id, at, value in rows))


_DAYS_OF_CODE = (
    select(DayValueRow.checkin_id, type_coerce(DayValueRow.at, DateTime()), MeasureRow.name, DayValueRow.value,
           DayValueRow.day, DayValueRow.measure_id)
    .join(MeasureRow, MeasureRow.id == DayValueRow.measure_id)
    .where(MeasureRow.cycle_id == bindparam("cycle_id"), MeasureRow.code == bindparam("code"),
           DayValueRow.day <= bindparam("day"))
)
_LATEST_UNTIL = (  # one measure's latest value at or before a moment (when the day's last came after it)
    select(CheckinValueRow.checkin_id, type_coerce(CheckinRow.at, DateTime()), CheckinValueRow.value)
    .join(CheckinRow, CheckinRow.id == CheckinValueRow.checkin_id)
    .where(CheckinValueRow.measure_id == bindparam("measure_id"),
           CheckinRow.at <= bindparam("until", type_=CheckinRow.at.type))
    .order_by(CheckinRow.at.desc(), CheckinRow.id.desc())
    .limit(1)
)


def day_history(*, session: Session, cycle_id: int, code: str, until: datetime, timezone: str) -> list[model.Checkin]:
    """One code's values up to `until`, each the last of its measure's calendar day, as check-ins oldest first.

    A forecast, a value at a moment and a deadline's result read from these are those read from the whole history.
    Who reported and their words are not read (person is empty)."""
    zone = ZoneInfo(timezone)
    connection = session.connection()
    kept: dict[tuple[str, date], tuple[datetime, int, float]] = {}
    late: dict[int, str] = {}
    for checkin_id, at, name, value, day, measure_id in connection.execute(
        _DAYS_OF_CODE, {"cycle_id": cycle_id, "code": code, "day": until.astimezone(zone).date()}
    ):
        moment = at.replace(tzinfo=UTC)
        if moment > until:  # the day of `until` went on after it: its value then is read below
            late[measure_id] = name
            continue
        _keep(kept, name=name, day=day, moment=moment, checkin_id=checkin_id, value=value)
    for measure_id, name in late.items():
        found = connection.execute(_LATEST_UNTIL, {"measure_id": measure_id, "until": until}).first()
        if found is not None:
            moment = found[1].replace(tzinfo=UTC)
            _keep(kept, name=name, day=moment.astimezone(zone).date(), moment=moment, checkin_id=found[0], value=found[2])
    grouped: dict[int, model.Checkin] = {}
    for (name, _day), (moment, checkin_id, value) in sorted(kept.items(), key=lambda item: item[1][:2]):
        checkin = grouped.get(checkin_id)
        if checkin is None:
            checkin = grouped[checkin_id] = model.Checkin(code=code, person="", at=moment, values={})
        checkin.values[name] = value
    return list(grouped.values())


def _keep(kept: dict[tuple[str, date], tuple[datetime, int, float]], *, name: str, day: date, moment: datetime,
          checkin_id: int, value: float) -> None:
    """Hold a value as its measure name's value of the day when it is the day's latest so far (an archived measure and
    its successor of the same name share a day)."""
    held = kept.get((name, day))
    if held is None or (moment, checkin_id) > held[:2]:
        kept[(name, day)] = (moment, checkin_id, value)
