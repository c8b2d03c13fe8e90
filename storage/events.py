"""Platform events already handled: claimed once across processes, so a retry or re-delivery is answered once."""

from __future__ import annotations

import zlib
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.orm import Session

from storage.models import ProcessedEventRow

SWEEP_EVERY = 64  # one delivery in this many (by its id) forgets the old ones: a request need not pay for the sweep
_FORGET = delete(ProcessedEventRow).where(ProcessedEventRow.received_at < bindparam("before", type_=ProcessedEventRow.received_at.type))


def sweeps(*, event_ids: list[str]) -> bool:
    """Whether this delivery forgets the old ones (one in SWEEP_EVERY, decided by its first id)."""
    return bool(event_ids) and zlib.crc32(event_ids[0].encode()) % SWEEP_EVERY == 0


def claim(*, session: Session, platform: str, event_ids: list[str], at: datetime, memory: timedelta) -> None:
    """Record the ids of one delivery (now and then forgetting those older than `memory`: a remembered id only ever
    stops a repeat); the commit fails if one was seen."""
    if sweeps(event_ids=event_ids):
        session.execute(_FORGET, {"before": at - memory})
    session.connection().execute(insert(ProcessedEventRow.__table__),  # at once (no ORM objects to flush): it takes the write lock
                    [{"platform": platform, "event_id": event_id, "received_at": at} for event_id in event_ids])


def release(*, session: Session, platform: str, event_id: str) -> None:
    """Forget one claimed event, so that the platform's retry of it is handled."""
    session.execute(delete(ProcessedEventRow).where(ProcessedEventRow.platform == platform, ProcessedEventRow.event_id == event_id))


def seen(*, session: Session, platform: str, event_ids: list[str]) -> bool:
    """True when any of the ids was claimed already."""
    found = session.execute(
        select(ProcessedEventRow.id).where(ProcessedEventRow.platform == platform, ProcessedEventRow.event_id.in_(event_ids))
    )
    return found.first() is not None
