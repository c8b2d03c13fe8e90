"""The shared send gate: one row per platform holding when the next message may go, reserved atomically by every replica."""

from __future__ import annotations

from sqlalchemy import case, update

from storage.db import UnitOfWork
from storage.ledger import insert_for, writing
from storage.models import SendRate


def reserve(*, uow: UnitOfWork, name: str, interval: float, now: float) -> float:
    """Reserve the next free moment (epoch seconds) to send to `name`, `interval` seconds after the one before.

    One UPDATE moves the gate on and returns where it was, so replicas sharing the database never pick the same
    moment: the platform sees at most one message per `interval`, however many processes send.
    """
    moved = case((SendRate.next_at > now, SendRate.next_at), else_=now) + interval
    statement = update(SendRate).where(SendRate.name == name).values(next_at=moved).returning(SendRate.next_at)
    with writing(uow), uow.begin() as session:
        reserved = session.execute(statement).scalar()
        if reserved is None:
            session.execute(
                insert_for(uow)(SendRate).values(name=name, next_at=now).on_conflict_do_nothing(index_elements=["name"])
            )
            reserved = session.execute(statement).scalar()
    assert reserved is not None
    return float(reserved) - interval


def hold(*, uow: UnitOfWork, name: str, until: float) -> None:
    """Let nobody send to `name` before `until` (a platform's Retry-After, for every replica)."""
    with writing(uow), uow.begin() as session:
        session.execute(
            insert_for(uow)(SendRate).values(name=name, next_at=until).on_conflict_do_nothing(index_elements=["name"])
        )
        session.execute(
            update(SendRate).where(SendRate.name == name, SendRate.next_at < until).values(next_at=until)
        )
