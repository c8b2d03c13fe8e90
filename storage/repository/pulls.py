"""Data sources' bookkeeping: the last pulls per measure, a sync's claims in the ledger, and synced check-ins in bulk."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from bot.core import model
from storage.ledger import insert_of
from storage.models import (
    CheckinRow,
    CheckinValueRow,
    DeliveryRow,
    KrRow,
    MeasureRow,
    ObjectiveRow,
    SourcePullRow,
)
from storage.repository.checkins import tell_checkins
from storage.repository.daily import note_days
from storage.repository.tree import Loaded

CHUNK = 500  # rows per multi-row statement (well under every database's parameter limit)
SYNC = "sync"  # the ledger kind of a pull: target "measure:<id>", period the slot


@dataclass(frozen=True, slots=True)
class PullResult:
    """One source's pull: a value stored, or why not, and whether its owner is told now."""

    measure_id: int
    value: float | None
    error: str | None
    tell: bool = False


def pull_rows(*, session: Session, workspace_id: int) -> dict[int, SourcePullRow]:
    """The workspace's last pulls by measure id."""
    rows = session.scalars(select(SourcePullRow).where(SourcePullRow.workspace_id == workspace_id))
    return {row.measure_id: row for row in rows}


def claim_pulls(
    *, session: Session, workspace_id: int, measure_ids: Sequence[int], period: str, worker: str, now: datetime,
    lease: timedelta,
) -> dict[int, int]:
    """Claim in the ledger the pulls this worker may make in `period` ({measure id: ledger row id}): new rows, and
    claims whose lease ran out; a pull another worker claimed or finished in this period is left to it."""
    claimed: dict[int, int] = {}
    targets = {f"measure:{measure_id}": measure_id for measure_id in measure_ids}
    names = list(targets)
    rows = [
        {"workspace_id": workspace_id, "kind": SYNC, "target": target, "period": period, "status": "claimed",
         "claimed_by": worker, "claimed_at": now, "attempts": 1}
        for target in names
    ]
    if rows:  # one executemany, sent in batches of many VALUES; RETURNING gives the rows this worker inserted
        statement = (
            insert_of(dialect=session.get_bind().dialect.name)(DeliveryRow)
            .on_conflict_do_nothing(index_elements=["workspace_id", "kind", "target", "period"])
            .returning(DeliveryRow.id, DeliveryRow.target)
        )
        claimed.update({targets[target]: row_id for row_id, target in session.execute(statement, rows)})
    left = [name for name in names if targets[name] not in claimed]
    for start in range(0, len(left), CHUNK):
        expired = session.execute(
            update(DeliveryRow)
            .where(
                DeliveryRow.workspace_id == workspace_id, DeliveryRow.kind == SYNC, DeliveryRow.period == period,
                DeliveryRow.target.in_(left[start:start + CHUNK]), DeliveryRow.status == "claimed",
                DeliveryRow.claimed_at < now - lease,
            )
            .values(claimed_by=worker, claimed_at=now, attempts=DeliveryRow.attempts + 1)
            .returning(DeliveryRow.id, DeliveryRow.target)
        )
        claimed.update({targets[target]: row_id for row_id, target in expired})
    return claimed


def finish_pulls(
    *, session: Session, claims: dict[int, int], results: Sequence[PullResult], checkin_ids: dict[int, int], now: datetime
) -> None:
    """Mark each claimed pull done in the ledger: "sent" with the check-in that holds it, or "failed" with why."""
    values = [
        {"id": claims[r.measure_id], "status": "failed" if r.error else "sent", "sent_at": None if r.error else now,
         "platform": SYNC, "message_id": None if r.error else f"checkin:{checkin_ids.get(r.measure_id)}",
         "error": (r.error or None) and r.error[:2000]}
        for r in results
    ]
    if values:
        session.execute(update(DeliveryRow), values)


def record_pulls(
    *, session: Session, workspace_id: int, results: Sequence[PullResult], now: datetime, today: date
) -> None:
    """Write each pull's outcome onto its measure's row: a value with ok_at, or an error with failed_at (and told_on
    when its owner is told now); the last good value stays."""
    good = [{"workspace_id": workspace_id, "measure_id": r.measure_id, "tried_at": now, "ok_at": now, "value": r.value}
            for r in results if r.error is None]
    bad = [{"workspace_id": workspace_id, "measure_id": r.measure_id, "tried_at": now, "failed_at": now,
            "error": r.error, "told_on": today if r.tell else None} for r in results if r.error is not None]
    statement = insert_of(dialect=session.get_bind().dialect.name)(SourcePullRow)
    new = statement.excluded
    for rows, kept in (
        (good, {"ok_at": new.ok_at, "value": new.value}),
        (bad, {"failed_at": new.failed_at, "error": new.error, "told_on": func.coalesce(new.told_on, SourcePullRow.told_on)}),
    ):
        if rows:
            session.execute(statement.on_conflict_do_update(index_elements=["measure_id"],
                                                            set_={"tried_at": new.tried_at, **kept}), rows)


def add_synced_checkins(*, session: Session, loaded: Loaded, checkins: Sequence[model.Checkin]) -> dict[str, int]:
    """Store many synced check-ins with their values in a few statements; {code: check-in id}."""
    if not checkins:
        return {}
    ids: dict[str, int] = {}
    connection = session.connection()  # plain rows, written by the table itself: no ORM bookkeeping per row
    checkins_table, values_table = CheckinRow.__table__, CheckinValueRow.__table__
    for start in range(0, len(checkins), CHUNK):
        chunk = checkins[start:start + CHUNK]
        rows = connection.execute(
            insert(checkins_table).returning(checkins_table.c.code, checkins_table.c.id),  # by code: batched, any order
            [
                {"workspace_id": loaded.workspace_id, "cycle_id": loaded.cycle_id, "code": c.code,
                 "person_key": c.person, "at": c.at, "note": None, "next_step": None, "risk": None,
                 "source": model.SYNCED, "event_key": None}
                for c in chunk
            ],
        ).all()
        ids.update({code: row_id for code, row_id in rows})
    values = [
        {"checkin_id": ids[c.code], "measure_id": loaded.measure_ids[(c.code, name)], "value": value}
        for c in checkins
        for name, value in c.values.items()
    ]
    for start in range(0, len(values), CHUNK):
        connection.execute(insert(values_table), values[start:start + CHUNK])
    note_days(session=session, timezone=loaded.okrs.workspace.timezone, values=[
        (ids[c.code], loaded.measure_ids[(c.code, name)], c.at, value) for c in checkins for name, value in c.values.items()
    ])
    tell_checkins(session=session, loaded=loaded, stored=[(ids[c.code], c) for c in checkins], source=model.SYNCED)
    return ids


def synced_only_owners(*, session: Session, cycle_id: int) -> tuple[frozenset[str], bool]:
    """People of a cycle whose every live measure (of the KRs and objectives they own) has a data source, and
    whether any live measure of the cycle has one."""
    kr_rows = session.execute(
        select(KrRow.owner_key, MeasureRow.source)
        .join(MeasureRow, (MeasureRow.cycle_id == KrRow.cycle_id) & (MeasureRow.code == KrRow.code))
        .where(KrRow.cycle_id == cycle_id, KrRow.archived.is_(False), MeasureRow.archived.is_(False))
    ).all()
    objective_rows = session.execute(
        select(ObjectiveRow.owner_key, MeasureRow.source)
        .join(MeasureRow, (MeasureRow.cycle_id == ObjectiveRow.cycle_id) & (MeasureRow.code == ObjectiveRow.code))
        .where(ObjectiveRow.cycle_id == cycle_id, ObjectiveRow.archived.is_(False), MeasureRow.archived.is_(False))
    ).all()
    typed: set[str] = set()
    owners: set[str] = set()
    sourced = False
    for owner, source in [*kr_rows, *objective_rows]:
        owners.add(owner)
        sourced = sourced or bool(source)
        if not source:
            typed.add(owner)
    return frozenset(owners - typed), sourced


def pull_summary(*, session: Session, workspace_id: int) -> dict[str, Any]:
    """How the workspace's sources stand: how many last pulled a value, how many last failed, and the last try."""
    rows = session.execute(
        select(SourcePullRow.tried_at, SourcePullRow.ok_at, SourcePullRow.failed_at)
        .where(SourcePullRow.workspace_id == workspace_id)
    ).all()
    failed = sum(1 for _, ok_at, failed_at in rows if failed_at is not None and (ok_at is None or failed_at > ok_at))
    tried = [tried_at for tried_at, _, _ in rows if tried_at is not None]
    return {"pulled": len(rows) - failed, "failed": failed, "last": max(tried) if tried else None}
