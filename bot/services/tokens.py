"""API tokens (CONTRACT §9): issued once to a person, kept as a SHA-256, listed, revoked, and turned back into a caller."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.core.errors import KrbotError
from bot.services.context import load_scope, person_in, workspace_row
from storage.db import UnitOfWork
from storage.repository import credentials

TOKEN_PREFIX = "krbot_"
SHOWN_PREFIX = 12  # "krbot_" and six characters: enough to tell tokens apart in a list, useless to a thief


@dataclass(frozen=True, slots=True)
class Issued:
    """A secret just made (a token or a hook): shown to its creator once, never stored as such."""

    id: int
    secret: str
    prefix: str


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a request's token acts as: a person of a workspace, and the language and locale they read in."""

    workspace: str
    person: str
    lang: str
    locale: str | None


def digest_of(*, secret: str) -> str:
    """The SHA-256 (hex) a secret is stored and looked up by."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def new_secret(*, prefix: str) -> tuple[str, str, str]:
    """(secret, its hash, its shown prefix) — 256 random bits after `prefix`."""
    secret = prefix + secrets.token_urlsafe(32)
    return secret, digest_of(secret=secret), secret[:SHOWN_PREFIX]


def person_language(*, locale: str | None, workspace_language: str) -> str:
    """The language (zh or en) a person reads: their own locale's when it is zh or en, else the workspace's."""
    own = (locale or "").split("-")[0].lower()
    return own if own in ("zh", "en") else workspace_language


def create_token(
    *, uow: UnitOfWork, person: str, at: datetime, name: str | None = None, workspace: str | None = None
) -> Issued:
    """A new token acting as `person` (someone the OKR file names, not archived); the secret is returned once."""
    secret, hashed, prefix = new_secret(prefix=TOKEN_PREFIX)
    with uow.begin() as session:
        scope = load_scope(session=session, workspace=workspace, at=at)
        who = person_in(scope, person)
        token_id = credentials.add_token(
            session=session, workspace_id=scope.workspace.id, person=who.key, name=name, token_hash=hashed,
            prefix=prefix, at=at,
        )
    return Issued(id=token_id, secret=secret, prefix=prefix)


def list_tokens(*, uow: UnitOfWork, workspace: str | None = None) -> list[dict[str, Any]]:
    """Every token of the workspace with its person, name, prefix and times — never the token."""
    with uow.begin() as session:
        row = workspace_row(session=session, workspace=workspace)
        return [
            {
                "id": t.id,
                "person": t.person_key,
                "name": t.name,
                "prefix": t.prefix,
                "created_at": t.created_at,
                "last_used_at": t.last_used_at,
                "revoked_at": t.revoked_at,
            }
            for t in credentials.tokens(session=session, workspace_id=row.id)
        ]


def revoke_token(*, uow: UnitOfWork, token_id: int, at: datetime, workspace: str | None = None) -> None:
    """Revoke a live token of the workspace; refused when there is no such live token."""
    with uow.begin() as session:
        row = workspace_row(session=session, workspace=workspace)
        if not credentials.revoke(session=session, kind="token", workspace_id=row.id, row_id=token_id, at=at):
            raise KrbotError("token.unknown", id=token_id)


def token_caller(*, uow: UnitOfWork, token: str, at: datetime) -> Caller | None:
    """The person a live token acts as, or None for an unknown or revoked token or an archived person."""
    with uow.begin() as session:
        bearer = credentials.bearer_of(session=session, token_hash=digest_of(secret=token))
        if bearer is None:
            return None
        credentials.touch(session=session, kind="token", row_id=bearer.token_id, last_used_at=bearer.last_used_at, at=at)
    return Caller(
        workspace=bearer.workspace,
        person=bearer.person,
        lang=person_language(locale=bearer.locale, workspace_language=bearer.language),
        locale=bearer.locale,
    )

