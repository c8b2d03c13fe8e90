"""The OKR file's `was:` renames applied to stored rows, and the history an import would archive."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from storage.models import (
    AskRow,
    CheckinRow,
    CheckinValueRow,
    GoalChangeRow,
    KrRow,
    MeasureRow,
    ObjectiveRow,
    PathRow,
    TaskRow,
)

# log(code, measure, field, old, new): record one goal change of the import
Log = Callable[[str, str | None, str, object, object], None]


@dataclass(frozen=True, slots=True)
class Renames:
    """What the file says was renamed: {new code: old code} and {(code, new measure name): old name}."""

    codes: dict[str, str] = field(default_factory=dict)
    measures: dict[tuple[str, str], str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ArchivedHistory:
    """An objective, KR or measure an import archives although it has check-ins: what, and how many."""

    kind: str  # objective | kr | measure
    code: str
    name: str  # the title, or the measure's name
    checkins: int


def apply_renames(*, session: Session, cycle_id: int, renames: Renames, log: Log) -> bool:
    """Move each renamed code's and measure's rows (and so their check-ins) to the new code or name; True when one
    measure's values joined another's (whose days must then be reckoned again)."""
    merged = False
    for new, old in renames.codes.items():
        merged |= _rename_code(session=session, cycle_id=cycle_id, old=old, new=new, log=log)
    for (code, new), old in renames.measures.items():
        merged |= _rename_measure(session=session, cycle_id=cycle_id, code=code, old=old, new=new, log=log)
    session.flush()
    return merged


def _owner_row(session: Session, cycle_id: int, code: str) -> KrRow | ObjectiveRow | None:
    for row_type in (KrRow, ObjectiveRow):
        row = session.scalar(select(row_type).where(row_type.cycle_id == cycle_id, row_type.code == code))
        if row is not None:
            return row
    return None


def _rename_code(*, session: Session, cycle_id: int, old: str, new: str, log: Log) -> bool:
    """KR or objective `old` becomes `new`; when `new` was already imported alone, the two histories merge (True)."""
    old_row = _owner_row(session, cycle_id, old)
    if old_row is None:
        return False  # nothing stored under the old code: nothing to keep (or renamed already)
    new_row = _owner_row(session, cycle_id, new)
    if new_row is not None and not old_row.archived:
        return False  # both live: the file's check refuses that; nothing to move
    for table in (CheckinRow, AskRow):
        session.execute(update(table).where(table.cycle_id == cycle_id, table.code == old).values(code=new))
    session.execute(
        update(GoalChangeRow).where(GoalChangeRow.cycle_id == cycle_id, GoalChangeRow.code == old).values(code=new)
    )
    merged = False
    for measure in session.scalars(select(MeasureRow).where(MeasureRow.cycle_id == cycle_id, MeasureRow.code == old)):
        merged |= _move_measure(session=session, cycle_id=cycle_id, row=measure, code=new, name=measure.name)
    if new_row is None:
        old_row.code = new
    else:
        _fold_into(session=session, old_row=old_row, new_row=new_row)
    session.flush()
    log(new, None, "code", old, new)
    return merged


def _fold_into(*, session: Session, old_row: KrRow | ObjectiveRow, new_row: KrRow | ObjectiveRow) -> None:
    """Drop the archived `old_row` once its history moved to `new_row`; an objective's paths move with it."""
    if isinstance(old_row, ObjectiveRow) and isinstance(new_row, ObjectiveRow):
        new_paths = {p.code: p for p in session.scalars(select(PathRow).where(PathRow.objective_id == new_row.id))}
        for path in list(session.scalars(select(PathRow).where(PathRow.objective_id == old_row.id))):
            if path.code in new_paths:
                session.execute(update(KrRow).where(KrRow.path_id == path.id).values(path_id=new_paths[path.code].id))
                session.execute(delete(PathRow).where(PathRow.id == path.id))
            else:
                path.objective_id = new_row.id
        session.flush()
    if isinstance(old_row, KrRow):
        session.execute(delete(TaskRow).where(TaskRow.kr_id == old_row.id))
    session.delete(old_row)


def _rename_measure(*, session: Session, cycle_id: int, code: str, old: str, new: str, log: Log) -> bool:
    """Measure `old` of `code` becomes `new` (names compared without regard to case); True when values merged."""
    rows = session.scalars(select(MeasureRow).where(MeasureRow.cycle_id == cycle_id, MeasureRow.code == code))
    by_name = {row.name.casefold(): row for row in rows}
    row = by_name.get(old.casefold())
    if row is None or row.name == new:
        return False
    current = by_name.get(new.casefold())
    if current is not None and current is not row and not row.archived:
        return False
    session.execute(
        update(GoalChangeRow)
        .where(GoalChangeRow.cycle_id == cycle_id, GoalChangeRow.code == code, GoalChangeRow.measure == row.name)
        .values(measure=new)
    )
    old_name = row.name
    merged = _move_measure(session=session, cycle_id=cycle_id, row=row, code=code, name=new)
    log(code, new, "name", old_name, new)
    return merged


def _move_measure(*, session: Session, cycle_id: int, row: MeasureRow, code: str, name: str) -> bool:
    """Give `row` its new code and name; when that measure exists already, its values join it and `row` goes (True)."""
    target = session.scalar(
        select(MeasureRow).where(MeasureRow.cycle_id == cycle_id, MeasureRow.code == code, MeasureRow.name == name)
    )
    if target is None or target.id == row.id:
        row.code, row.name = code, name
        session.flush()
        return False
    session.execute(update(CheckinValueRow).where(CheckinValueRow.measure_id == row.id).values(measure_id=target.id))
    session.execute(delete(MeasureRow).where(MeasureRow.id == row.id))
    session.flush()
    return True


def archived_history(
    *,
    session: Session,
    cycle_id: int,
    objectives: Iterable[ObjectiveRow],
    krs: Iterable[KrRow],
    measures: Iterable[MeasureRow],
) -> list[ArchivedHistory]:
    """Of the rows an import just archived, those with check-ins, and how many (a measure only when its owner stays)."""
    found: list[ArchivedHistory] = []
    gone: set[str] = set()
    for kind, rows in (("objective", list(objectives)), ("kr", list(krs))):
        for row in rows:
            gone.add(row.code)
            count = session.scalar(
                select(func.count()).select_from(CheckinRow).where(
                    CheckinRow.cycle_id == cycle_id, CheckinRow.code == row.code
                )
            )
            if count:
                found.append(ArchivedHistory(kind=kind, code=row.code, name=row.title, checkins=int(count)))
    for measure in measures:
        if measure.code in gone:
            continue
        count = session.scalar(
            select(func.count()).select_from(CheckinValueRow).where(CheckinValueRow.measure_id == measure.id)
        )
        if count:
            found.append(ArchivedHistory(kind="measure", code=measure.code, name=measure.name, checkins=int(count)))
    return found
