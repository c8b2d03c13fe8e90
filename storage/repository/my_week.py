"""What the web's /me and /asks pages read: the asks with their decision's comment, each code's last typed check-in
since a moment, and whether this period's reminder went out (the scheduler's own ledger row)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.core import model
from storage.models import AskRow, CheckinRow, DeliveryRow
from storage.repository.asks import _ask


@dataclass(frozen=True, slots=True)
class AskWithComment:
    """An ask as stored, and the words its decider gave (the web's optional comment)."""

    ask: model.Ask
    comment: str | None


def asks_of_cycle(*, session: Session, workspace_id: int, cycle_id: int) -> list[AskWithComment]:
    """The cycle's asks, newest first, each with its decision's comment."""
    query = (select(AskRow).where(AskRow.workspace_id == workspace_id, AskRow.cycle_id == cycle_id)
             .order_by(AskRow.at.desc(), AskRow.id.desc()))
    return [AskWithComment(ask=_ask(row), comment=row.decision_comment) for row in session.scalars(query)]


def typed_since(
    *, session: Session, cycle_id: int, codes: list[str], since: datetime, until: datetime
) -> dict[str, datetime]:
    """Each code's latest typed (not synced) check-in from `since` to `until`, for the codes given."""
    if not codes:
        return {}
    rows = session.execute(
        select(CheckinRow.code, func.max(CheckinRow.at))
        .where(CheckinRow.cycle_id == cycle_id, CheckinRow.code.in_(codes), CheckinRow.at >= since,
               CheckinRow.at <= until,
               CheckinRow.source != model.SYNCED)
        .group_by(CheckinRow.code)
    ).all()
    return {code: moment.replace(tzinfo=ZoneInfo("UTC")) for code, moment in rows}


def reminder_sent(*, session: Session, workspace_id: int, person: str, period: str) -> datetime | None:
    """When this period's reminder reached the person (the ledger row the scheduler marks sent), else None."""
    moment = session.scalar(
        select(DeliveryRow.sent_at).where(DeliveryRow.workspace_id == workspace_id, DeliveryRow.kind == "reminder",
                                          DeliveryRow.target == person, DeliveryRow.period == period,
                                          DeliveryRow.status == "sent")
    )
    return None if moment is None else moment.replace(tzinfo=ZoneInfo("UTC"))
