"""Slack teams that took krbot back while it ran on one SLACK_BOT_TOKEN, kept by that token's SHA-256 (never the token)."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.ledger import insert_of
from storage.models import SlackUninstallRow


def fingerprint(*, token: str) -> str:
    """The SHA-256 of a token: what is stored of it."""
    return hashlib.sha256(token.encode()).hexdigest()


def mark(*, session: Session, token: str, team_id: str, at: datetime) -> None:
    """Remember that `team_id` took `token` back (a second event for the same token changes nothing)."""
    insert = insert_of(dialect=session.get_bind().dialect.name)
    session.execute(insert(SlackUninstallRow).values(token_sha256=fingerprint(token=token), team_id=team_id, at=at)
                    .on_conflict_do_nothing(index_elements=["token_sha256"]))


def taken_back(*, session: Session, token: str) -> str | None:
    """The team that took `token` back, or None while it still works there."""
    return session.scalar(select(SlackUninstallRow.team_id)
                          .where(SlackUninstallRow.token_sha256 == fingerprint(token=token)))
