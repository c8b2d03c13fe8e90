"""Platform events already handled: claimed once across processes, so a retry or re-delivery is answered once."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from storage.models import ProcessedEventRow


def claim(*, session: Session, platform: str, event_ids: list[str], at: datetime, memory: timedelta) -> None:
    """Record the ids of one delivery, forgetting those older than `memory`; the commit fails if one was seen."""
    session.execute(delete(ProcessedEventRow).where(ProcessedEventRow.received_at < at - memory))
    session.add_all([ProcessedEventRow(platform=platform, event_id=event_id, received_at=at) for event_id in event_ids])


def release(*, session: Session, platform: str, event_id: str) -> None:
    """Forget one claimed event, so that the platform's retry of it is handled."""
    session.execute(delete(ProcessedEventRow).where(ProcessedEventRow.platform == platform, ProcessedEventRow.event_id == event_id))


def seen(*, session: Session, platform: str, event_ids: list[str]) -> bool:
    """True when any of the ids was claimed already."""
    found = session.execute(
        select(ProcessedEventRow.id).where(ProcessedEventRow.platform == platform, ProcessedEventRow.event_id.in_(event_ids))
    )
    return found.first() is not None
