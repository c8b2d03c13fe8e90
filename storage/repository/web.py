"""The web's rows: sign-in nonces used once, the sessions they open, share links, one code's history for its page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.core import model
from storage.models import AskRow, GoalChangeRow, KrRow, PersonRow, TaskRow, WorkspaceRow
from storage.repository.asks import _ask
from storage.web_rows import ShareLinkRow, WebSessionRow


@dataclass(frozen=True, slots=True)
class SessionPerson:
    """Who a live session is: the person (not archived) and their workspace's language, zone and locale."""

    workspace: str
    workspace_id: int
    workspace_language: str
    timezone: str
    person: str
    name: str
    role: str
    locale: str | None


def add_sign_in(
    *, session: Session, nonce: str, workspace_id: int, person: str, kind: str, at: datetime, used: bool = False
) -> None:
    """Store a sign-in: a link's nonce not used yet, or (`used`) a session opened at once (a chat app's sign-in)."""
    session.add(WebSessionRow(nonce=nonce, workspace_id=workspace_id, person_key=person, kind=kind, issued_at=at,
                              used_at=at if used else None))


def use_link(*, session: Session, nonce: str, at: datetime, issued_since: datetime) -> bool:
    """Mark a link's nonce used, once: False when it is unknown, used already, or issued before `issued_since`."""
    done = session.execute(
        update(WebSessionRow)
        .where(WebSessionRow.nonce == nonce, WebSessionRow.used_at.is_(None), WebSessionRow.ended_at.is_(None),
               WebSessionRow.issued_at >= issued_since)
        .values(used_at=at)
    )
    return done.rowcount == 1  # type: ignore[attr-defined]


_SESSION_PERSON = (
    select(WorkspaceRow.name, WorkspaceRow.id, WorkspaceRow.language, WorkspaceRow.timezone, PersonRow.key,
           PersonRow.name, PersonRow.role, PersonRow.locale, WorkspaceRow.locale)
    .select_from(WebSessionRow)
    .join(WorkspaceRow, WorkspaceRow.id == WebSessionRow.workspace_id)
    .join(PersonRow, (PersonRow.workspace_id == WebSessionRow.workspace_id)
          & (PersonRow.key == WebSessionRow.person_key))
    .where(PersonRow.archived.is_(False), WebSessionRow.ended_at.is_(None))
)


def session_person(*, session: Session, nonce: str, started_since: datetime) -> SessionPerson | None:
    """The person of a live session (opened since `started_since`, not signed out, the person not archived)."""
    row = session.execute(
        _SESSION_PERSON.where(WebSessionRow.nonce == nonce, WebSessionRow.used_at >= started_since)
    ).first()
    if row is None:
        return None
    workspace, workspace_id, language, timezone, key, name, role, locale, workspace_locale = row
    return SessionPerson(workspace=workspace, workspace_id=workspace_id, workspace_language=language, timezone=timezone,
                         person=key, name=name, role=role, locale=locale or workspace_locale)


def end_session(*, session: Session, nonce: str, at: datetime) -> None:
    """Sign a session out: its cookie opens nothing from now on."""
    session.execute(update(WebSessionRow).where(WebSessionRow.nonce == nonce).values(ended_at=at))


def add_share(
    *, session: Session, workspace_id: int, week: str, made_for: str, made_by: str | None, at: datetime,
    expires_at: datetime,
) -> int:
    """Store a share link of one week's report; its id."""
    row = ShareLinkRow(workspace_id=workspace_id, week=week, made_for=made_for, made_by=made_by, created_at=at,
                       expires_at=expires_at)
    session.add(row)
    session.flush()
    return row.id


def revoke_share(*, session: Session, workspace_id: int, share_id: int, at: datetime) -> bool:
    """Revoke a live share link of the workspace; False when there is no such live link."""
    done = session.execute(
        update(ShareLinkRow)
        .where(ShareLinkRow.id == share_id, ShareLinkRow.workspace_id == workspace_id,
               ShareLinkRow.revoked_at.is_(None))
        .values(revoked_at=at)
    )
    return done.rowcount == 1  # type: ignore[attr-defined]


def share_row(*, session: Session, share_id: int) -> tuple[ShareLinkRow, str] | None:
    """A share link by id with its workspace's name, or None."""
    found = session.execute(
        select(ShareLinkRow, WorkspaceRow.name).join(WorkspaceRow, WorkspaceRow.id == ShareLinkRow.workspace_id)
        .where(ShareLinkRow.id == share_id)
    ).first()
    return None if found is None else (found[0], found[1])


def shares(*, session: Session, workspace_id: int) -> list[ShareLinkRow]:
    """The workspace's share links, newest first."""
    query = select(ShareLinkRow).where(ShareLinkRow.workspace_id == workspace_id).order_by(ShareLinkRow.id.desc())
    return list(session.scalars(query))


def tasks_of(*, session: Session, cycle_id: int, code: str) -> tuple[model.Task, ...]:
    """One KR's live tasks in file order (the page of one KR, which loads no other KR's)."""
    rows = session.execute(
        select(TaskRow.__table__).join(KrRow, KrRow.id == TaskRow.kr_id)
        .where(KrRow.cycle_id == cycle_id, KrRow.code == code, KrRow.archived.is_(False), TaskRow.archived.is_(False))
        .order_by(TaskRow.position, TaskRow.id)
    )
    return tuple(
        model.Task(title=row.title, owner=row.owner_key, due=row.due, buffer_days=row.buffer_days,
                   critical=row.critical, done=row.done, duration_days=row.duration_days)
        for row in rows
    )


def asks_of(*, session: Session, cycle_id: int, codes: tuple[str, ...]) -> list[model.Ask]:
    """The cycle's asks on these codes, oldest first."""
    query = (select(AskRow.__table__).where(AskRow.cycle_id == cycle_id, AskRow.code.in_(codes))
             .order_by(AskRow.at, AskRow.id))
    return [_ask(row) for row in session.execute(query)]  # plain rows: _ask reads the same names


def changes_of(*, session: Session, cycle_id: int, codes: tuple[str, ...]) -> list[model.GoalChange]:
    """The cycle's goal changes on these codes, oldest first."""
    query = (
        select(GoalChangeRow.__table__).where(GoalChangeRow.cycle_id == cycle_id, GoalChangeRow.code.in_(codes))
        .order_by(GoalChangeRow.at, GoalChangeRow.id)
    )
    return [
        model.GoalChange(code=row.code, field=row.field, old=row.old, new=row.new, reason=row.reason,
                         person=row.person_key, at=row.at, measure=row.measure)
        for row in session.execute(query)
    ]


def names_of(*, session: Session, workspace_id: int, keys: set[str]) -> dict[str, str]:
    """People's names by key, archived ones too (a page's history names who did what then)."""
    if not keys:
        return {}
    query = select(PersonRow.key, PersonRow.name).where(PersonRow.workspace_id == workspace_id,
                                                        PersonRow.key.in_(sorted(keys)))
    return {key: name for key, name in session.execute(query)}
