"""Asks as stored, and the row a decision writes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core import model
from bot.core.webhooks import ask_data
from storage import webhooks
from storage.models import (
    AskRow,
)
from storage.repository.tree import Loaded


def _ask(row: AskRow) -> model.Ask:
    return model.Ask(
        id=row.id,
        code=row.code,
        person=row.person_key,
        kind=model.AskKind(row.kind),
        text=row.text,
        at=row.at,
        amount=row.amount,
        unit=row.unit,
        status=model.AskStatus(row.status),
        decided_by=row.decided_by,
        decided_at=row.decided_at,
    )


def load_asks(*, session: Session, workspace_id: int, cycle_id: int | None = None) -> list[model.Ask]:
    """Asks of the workspace (of one cycle when given), oldest first."""
    query = select(AskRow).where(AskRow.workspace_id == workspace_id).order_by(AskRow.at, AskRow.id)
    if cycle_id is not None:
        query = query.where(AskRow.cycle_id == cycle_id)
    return [_ask(row) for row in session.scalars(query)]


def ask_row(*, session: Session, workspace_id: int, ask_id: int) -> AskRow | None:
    """One ask by id, within its workspace."""
    return session.scalar(select(AskRow).where(AskRow.id == ask_id, AskRow.workspace_id == workspace_id))


def tell_decision(*, session: Session, loaded: Loaded, row: AskRow, decision: str, who: str, at: datetime) -> None:
    """Queue the ask.decided webhook of a decision, in the transaction that made it."""
    webhooks.enqueue(session=session, workspace_id=loaded.workspace_id, workspace=loaded.okrs.workspace,
                     event=model.WebhookEvent.ASK_DECIDED,
                     items=[ask_data(ask=_ask(row), decision=decision, who=who, at=at)])
