"""The delivery ledger: a row per (workspace, kind, target, period), claimed before a send and marked after it."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Protocol

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from storage.db import UnitOfWork
from storage.models import DeliveryRow

log = logging.getLogger("krbot.ledger")

LEASE = timedelta(minutes=10)
FINAL = ("sent", "failed", "missed")


class Slot(Protocol):
    """What the ledger needs of a due send: its unique key and the scheduled slot."""

    workspace_id: int
    kind: str
    target: str
    period: str
    slot: datetime

_SQLITE_WRITES = threading.Lock()


def insert_for(uow: UnitOfWork) -> Any:
    """The dialect's INSERT with ON CONFLICT."""
    return insert_of(dialect=uow.engine.dialect.name)


def insert_of(*, dialect: str) -> Any:
    """The INSERT with ON CONFLICT of a dialect, by name."""
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def writing(uow: UnitOfWork) -> Any:
    """Serialise this process's ledger writes on SQLite (one writer at a time anyway; saves its busy-wait sleeps)."""
    return _SQLITE_WRITES if uow.engine.dialect.name == "sqlite" else nullcontext()


def _key(item: Slot) -> Any:
    return (
        (DeliveryRow.workspace_id == item.workspace_id)
        & (DeliveryRow.kind == item.kind)
        & (DeliveryRow.target == item.target)
        & (DeliveryRow.period == item.period)
    )


class Claim(NamedTuple):
    """A claimed ledger row: its id, and whether an earlier try may already have reached the platform."""

    id: int
    taken_over: bool


def claim(*, uow: UnitOfWork, item: Slot, worker: str, now: datetime, lease: timedelta = LEASE) -> Claim | None:
    """The claim when this worker may send `item` (a new row, a queued one, or one whose lease ran out); else None.

    The claim counts the first try; each later try is counted (and the lease renewed) by `attempt`.
    """
    statement = (
        insert_for(uow)(DeliveryRow)
        .values(
            workspace_id=item.workspace_id, kind=item.kind, target=item.target, period=item.period,
            status="claimed", claimed_by=worker, claimed_at=now, attempts=1,
        )
        .on_conflict_do_nothing(index_elements=["workspace_id", "kind", "target", "period"])
        .returning(DeliveryRow.id)
    )
    open_to_take = (DeliveryRow.status == "queued") | (
        (DeliveryRow.status == "claimed") & (DeliveryRow.claimed_at < now - lease)
    )
    with writing(uow), uow.begin() as session:
        claimed = session.execute(statement).scalar()
        if claimed is not None:
            return Claim(id=claimed, taken_over=False)
        taken = session.execute(
            update(DeliveryRow)
            .where(_key(item), open_to_take)
            .values(status="claimed", claimed_by=worker, claimed_at=now, attempts=DeliveryRow.attempts + 1)
            .returning(DeliveryRow.id, DeliveryRow.attempts)
        ).first()
    if taken is None:
        return None
    if taken.attempts > 1:
        log.warning("took over %s %s %s: its claim outlived the lease", item.kind, item.target, item.period)
    return Claim(id=taken.id, taken_over=taken.attempts > 1)


def enqueue(*, uow: UnitOfWork, items: Sequence[tuple[Slot, dict[str, Any]]], now: datetime) -> None:
    """Write rows for items still to send, each with what it sends (a row already there is left as it is)."""
    if not items:
        return
    rows = [
        {
            "workspace_id": item.workspace_id, "kind": item.kind, "target": item.target, "period": item.period,
            "status": "queued", "claimed_at": now, "attempts": 0, "payload": payload,
        }
        for item, payload in items
    ]
    statement = insert_for(uow)(DeliveryRow).on_conflict_do_nothing(
        index_elements=["workspace_id", "kind", "target", "period"]
    )
    with writing(uow), uow.begin() as session:
        session.execute(statement, rows)


def unfinished(
    *, uow: UnitOfWork, workspace_id: int, kind: str, now: datetime, lease: timedelta = LEASE
) -> list[DeliveryRow]:
    """Rows of one kind still owed: queued, or claimed by a worker whose lease ran out; oldest first."""
    with uow.begin() as session:
        return list(
            session.scalars(
                select(DeliveryRow)
                .where(
                    DeliveryRow.workspace_id == workspace_id,
                    DeliveryRow.kind == kind,
                    (DeliveryRow.status == "queued")
                    | ((DeliveryRow.status == "claimed") & (DeliveryRow.claimed_at < now - lease)),
                )
                .order_by(DeliveryRow.id)
            )
        )


def sent_message(*, uow: UnitOfWork, item: Slot) -> str | None:
    """The platform's message id of an item marked sent, else None."""
    with uow.begin() as session:
        return session.scalar(
            select(DeliveryRow.message_id).where(_key(item), DeliveryRow.status == "sent")
        )


def record_missed(*, uow: UnitOfWork, item: Slot, now: datetime) -> bool:
    """Log a slot past its grace window as missed (once); True when this call logged it."""
    statement = (
        insert_for(uow)(DeliveryRow)
        .values(
            workspace_id=item.workspace_id, kind=item.kind, target=item.target, period=item.period,
            status="missed", claimed_at=now, attempts=0, error=f"slot {item.slot.isoformat()} past its grace window",
        )
        .on_conflict_do_nothing(index_elements=["workspace_id", "kind", "target", "period"])
        .returning(DeliveryRow.id)
    )
    with writing(uow), uow.begin() as session:
        logged = session.execute(statement).scalar() is not None
    if logged:
        log.info("missed %s to %s for %s (slot %s)", item.kind, item.target, item.period, item.slot.isoformat())
    return logged


def attempt(*, uow: UnitOfWork, row_id: int, worker: str, now: datetime) -> bool:
    """Count one try and renew the lease; False when another worker has taken the claim over."""
    with writing(uow), uow.begin() as session:
        result = session.execute(
            update(DeliveryRow)
            .where(DeliveryRow.id == row_id, DeliveryRow.claimed_by == worker, DeliveryRow.status == "claimed")
            .values(attempts=DeliveryRow.attempts + 1, claimed_at=now)
        )
        return result.rowcount == 1


def finish(
    *,
    uow: UnitOfWork,
    row_id: int,
    worker: str,
    now: datetime,
    sent: tuple[str, str] | None,
    error: str | None,
    again: Callable[[int], datetime | None] | None = None,
) -> str:
    """Mark a claim sent (with the platform and its message id) or failed (with the last error); the status written.

    `again` (of the tries counted so far) may put a failed claim back in the queue, due at the time it returns."""
    values: dict[str, Any] = (
        {"status": "sent", "sent_at": now, "platform": sent[0], "message_id": sent[1], "error": None}
        if sent is not None
        else {"status": "failed", "error": (error or "")[:2000]}
    )
    mine = (DeliveryRow.id == row_id) & (DeliveryRow.claimed_by == worker)
    with writing(uow), uow.begin() as session:
        if sent is None and again is not None:
            attempts = session.scalar(select(DeliveryRow.attempts).where(mine))
            due = again(attempts) if attempts is not None else None
            if due is not None:
                values.update(status="queued", claimed_at=due, claimed_by=None)
        session.execute(update(DeliveryRow).where(mine).values(**values))
    return str(values["status"])


Key = tuple[int, str, str, str]


def key_of(item: Slot, /) -> Key:
    """The ledger's unique key of an item."""
    return (item.workspace_id, item.kind, item.target, item.period)


def settled(
    *, uow: UnitOfWork, items: Sequence[Slot], now: datetime, lease: timedelta = LEASE
) -> tuple[set[Key], set[Key]]:
    """Keys of `items` the ledger holds: (final — sent, failed or missed —, claimed by a worker within its lease).

    A queued row, or one claimed by a worker whose lease ran out, is in neither: it is still owed."""
    if not items:
        return set(), set()
    periods = {item.period for item in items}
    kinds = {item.kind for item in items}
    with uow.begin() as session:
        rows = session.execute(
            select(DeliveryRow.kind, DeliveryRow.target, DeliveryRow.period, DeliveryRow.status, DeliveryRow.claimed_at)
            .where(
                DeliveryRow.workspace_id == items[0].workspace_id,
                DeliveryRow.kind.in_(kinds),
                DeliveryRow.period.in_(periods),
            )
        ).all()
    workspace_id = items[0].workspace_id
    final = {(workspace_id, kind, target, period) for kind, target, period, status, _ in rows if status in FINAL}
    live = {
        (workspace_id, kind, target, period)
        for kind, target, period, status, claimed_at in rows
        if status == "claimed" and claimed_at >= now - lease
    }
    return final, live


def failed_between(*, session: Any, workspace_id: int, since: datetime, until: datetime) -> list[DeliveryRow]:
    """The workspace's sends recorded failed after their last try, claimed in (since, until], oldest first (a data
    source's failed pull is no send: its owner is told, and the digest shows it beside its number)."""
    return list(
        session.scalars(
            select(DeliveryRow)
            .where(
                DeliveryRow.workspace_id == workspace_id,
                DeliveryRow.status == "failed",
                DeliveryRow.kind != "sync",
                DeliveryRow.claimed_at >= since,
                DeliveryRow.claimed_at <= until,
            )
            .order_by(DeliveryRow.claimed_at, DeliveryRow.id)
        )
    )


# ---------------------------------------------------------------- follow-ups owed for what a request stored


def owe(*, uow: UnitOfWork, items: Sequence[tuple[Slot, dict[str, Any]]]) -> None:
    """Queue sends with what they send inside the caller's transaction (a joined `atomic()`), so they are owed exactly
    when what they answer is stored; a row already there is left as it is. No process lock here: the atomic writer
    already holds the database's."""
    if not items:
        return
    rows = [
        {"workspace_id": item.workspace_id, "kind": item.kind, "target": item.target, "period": item.period,
         "status": "queued", "claimed_at": item.slot, "attempts": 0, "payload": payload}
        for item, payload in items
    ]
    statement = insert_for(uow)(DeliveryRow).on_conflict_do_nothing(
        index_elements=["workspace_id", "kind", "target", "period"]
    )
    with uow.begin() as session:
        session.execute(statement, rows)


def owed(*, uow: UnitOfWork, kinds: Sequence[str], limit: int = 200) -> list[DeliveryRow]:
    """Rows of these kinds that carry what they send and are not marked yet (queued, or claimed by a worker that may
    have died), in every workspace; oldest first."""
    with uow.begin() as session:
        return list(
            session.scalars(
                select(DeliveryRow)
                .where(
                    DeliveryRow.kind.in_(kinds),
                    DeliveryRow.payload.is_not(None),
                    DeliveryRow.status.in_(("queued", "claimed")),
                )
                .order_by(DeliveryRow.id)
                .limit(limit)
            )
        )
