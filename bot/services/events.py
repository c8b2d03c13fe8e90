"""Platform event ids claimed once, so a retried delivery is answered once."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError

from storage import events
from storage.db import UnitOfWork

EVENT_MEMORY = timedelta(hours=8)


def claim_event(*, uow: UnitOfWork, platform: str, event_id: str, at: datetime) -> bool:
    """True the first time a platform event is seen (across processes), False for a retry or re-delivery."""
    return claim_events(uow=uow, platform=platform, event_ids=[event_id], at=at)


def release_event(*, uow: UnitOfWork, platform: str, event_id: str) -> None:
    """Forget a claimed event whose handling failed, so that the platform's retry is handled."""
    with uow.begin() as session:
        events.release(session=session, platform=platform, event_id=event_id)


def claim_events(*, uow: UnitOfWork, platform: str, event_ids: list[str], at: datetime) -> bool:
    """True the first time all ids of one delivery (event id, message id …) are seen, claimed together; else False."""
    try:
        with uow.begin() as session:
            events.claim(session=session, platform=platform, event_ids=event_ids, at=at, memory=EVENT_MEMORY)
    except IntegrityError:
        return False
    return True
