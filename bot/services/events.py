"""Platform event ids claimed once, so a retried delivery is answered once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from storage import events
from storage.db import UnitOfWork

EVENT_MEMORY = timedelta(hours=8)
T = TypeVar("T")


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


# ---------------------------------------------------------------- a delivery handled once, in one transaction


@dataclass(frozen=True, slots=True)
class Once(Generic[T]):
    """What handle_once did: `fresh` False when the delivery was claimed before (then nothing ran); the action's result."""

    fresh: bool
    result: T | None = None


class _Refused(Exception):
    """The action refused (a joined block raised): what it wrote is dropped, the claim is kept alone."""

    def __init__(self, result: Any) -> None:
        super().__init__("refused")
        self.result = result


def handle_once(
    *, uow: UnitOfWork, platform: str, event_ids: list[str], at: datetime, action: Callable[[], T]
) -> Once[T]:
    """Claim a delivery's ids and run `action` in ONE transaction: stored and claimed together, or neither.

    A delivery seen before runs nothing (`fresh` False). An action that refuses keeps nothing of what it began,
    and its delivery is claimed alone, so a re-delivery is answered once. Any other failure commits nothing
    and raises, so the platform's retry is handled in full.
    """
    try:
        with uow.atomic() as atomic:
            # the claim's insert takes the write lock first: a concurrent delivery of the same ids waits, then fails here
            events.claim(session=atomic.session, platform=platform, event_ids=event_ids, at=at, memory=EVENT_MEMORY)
            result = action()
            if atomic.spoiled:
                raise _Refused(result)
    except _Refused as refused:
        return Once(fresh=claim_events(uow=uow, platform=platform, event_ids=event_ids, at=at), result=refused.result)
    except IntegrityError:
        with uow.begin() as session:
            if not events.seen(session=session, platform=platform, event_ids=event_ids):
                raise
        return Once(fresh=False)
    return Once(fresh=True, result=result)


def all_or_nothing(*, uow: UnitOfWork, action: Callable[[], T]) -> T:
    """Run `action` (a service call and the follow-ups it owes) in ONE transaction: committed whole, or nothing of it
    kept when a part refused. A twin of the same request that committed first (a unique-key clash, which spoils the
    transaction) is answered by running `action` again on its own: it then finds the twin's change ("already")."""
    try:
        with uow.atomic() as atomic:
            result = action()
            if atomic.spoiled:
                raise _Refused(result)
    except _Refused as refused:
        return refused.result
    except SQLAlchemyError as error:
        if not _clashed(error):
            raise
        return action()
    return result


def _clashed(error: BaseException | None) -> bool:
    """Whether a unique key refused a write somewhere along this error's chain."""
    while error is not None:
        if isinstance(error, IntegrityError):
            return True
        error = error.__cause__ or error.__context__
    return False
