"""Webhook deliveries in the ledger: queued in the transaction of the change they report, then read back to send."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.core import model
from bot.core.webhooks import KIND, envelope, subscribers, target_of
from storage.db import UnitOfWork
from storage.ledger import insert_of, writing
from storage.models import DeliveryRow, WorkspaceRow

QUEUED = "krbot_webhooks"  # session.info key: the workspaces this transaction queued webhooks for


def enqueue(
    *,
    session: Session,
    workspace_id: int,
    workspace: model.Workspace,
    event: model.WebhookEvent,
    items: Sequence[dict[str, Any]],
    ids: Sequence[str] | None = None,
    now: datetime | None = None,
) -> int:
    """Queue one delivery per item and subscribed receiver in this session's transaction (so a rollback sends
    nothing and a commit is always sent); `ids` names the deliveries (a new uuid each, unless given). Rows queued."""
    hooks = subscribers(webhooks=workspace.webhooks, event=event)
    if not hooks or not items:
        return 0
    moment = now or datetime.now(UTC)
    rows = []
    for n, data in enumerate(items):
        delivery = ids[n] if ids is not None else uuid.uuid4().hex
        body = envelope(delivery=delivery, event=event, workspace=workspace.name, at=moment, data=data)
        rows += [
            {
                "workspace_id": workspace_id, "kind": KIND, "target": target_of(url=hook.url), "period": delivery,
                "status": "queued", "claimed_at": moment, "attempts": 0,
                "payload": {"url": hook.url, "secret_env": hook.secret_env, "event": event.value, "body": body},
            }
            for hook in hooks
        ]
    insert = insert_of(dialect=session.get_bind().dialect.name)
    session.execute(
        insert(DeliveryRow).on_conflict_do_nothing(index_elements=["workspace_id", "kind", "target", "period"]), rows
    )
    session.info.setdefault(QUEUED, set()).add(workspace_id)
    return len(rows)


def due(*, uow: UnitOfWork, workspace_id: int | None, now: datetime, lease: timedelta, limit: int = 500) -> list[DeliveryRow]:
    """Webhook rows to send now: new, queued again and due, or claimed by a worker whose lease ran out; oldest first."""
    query = (
        select(DeliveryRow)
        .where(
            DeliveryRow.kind == KIND,
            ((DeliveryRow.status == "queued") & ((DeliveryRow.attempts == 0) | (DeliveryRow.claimed_at <= now)))
            | ((DeliveryRow.status == "claimed") & (DeliveryRow.claimed_at < now - lease)),
        )
        .order_by(DeliveryRow.id)
        .limit(limit)
    )
    if workspace_id is not None:
        query = query.where(DeliveryRow.workspace_id == workspace_id)
    with uow.begin() as session:
        return list(session.scalars(query))


def renew(*, uow: UnitOfWork, row_ids: Collection[int], worker: str, now: datetime) -> int:
    """Renew the claims `worker` still holds on these rows (their tries are in flight) to `now`; how many it holds."""
    if not row_ids:
        return 0
    with writing(uow), uow.begin() as session:
        result = session.execute(
            update(DeliveryRow)
            .where(DeliveryRow.id.in_(list(row_ids)), DeliveryRow.claimed_by == worker, DeliveryRow.status == "claimed")
            .values(claimed_at=now)
        )
        return int(result.rowcount or 0)


def failed_since(*, uow: UnitOfWork, workspace_id: int, since: datetime) -> list[DeliveryRow]:
    """Webhook rows given up on (after their last try) since a moment, oldest first."""
    with uow.begin() as session:
        return list(session.scalars(
            select(DeliveryRow)
            .where(DeliveryRow.workspace_id == workspace_id, DeliveryRow.kind == KIND, DeliveryRow.status == "failed",
                   DeliveryRow.claimed_at >= since)
            .order_by(DeliveryRow.id)
        ))


def backlog(*, uow: UnitOfWork, workspace_id: int, limit: int = 50) -> list[DeliveryRow]:
    """Webhook rows not delivered: waiting, being sent, or failed; newest first."""
    with uow.begin() as session:
        return list(session.scalars(
            select(DeliveryRow)
            .where(DeliveryRow.workspace_id == workspace_id, DeliveryRow.kind == KIND,
                   DeliveryRow.status.in_(("queued", "claimed", "failed")))
            .order_by(DeliveryRow.id.desc())
            .limit(limit)
        ))


def posted_digests(*, uow: UnitOfWork, workspace_id: int, since: datetime) -> list[DeliveryRow]:
    """Digest headlines posted since a moment, with no digest.posted delivery queued for them yet."""
    with uow.begin() as session:
        posted = list(session.scalars(
            select(DeliveryRow)
            .where(DeliveryRow.workspace_id == workspace_id, DeliveryRow.kind == "digest",
                   DeliveryRow.status == "sent", DeliveryRow.sent_at >= since)
            .order_by(DeliveryRow.id)
        ))
        if not posted:
            return []
        known = set(session.scalars(
            select(DeliveryRow.period).where(
                DeliveryRow.workspace_id == workspace_id, DeliveryRow.kind == KIND,
                DeliveryRow.period.in_([digest_id(row=row) for row in posted]),
            )
        ))
    return [row for row in posted if digest_id(row=row) not in known]


def digest_id(*, row: DeliveryRow) -> str:
    """The delivery id of the digest.posted event of one posted digest headline: the same whoever queues it."""
    return f"digest-{row.id}"


def with_webhooks(*, uow: UnitOfWork) -> dict[int, model.Workspace]:
    """Workspaces that have outbound webhooks, by id."""
    from storage.repository.tree import workspace_of

    with uow.begin() as session:
        rows = session.scalars(select(WorkspaceRow).where(WorkspaceRow.webhooks.is_not(None)))
        return {row.id: workspace_of(row) for row in rows if row.webhooks}


def queued_in(session: Session) -> set[int]:
    """The workspaces a committed transaction queued webhooks for (and forgets them)."""
    return session.info.pop(QUEUED, set())
