"""What the webhook job and `krbot jobs list` read: a posted digest's summary, the admins to tell, the backlog."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.core import model
from bot.core.webhooks import digest_data
from bot.services.context import load_scope, workspace_id_of
from bot.services.digest import compose
from storage import webhooks
from storage.db import UnitOfWork


def queue_digest_posted(*, uow: UnitOfWork, workspace: model.Workspace, workspace_id: int, since: datetime) -> int:
    """Queue a digest.posted webhook for each digest headline posted since `since` that has none yet; how many."""
    posted = webhooks.posted_digests(uow=uow, workspace_id=workspace_id, since=since)
    queued = 0
    for row in posted:
        digest = compose(uow=uow, as_of=row.sent_at or row.claimed_at, workspace=workspace.name)
        data = digest_data(period=row.period, channel=row.target, objectives=digest.objectives)
        with uow.begin() as session:
            queued += webhooks.enqueue(session=session, workspace_id=workspace_id, workspace=workspace,
                                       event=model.WebhookEvent.DIGEST_POSTED, items=[data],
                                       ids=[webhooks.digest_id(row=row)])
    return queued


def workspace_admins(*, uow: UnitOfWork, workspace: str, at: datetime) -> list[model.Person]:
    """The workspace's admins, who hear of a webhook given up on."""
    with uow.begin() as session:
        scope = load_scope(session=session, workspace=workspace, at=at)
    return [person for person in scope.okrs.people.values() if person.role is model.Role.ADMIN]


def webhook_backlog(*, uow: UnitOfWork, workspace: str) -> list[dict[str, Any]]:
    """Webhook deliveries not delivered (waiting, being sent, or failed), newest first, as `jobs list` shows them."""
    return [
        {
            "id": row.period,
            "event": (row.payload or {}).get("event", "?"),
            "url": (row.payload or {}).get("url", row.target),
            "status": row.status,
            "attempts": row.attempts,
            "error": (row.error or "")[:160],
            "at": row.claimed_at,
        }
        for row in webhooks.backlog(uow=uow, workspace_id=workspace_id_of(uow=uow, workspace=workspace))
    ]
