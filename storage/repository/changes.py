"""Goal changes, dated, written and read back."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core import model
from bot.core.webhooks import change_data
from storage import webhooks
from storage.models import (
    GoalChangeRow,
)
from storage.repository.revisions import bump_revision
from storage.repository.tree import Loaded


def add_goal_change(*, session: Session, loaded: Loaded, change: model.GoalChange) -> None:
    """Log one goal change, raising the workspace's revision (an OKR file exported before it would undo it)."""
    revision = bump_revision(session=session, workspace_id=loaded.workspace_id)
    session.add(
        GoalChangeRow(
            workspace_id=loaded.workspace_id,
            cycle_id=loaded.cycle_id,
            code=change.code,
            measure=change.measure,
            field=change.field,
            old=change.old,
            new=change.new,
            reason=change.reason,
            person_key=change.person,
            at=change.at,
            revision=revision,
        )
    )
    webhooks.enqueue(session=session, workspace_id=loaded.workspace_id, workspace=loaded.okrs.workspace,
                     event=model.WebhookEvent.GOAL_CHANGED, items=[change_data(change=change)])


def load_changes(
    *, session: Session, workspace_id: int, since: datetime | None = None
) -> list[model.GoalChange]:
    """Goal changes of the workspace (since a time when given), oldest first."""
    query = select(GoalChangeRow).where(GoalChangeRow.workspace_id == workspace_id)
    if since is not None:
        query = query.where(GoalChangeRow.at > since)
    return [
        model.GoalChange(
            code=row.code,
            field=row.field,
            old=row.old,
            new=row.new,
            reason=row.reason,
            person=row.person_key,
            at=row.at,
            measure=row.measure,
        )
        for row in session.scalars(query.order_by(GoalChangeRow.at, GoalChangeRow.id))
    ]
