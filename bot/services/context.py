"""What one action loads once: the workspace, its cycle and tree, people and their clock."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.core import model
from bot.core.errors import KrbotError
from bot.core.numbers import NumberStyle
from bot.core.timeline import as_of_moment
from bot.core.units import fold
from bot.locales import number_style
from storage import repository
from storage.db import UnitOfWork
from storage.models import (
    WorkspaceRow,
)


@dataclass(frozen=True, slots=True)
class Scope:
    """A workspace's cycle loaded for one action (the workspace and cycle rows' columns as attributes)."""

    workspace: Any
    cycle: Any
    loaded: repository.Loaded

    @property
    def okrs(self) -> model.Okrs:
        """The OKR tree."""
        return self.loaded.okrs

    @property
    def lang(self) -> str:
        """The workspace language."""
        return self.workspace.language

    def locale_for(self, key: str) -> str:
        """The locale a person's numbers are read and written in (theirs, else the workspace's)."""
        return self.okrs.locale_of(person=key)

    def style_for(self, key: str) -> NumberStyle:
        """The decimal and grouping signs a person writes."""
        return number_style(locale=self.locale_for(key))

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


def load_scope(
    *,
    session: Session,
    workspace: str | None,
    at: datetime,
    code: str | None = None,
    people: tuple[str, ...] = (),
) -> Scope:
    """The workspace's current cycle at `at`: the whole tree, or — given a code — only that KR or objective
    and the people it names plus `people` (the whole tree when the code or a person is unknown, so that the
    refusal can list the known ones)."""
    found = repository.workspace_with_cycles(session=session, name=workspace)
    if found is None:
        workspace_row(session=session, workspace=workspace)  # refused with the names stored
        raise KrbotError("workspace.none")
    row, cycles = found
    day = at.astimezone(ZoneInfo(row.timezone)).date()
    cycle = repository.pick_cycle(cycles=cycles, day=day)
    if cycle is None:
        raise KrbotError("workspace.no_cycle", workspace=row.name)
    loaded = None
    if code is not None:
        loaded = repository.load_code(
            session=session, workspace=row, cycle=cycle, code=code.strip().upper(), people=people
        )
    if loaded is None or any(key not in loaded.okrs.people for key in people):
        loaded = repository.load_okrs(session=session, workspace=row, cycle=cycle)
    return Scope(workspace=row, cycle=cycle, loaded=loaded)


def workspace_row(*, session: Session, workspace: str | None) -> WorkspaceRow:
    """The workspace by name (the only one when None); refused with the names stored when there is no such one."""
    row = repository.find_workspace(session=session, name=workspace)
    if row is None:
        names = repository.workspace_names(session=session)
        if not names:
            raise KrbotError("workspace.none")
        if workspace is None:
            raise KrbotError("workspace.ambiguous", known=", ".join(names))
        raise KrbotError("workspace.unknown", word=workspace, known=", ".join(names))
    return row


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
        target = _folded_code(scope.okrs, code)
    if target is None:
        mine = codes_of(scope.okrs, person.key)
        every = [o.code for o in scope.okrs.objectives] + [kr.code for o in scope.okrs.objectives for kr in o.krs()]
        near = difflib.get_close_matches(code.upper(), mine or every, n=1, cutoff=0.6)
        suggestion = near[0] if near else ""
        raise KrbotError("code.unknown", word=code, known=", ".join(mine) or "—", suggestion=suggestion)
    return target


def _folded_code(okrs: model.Okrs, code: str) -> model.KeyResult | model.Objective | None:
    """The KR or objective whose code matches without regard to case, spaces and hyphens (kr-2 = KR2)."""
    wanted = fold(code)
    for objective in okrs.objectives:
        if fold(objective.code) == wanted:
            return objective
        for kr in objective.krs():
            if fold(kr.code) == wanted:
                return kr
    return None


def codes_of(okrs: model.Okrs, key: str) -> list[str]:
    codes = []
    for objective in okrs.objectives:
        if objective.owner == key and objective.measures:
            codes.append(objective.code)
        codes.extend(kr.code for kr in objective.krs() if kr.owner == key or key in kr.delegates)
    return codes


@dataclass(frozen=True, slots=True)
class ChatSender:
    """Who sent a chat request, as krbot knows them: their workspace, person key and the workspace's language."""

    workspace: str
    person: str
    lang: str


def chat_sender(*, uow: UnitOfWork, platform: str, user_id: str) -> ChatSender | None:
    """The krbot person behind a Slack or Feishu user id (one read), or None for someone krbot does not know."""
    with uow.reading() as connection:
        found = repository.person_by_chat_id(connection=connection, platform=platform, user_id=user_id)
    return None if found is None else ChatSender(workspace=found[0], person=found[1], lang=found[2])


def find_person(*, uow: UnitOfWork, platform: str, user_id: str) -> tuple[str, str] | None:
    """(workspace name, person key) of a Slack or Feishu user, or None for someone krbot does not know."""
    sender = chat_sender(uow=uow, platform=platform, user_id=user_id)
    return None if sender is None else (sender.workspace, sender.person)


def require_person(*, uow: UnitOfWork, person: str, at: datetime, workspace: str | None = None) -> None:
    """Refuse someone krbot does not know, or no longer knows (archived), as every command does."""
    with uow.begin() as session:
        person_in(load_scope(session=session, workspace=workspace, at=at), person)


def person_of(
    *, uow: UnitOfWork, key: str, at: datetime, workspace: str | None = None
) -> model.Person | None:
    """One person of the workspace by their id in the OKR file (with their chat ids), or None."""
    with uow.begin() as session:
        scope = load_scope(session=session, workspace=workspace, at=at)
    return scope.okrs.people.get(key)


def workspace_id_of(*, uow: UnitOfWork, workspace: str | None) -> int:
    """The database id of a workspace, the key its ledger rows carry."""
    with uow.begin() as session:
        row = repository.find_workspace(session=session, name=workspace)
        if row is None:
            raise KrbotError("workspace.none")
        return row.id


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
