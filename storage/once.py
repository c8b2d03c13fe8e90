"""Conditional writes: each state change states what it expects to find, so that it happens once whoever races it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from storage.models import AskRow, KrRow, MeasureRow, ObjectiveRow, ProcessedEventRow, RequestKeyRow, TaskRow

OPEN = "open"
KEY_PLATFORM = "once"  # the processed_events rows that key a state change by the request that asked for it


def decide_ask(
    *, session: Session, workspace_id: int, ask_id: int, status: str, by: str, at: datetime, comment: str | None = None
) -> bool:
    """Decide an ask if it is still open (`UPDATE … WHERE status = 'open'`); False when another decision won."""
    result = session.execute(
        update(AskRow)
        .where(AskRow.id == ask_id, AskRow.workspace_id == workspace_id, AskRow.status == OPEN)
        .values(status=status, decided_by=by, decided_at=at, decision_comment=comment)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def ask_decision(*, session: Session, workspace_id: int, ask_id: int) -> tuple[str, str | None] | None:
    """(status, decider's key) of one ask as stored now, or None when there is no such ask."""
    row = session.execute(
        select(AskRow.status, AskRow.decided_by).where(AskRow.id == ask_id, AskRow.workspace_id == workspace_id)
    ).first()
    return (row[0], row[1]) if row else None


def finish_task(*, session: Session, cycle_id: int, code: str, title: str) -> bool:
    """Set one KR task done if it is not yet (`UPDATE … WHERE done = false`); False when it already was."""
    task_id = session.scalar(
        select(TaskRow.id)
        .join(KrRow, TaskRow.kr_id == KrRow.id)
        .where(KrRow.cycle_id == cycle_id, KrRow.code == code, TaskRow.title == title)
    )
    if task_id is None:
        return False
    result = session.execute(
        update(TaskRow)
        .where(TaskRow.id == task_id, TaskRow.done.is_(False))
        .values(done=True)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


GOAL_TABLES: dict[str, Any] = {"measure": MeasureRow, "kr": KrRow, "objective": ObjectiveRow}


def set_goal(*, session: Session, table: str, row_id: int, column: str, expected: Any, new: Any) -> tuple[bool, Any]:
    """Set one goal field if it still holds what was read (`UPDATE … WHERE target IS expected`): (True, new), or
    (False, what it holds now) when another change came first."""
    row_type = GOAL_TABLES[table]
    attribute = getattr(row_type, column)
    result = session.execute(
        update(row_type)
        .where(row_type.id == row_id, attribute.is_not_distinct_from(expected))
        .values({column: new})
        .execution_options(synchronize_session="fetch")
    )
    if result.rowcount == 1:  # type: ignore[attr-defined]
        return True, new
    return False, session.execute(select(attribute).where(row_type.id == row_id)).scalar()


def _stored_key(key: str) -> str:
    """The key as stored: the platform's id as given, or its SHA-256 when longer than the column."""
    return key if len(key) <= 200 else "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def request_seen(*, session: Session, key: str) -> bool:
    """True when the request `key` already made its change."""
    return session.scalar(
        select(ProcessedEventRow.id).where(
            ProcessedEventRow.platform == KEY_PLATFORM, ProcessedEventRow.event_id == _stored_key(key)
        )
    ) is not None


def claim_request(*, session: Session, key: str, at: datetime) -> bool:
    """Record in this transaction that the request `key` (a platform's own id for it) makes its change; False if one
    already did. A concurrent twin fails at the unique key instead (IntegrityError), and its transaction rolls back."""
    if request_seen(session=session, key=key):
        return False
    session.add(ProcessedEventRow(platform=KEY_PLATFORM, event_id=_stored_key(key), received_at=at))
    session.flush()
    return True


@dataclass(frozen=True, slots=True)
class KeyBinding:
    """What an Idempotency-Key is bound to: the request that first came with it, and whether it is done."""

    route: str
    body_sha256: str
    done: bool
    claimed_at: datetime


def bind_key(*, session: Session, key_hash: str, holder: str, route: str, body_sha256: str, at: datetime) -> None:
    """Bind a key to this request, in flight; the commit fails at the unique key when it is bound already (a twin
    in flight waits for this transaction, then fails)."""
    session.execute(insert(RequestKeyRow).values(
        key_hash=key_hash, holder=holder, route=route, body_sha256=body_sha256, done=False, claimed_at=at
    ))


def key_binding(*, session: Session, key_hash: str) -> KeyBinding | None:
    """The request a key is bound to, or None when it is free."""
    row = session.execute(
        select(RequestKeyRow.route, RequestKeyRow.body_sha256, RequestKeyRow.done, RequestKeyRow.claimed_at)
        .where(RequestKeyRow.key_hash == key_hash)
    ).first()
    return None if row is None else KeyBinding(route=row[0], body_sha256=row[1], done=row[2], claimed_at=row[3])


def take_over_key(*, session: Session, key_hash: str, claimed_at: datetime, at: datetime) -> bool:
    """Claim a binding whose request stayed in flight (its process died) if nobody else did first."""
    result = session.execute(
        update(RequestKeyRow)
        .where(RequestKeyRow.key_hash == key_hash, RequestKeyRow.done.is_(False), RequestKeyRow.claimed_at == claimed_at)
        .values(claimed_at=at)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def settle_key(*, session: Session, key_hash: str, done: bool) -> None:
    """Settle a request's binding: kept as done when it made its change, freed when it was refused."""
    if done:
        session.execute(update(RequestKeyRow).where(RequestKeyRow.key_hash == key_hash).values(done=True)
                        .execution_options(synchronize_session=False))
    else:
        session.execute(delete(RequestKeyRow).where(RequestKeyRow.key_hash == key_hash, RequestKeyRow.done.is_(False)))
