"""What one action loads once: the workspace, its cycle and tree, people and their clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.core import model
from bot.core.errors import KrbotError
from bot.core.timeline import as_of_moment
from storage import repository
from storage.db import UnitOfWork
from storage.models import (
    CycleRow,
    WorkspaceRow,
)


@dataclass(frozen=True, slots=True)
class Scope:
    """A workspace's cycle loaded for one action."""

    workspace: WorkspaceRow
    cycle: CycleRow
    loaded: repository.Loaded

    @property
    def okrs(self) -> model.Okrs:
        """The OKR tree."""
        return self.loaded.okrs

    @property
    def lang(self) -> str:
        """The workspace language."""
        return self.workspace.language

    def local(self, moment: datetime) -> datetime:
        """A moment on the workspace's clock, the time axis every forecast is read on."""
        return moment.astimezone(ZoneInfo(self.workspace.timezone))


def local_zone(*, name: str) -> ZoneInfo:
    """A timezone by IANA name."""
    return ZoneInfo(name)


def parse_moment(*, text: str, timezone: str) -> datetime:
    """An ISO date or date-time; without a zone it is in `timezone`."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise KrbotError("time.unreadable", word=text) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(timezone))
    return moment


def parse_as_of(*, text: str, timezone: str) -> datetime:
    """An as-of time (CONTRACT §7): a date alone is the end of that day in `timezone`; no zone means `timezone`."""
    try:
        return as_of_moment(text=text, tz=ZoneInfo(timezone))
    except ValueError:
        raise KrbotError("time.unreadable", word=text) from None


def load_scope(*, session: Session, workspace: str | None, at: datetime) -> Scope:
    row = repository.find_workspace(session=session, name=workspace)
    if row is None:
        names = repository.workspace_names(session=session)
        if not names:
            raise KrbotError("workspace.none")
        if workspace is None:
            raise KrbotError("workspace.ambiguous", known=", ".join(names))
        raise KrbotError("workspace.unknown", word=workspace, known=", ".join(names))
    day = at.astimezone(ZoneInfo(row.timezone)).date()
    cycle = repository.current_cycle(session=session, workspace_id=row.id, day=day)
    if cycle is None:
        raise KrbotError("workspace.no_cycle", workspace=row.name)
    loaded = repository.load_okrs(session=session, workspace=row, cycle=cycle)
    return Scope(workspace=row, cycle=cycle, loaded=loaded)


def workspace_language(*, uow: UnitOfWork, workspace: str | None) -> str:
    """The language of the workspace (English when there is none yet)."""
    with uow.begin() as session:
        row = repository.find_workspace(session=session, name=workspace)
        return row.language if row else "en"


def workspace_timezone(*, uow: UnitOfWork, workspace: str | None) -> str:
    """The timezone of the workspace (UTC when there is none yet)."""
    with uow.begin() as session:
        row = repository.find_workspace(session=session, name=workspace)
        return row.timezone if row else "UTC"


def name_of(scope: Scope, key: str) -> str:
    """A person's display name (their key when unknown)."""
    person = scope.okrs.people.get(key)
    return person.name if person else key


def person_in(scope: Scope, key: str) -> model.Person:
    person = scope.okrs.people.get(key)
    if person is None:
        raise KrbotError("person.unknown", word=key, known=", ".join(scope.okrs.people))
    return person


def owned_target(scope: Scope, code: str, person: model.Person) -> model.KeyResult | model.Objective:
    target = scope.okrs.owner_of(code=code.upper())
    if target is None:
        mine = codes_of(scope.okrs, person.key)
        raise KrbotError("code.unknown", word=code, known=", ".join(mine) or "—")
    return target


def codes_of(okrs: model.Okrs, key: str) -> list[str]:
    codes = []
    for objective in okrs.objectives:
        if objective.owner == key and objective.measures:
            codes.append(objective.code)
        codes.extend(kr.code for kr in objective.krs() if kr.owner == key or key in kr.delegates)
    return codes


def find_person(*, uow: UnitOfWork, platform: str, user_id: str) -> tuple[str, str] | None:
    """(workspace name, person key) of a Slack or Feishu user, or None for someone krbot does not know."""
    with uow.begin() as session:
        return repository.person_by_chat_id(session=session, platform=platform, user_id=user_id)


def person_of(
    *, uow: UnitOfWork, key: str, at: datetime, workspace: str | None = None
) -> model.Person | None:
    """One person of the workspace by their id in the OKR file (with their chat ids), or None."""
    with uow.begin() as session:
        scope = load_scope(session=session, workspace=workspace, at=at)
    return scope.okrs.people.get(key)


def slack_team_of(*, uow: UnitOfWork, workspace: str | None = None) -> str | None:
    """The Slack team a workspace lives in, as its OKR file names it (multi-workspace installs), or None."""
    with uow.begin() as session:
        row = repository.find_workspace(session=session, name=workspace)
        if row is None:
            raise KrbotError("workspace.none")
        return row.slack_team


def boss_channels(*, uow: UnitOfWork, workspace: str | None = None) -> dict[str, str]:
    """The workspace's boss channel on each platform, as the OKR file names them."""
    with uow.begin() as session:
        row = repository.find_workspace(session=session, name=workspace)
        if row is None:
            raise KrbotError("workspace.none")
        return dict(row.boss_channel or {})
