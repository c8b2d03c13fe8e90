"""Who may open the web pages: one-time sign-in links (signed, used once, 10 minutes), the sessions they open (30 days,
ended by signing out or by the person's archiving), and read-only share links of one week's report (14 days)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer, URLSafeTimedSerializer

from bot.core import model
from bot.core.errors import KrbotError
from bot.core.rules import may_decide
from bot.core.weeks import read_week, week_of
from bot.services.context import load_scope, person_in, workspace_row
from bot.services.tokens import person_language
from storage.db import UnitOfWork
from storage.repository import web as store

LINK_SECONDS = 600  # a sign-in link opens a session within 10 minutes of being made, once
SESSION_DAYS = 30  # a session lasts this long unless its person signs out or is archived
SHARE_DAYS = 14  # a share link shows its week's report this long unless revoked
_LINK_SALT = "krbot.web.signin"
_SHARE_SALT = "krbot.web.share"


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in person a web request acts as: their workspace, role and the language they read."""

    session: str
    workspace: str
    workspace_id: int
    person: str
    name: str
    role: model.Role
    lang: str
    locale: str | None
    timezone: str

    @property
    def as_person(self) -> model.Person:
        """The viewer as the domain's person, for the rules of bot.core.rules."""
        return model.Person(key=self.person, name=self.name, role=self.role, locale=self.locale)


@dataclass(frozen=True, slots=True)
class Share:
    """A share link as its page needs it: the workspace and week it shows, for whom, whether it still opens."""

    id: int
    workspace: str
    week: str
    made_for: str
    expires_at: datetime
    live: bool


def _secret(secret_key: str | None) -> str:
    """The key links and sessions are signed with; refused when KRBOT_SECRET_KEY is not set."""
    if not secret_key:
        raise KrbotError("web.no_secret_key")
    return secret_key


def issue_link(
    *, uow: UnitOfWork, person: str, at: datetime, secret_key: str | None, public_url: str,
    workspace: str | None = None,
) -> str:
    """A one-time sign-in link for `person` (someone the OKR file names, not archived), valid LINK_SECONDS."""
    signer = URLSafeTimedSerializer(_secret(secret_key), salt=_LINK_SALT)
    nonce = secrets.token_urlsafe(24)
    with uow.begin() as session:
        scope = load_scope(session=session, workspace=workspace, at=at)
        who = person_in(scope, person)
        store.add_sign_in(session=session, nonce=nonce, workspace_id=scope.workspace.id, person=who.key, kind="link",
                          at=at)
    return f"{public_url.rstrip('/')}/signin/{signer.dumps(nonce)}"


def redeem_link(*, uow: UnitOfWork, token: str, at: datetime, secret_key: str | None) -> str | None:
    """The session a sign-in link opens (its nonce), or None for a forged, expired or already used link."""
    signer = URLSafeTimedSerializer(_secret(secret_key), salt=_LINK_SALT)
    try:
        nonce = signer.loads(token, max_age=LINK_SECONDS)
    except BadSignature:  # SignatureExpired is one
        return None
    if not isinstance(nonce, str):
        return None
    with uow.begin() as session:
        used = store.use_link(session=session, nonce=nonce, at=at, issued_since=at - timedelta(seconds=LINK_SECONDS))
    return nonce if used else None


def open_session(*, uow: UnitOfWork, workspace: str, person: str, kind: str, at: datetime) -> str:
    """A session opened at once for a person a chat app's sign-in named (Slack, Feishu); its id for the cookie."""
    nonce = secrets.token_urlsafe(24)
    with uow.begin() as session:
        scope = load_scope(session=session, workspace=workspace, at=at)
        who = person_in(scope, person)
        store.add_sign_in(session=session, nonce=nonce, workspace_id=scope.workspace.id, person=who.key, kind=kind,
                          at=at, used=True)
    return nonce


def viewer_of(*, uow: UnitOfWork, session_id: str, at: datetime) -> Viewer | None:
    """The person a session cookie acts as now, or None when it ended (signed out, 30 days, person archived)."""
    with uow.begin() as session:
        found = store.session_person(session=session, nonce=session_id, started_since=at - timedelta(days=SESSION_DAYS))
    if found is None:
        return None
    return Viewer(
        session=session_id, workspace=found.workspace, workspace_id=found.workspace_id, person=found.person,
        name=found.name, role=model.Role(found.role), lang=person_language(locale=found.locale,
                                                                           workspace_language=found.workspace_language),
        locale=found.locale, timezone=found.timezone,
    )


def sign_out(*, uow: UnitOfWork, session_id: str, at: datetime) -> None:
    """End a session: its cookie opens nothing any more."""
    with uow.begin() as session:
        store.end_session(session=session, nonce=session_id, at=at)


def create_share(
    *, uow: UnitOfWork, week: str, made_for: str, at: datetime, secret_key: str | None, public_url: str,
    by: str | None = None, workspace: str | None = None,
) -> tuple[int, str]:
    """A share link of one week's report for `made_for` (by the boss or an admin, when made on the web): id and URL."""
    signer = URLSafeSerializer(_secret(secret_key), salt=_SHARE_SALT)
    year, number = read_week(text=week)
    shown = f"{year}-W{number:02d}"
    made_for = " ".join((made_for or "").split())
    if not made_for or len(made_for) > 200:
        raise KrbotError("web.share_for_missing")
    with uow.begin() as session:
        scope = load_scope(session=session, workspace=workspace, at=at)
        if by is not None and not may_decide(person=person_in(scope, by)):
            raise KrbotError("web.share_not_allowed")
        share_id = store.add_share(session=session, workspace_id=scope.workspace.id, week=shown, made_for=made_for,
                                   made_by=by, at=at, expires_at=at + timedelta(days=SHARE_DAYS))
    return share_id, f"{public_url.rstrip('/')}/share/{signer.dumps(share_id)}"


def revoke_share(*, uow: UnitOfWork, share_id: int, at: datetime, workspace: str | None = None) -> None:
    """Revoke a live share link; refused when the workspace has no such live link."""
    with uow.begin() as session:
        row = workspace_row(session=session, workspace=workspace)
        if not store.revoke_share(session=session, workspace_id=row.id, share_id=share_id, at=at):
            raise KrbotError("web.share_unknown", id=share_id)


def share_of(*, uow: UnitOfWork, token: str, at: datetime, secret_key: str | None) -> Share | None:
    """The share link a URL names (live or not), or None for a forged one."""
    signer = URLSafeSerializer(_secret(secret_key), salt=_SHARE_SALT)
    try:
        share_id = signer.loads(token)
    except BadSignature:
        return None
    if not isinstance(share_id, int):
        return None
    with uow.begin() as session:
        found = store.share_row(session=session, share_id=share_id)
    if found is None:
        return None
    row, workspace = found
    live = row.revoked_at is None and row.expires_at > at
    return Share(id=row.id, workspace=workspace, week=row.week, made_for=row.made_for, expires_at=row.expires_at,
                 live=live)


def list_shares(*, uow: UnitOfWork, workspace: str | None = None) -> list[dict[str, object]]:
    """The workspace's share links, newest first, for `krbot share list`."""
    with uow.begin() as session:
        row = workspace_row(session=session, workspace=workspace)
        return [
            {"id": s.id, "week": s.week, "made_for": s.made_for, "created_at": s.created_at, "expires_at": s.expires_at,
             "revoked_at": s.revoked_at}
            for s in store.shares(session=session, workspace_id=row.id)
        ]


def this_week(*, moment: datetime, timezone: str) -> str:
    """The ISO week a moment falls in on the workspace's clock."""
    from zoneinfo import ZoneInfo

    return week_of(day=moment.astimezone(ZoneInfo(timezone)).date())
