"""Requests keyed by the platform's own id for them change things once: the claim, the repeat's answer, a lost race."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.services.context import workspace_language
from bot.services.replies import Reply, Shows
from storage import once
from storage.db import UnitOfWork

REPEAT = "request.repeat"


def first_time(*, session: Session, event_key: str | None, at: datetime) -> bool:
    """True unless this request (by its platform key) already made its change; the claim commits with the change."""
    return event_key is None or once.claim_request(session=session, key=event_key, at=at)


def repeat(*, lang: str) -> Reply:
    """The answer to a request that already made its change: nothing happens again, nobody is told again."""
    return Reply(key=REPEAT, lang=lang, shows=Shows.REPEAT)


def once_per_request(
    *, uow: UnitOfWork, workspace: str | None, event_key: str | None, action: Callable[[], Reply]
) -> Reply:
    """Run `action`; when a twin of the same request committed first (a unique-key clash), answer as a repeat."""
    try:
        return action()
    except IntegrityError:
        if event_key is None:
            raise
        with uow.begin() as session:
            if not once.request_seen(session=session, key=event_key):
                raise
        return repeat(lang=workspace_language(uow=uow, workspace=workspace))
