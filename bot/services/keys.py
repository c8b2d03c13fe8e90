"""Idempotency-Keys bound to their request (CONTRACT §8): one holder, one route, one body; a retry gets the same answer."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError

from bot.core.errors import KrbotError
from bot.services.inbound import request_key
from storage import once
from storage.db import UnitOfWork

MAX_KEY = 255  # the longest Idempotency-Key taken (the IETF draft's and Stripe's bound); longer ones are refused, not cut
STALE = timedelta(minutes=2)  # a request still in flight after this died with its process: its key may be taken over
HOLDER_SHOWN = 200  # the holder as stored beside the key, for people reading the table (the key hash holds it whole)


def body_digest(*, body: bytes) -> str:
    """The SHA-256 (hex) of a request body, the fingerprint a key is bound to."""
    return hashlib.sha256(body).hexdigest()


def checked_key(*, key: str | None) -> str | None:
    """The client's key as given (outer blanks aside), or None; empty or over MAX_KEY characters is refused."""
    if key is None:
        return None
    if not key.strip() or len(key.strip()) > MAX_KEY:
        raise KrbotError("api.idempotency_key", length=len(key.strip()), limit=MAX_KEY)
    return key.strip()


@contextmanager
def bound_request(
    *, uow: UnitOfWork, holder: str, key: str | None, route: str, body: bytes, at: datetime
) -> Iterator[str | None]:
    """Run a request under its key: yields the event key its change is stored under (None without a key).

    The first request binds the key (the database's unique key decides who is first); the same request again gets
    the same answer (its change is found by the event key); another route or body is refused (422) and the same key
    while the first is in flight too (409). A refused request frees the key it bound."""
    if key is None:
        yield None
        return
    event_key = request_key(scope=holder, key=key)
    fresh = _claim(uow=uow, event_key=event_key, holder=holder, route=route, digest=body_digest(body=body), at=at)
    if not fresh:
        yield event_key
        return
    try:
        yield event_key
    except BaseException:
        with uow.begin() as session:
            once.settle_key(session=session, key_hash=event_key, done=False)
        raise
    with uow.begin() as session:
        once.settle_key(session=session, key_hash=event_key, done=True)


def _claim(*, uow: UnitOfWork, event_key: str, holder: str, route: str, digest: str, at: datetime) -> bool:
    """True when this request binds the key (or takes over a dead one); False for a retry of a finished request."""
    for _ in range(2):  # a key freed between the clash and the read is bound again once
        try:
            with uow.one_writer(), uow.begin() as session:
                once.bind_key(session=session, key_hash=event_key, holder=holder[:HOLDER_SHOWN], route=route,
                              body_sha256=digest, at=at)
            return True
        except IntegrityError:
            pass
        with uow.begin() as session:
            bound = once.key_binding(session=session, key_hash=event_key)
            if bound is None:
                continue
            if bound.route != route or bound.body_sha256 != digest:
                raise KrbotError("api.idempotency_mismatch", route=bound.route)
            if bound.done:
                return False
            if at - bound.claimed_at >= STALE and once.take_over_key(
                session=session, key_hash=event_key, claimed_at=bound.claimed_at, at=at
            ):
                return True
            raise KrbotError("api.idempotency_in_flight", route=route)
    raise KrbotError("api.idempotency_in_flight", route=route)
