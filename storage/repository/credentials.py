"""API tokens and per-measure hooks as stored: only the SHA-256 of each secret, found by it, listed and revoked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from storage.models import ApiTokenRow, MeasureHookRow, PersonRow, WorkspaceRow

TOUCH_EVERY = timedelta(minutes=1)  # "last used" is written at most once a minute per credential, not per request


@dataclass(frozen=True, slots=True)
class Bearer:
    """Who a live token acts as: its workspace (name, language) and its person (key, locale), archived never."""

    token_id: int
    workspace: str
    language: str
    person: str
    locale: str | None
    last_used_at: datetime | None


@dataclass(frozen=True, slots=True)
class HookTarget:
    """What a live hook stores into: its workspace, KR (or objective) code and measure."""

    hook_id: int
    workspace: str
    code: str
    measure: str
    owner: str | None  # the owner it stores for (None: made before hooks were bound to one)
    last_used_at: datetime | None


def add_token(
    *, session: Session, workspace_id: int, person: str, name: str | None, token_hash: str, prefix: str, at: datetime
) -> int:
    """Store a new token's hash; returns its id."""
    row = ApiTokenRow(
        workspace_id=workspace_id, person_key=person, name=name, token_hash=token_hash, prefix=prefix, created_at=at
    )
    session.add(row)
    session.flush()
    return row.id


def bearer_of(*, session: Session, token_hash: str) -> Bearer | None:
    """The live token with this hash whose person is still in the OKR file, or None."""
    row = session.execute(
        select(
            ApiTokenRow.id, WorkspaceRow.name, WorkspaceRow.language, PersonRow.key, PersonRow.locale,
            ApiTokenRow.last_used_at,
        )
        .join(WorkspaceRow, WorkspaceRow.id == ApiTokenRow.workspace_id)
        .join(
            PersonRow,
            (PersonRow.workspace_id == ApiTokenRow.workspace_id) & (PersonRow.key == ApiTokenRow.person_key),
        )
        .where(
            ApiTokenRow.token_hash == token_hash,
            ApiTokenRow.revoked_at.is_(None),
            PersonRow.archived.is_(False),
        )
    ).first()
    if row is None:
        return None
    return Bearer(
        token_id=row[0], workspace=row[1], language=row[2], person=row[3], locale=row[4], last_used_at=row[5]
    )


def tokens(*, session: Session, workspace_id: int) -> list[ApiTokenRow]:
    """Every token of a workspace, revoked ones too, oldest first."""
    return list(
        session.scalars(select(ApiTokenRow).where(ApiTokenRow.workspace_id == workspace_id).order_by(ApiTokenRow.id))
    )


def add_hook(
    *,
    session: Session,
    workspace_id: int,
    code: str,
    measure: str,
    secret_hash: str,
    prefix: str,
    created_by: str | None,
    at: datetime,
    owner: str | None = None,
) -> int:
    """Store a new hook's hash, bound to the owner it stores for; returns its id."""
    row = MeasureHookRow(
        workspace_id=workspace_id, code=code, measure=measure, secret_hash=secret_hash, prefix=prefix,
        created_by=created_by, owner_key=owner, created_at=at,
    )
    session.add(row)
    session.flush()
    return row.id


def hook_of(*, session: Session, secret_hash: str) -> HookTarget | None:
    """The live hook with this hash, or None (unknown and revoked look the same)."""
    row = session.execute(
        select(MeasureHookRow.id, WorkspaceRow.name, MeasureHookRow.code, MeasureHookRow.measure,
               MeasureHookRow.owner_key, MeasureHookRow.last_used_at)
        .join(WorkspaceRow, WorkspaceRow.id == MeasureHookRow.workspace_id)
        .where(MeasureHookRow.secret_hash == secret_hash, MeasureHookRow.revoked_at.is_(None))
    ).first()
    if row is None:
        return None
    return HookTarget(
        hook_id=row[0], workspace=row[1], code=row[2], measure=row[3], owner=row[4], last_used_at=row[5]
    )


def hooks(*, session: Session, workspace_id: int) -> list[MeasureHookRow]:
    """Every hook of a workspace, revoked ones too, oldest first."""
    return list(
        session.scalars(
            select(MeasureHookRow).where(MeasureHookRow.workspace_id == workspace_id).order_by(MeasureHookRow.id)
        )
    )


def revoke(*, session: Session, kind: str, workspace_id: int, row_id: int, at: datetime) -> bool:
    """Revoke one token or hook (`kind` "token" or "hook") of the workspace if it is live; False if none was."""
    table = ApiTokenRow if kind == "token" else MeasureHookRow
    result = session.execute(
        update(table)
        .where(table.id == row_id, table.workspace_id == workspace_id, table.revoked_at.is_(None))
        .values(revoked_at=at)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def touch(*, session: Session, kind: str, row_id: int, last_used_at: datetime | None, at: datetime) -> None:
    """Note that a token or hook was used at `at`, unless it was noted less than a minute before."""
    if last_used_at is not None and at - last_used_at < TOUCH_EVERY:
        return
    table = ApiTokenRow if kind == "token" else MeasureHookRow
    session.execute(
        update(table).where(table.id == row_id).values(last_used_at=at).execution_options(synchronize_session=False)
    )


def revoke_person(*, session: Session, workspace_id: int, person: str, at: datetime) -> None:
    """Revoke every live token acting as `person` and every hook storing for them: they left the OKR file, and their
    credentials stay revoked if they come back (new ones can be made)."""
    for table, column in ((ApiTokenRow, ApiTokenRow.person_key), (MeasureHookRow, MeasureHookRow.owner_key)):
        session.execute(
            update(table)
            .where(table.workspace_id == workspace_id, column == person, table.revoked_at.is_(None))
            .values(revoked_at=at)
            .execution_options(synchronize_session=False)
        )
