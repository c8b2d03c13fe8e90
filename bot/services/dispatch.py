"""The chat grammar's commands routed to the action that serves each one."""

from __future__ import annotations

import logging
from datetime import datetime

from bot import commands
from bot.core.errors import KrbotError
from bot.core.text import clean_text
from bot.metrics import COMMANDS
from bot.services.checkins import record_checkin
from bot.services.context import require_person, workspace_language
from bot.services.digest import compose
from bot.services.goals import change_goal, complete_task
from bot.services.replies import Reply, Shows
from bot.services.schedule import set_away
from bot.services.views import list_krs, show_matrix, show_paths, show_plan, status_of
from bot.services.web_doors import WebDoor, web_link
from storage.db import UnitOfWork

log = logging.getLogger("krbot.services.dispatch")


def run_command(
    *,
    uow: UnitOfWork,
    person: str,
    text: str,
    at: datetime,
    workspace: str | None = None,
    source: str = "cli",
    event_key: str | None = None,
    door: WebDoor | None = None,
) -> Reply:
    """Any `/kr …` command from any edge: parsed, authorised, done, answered; refusals come back as replies.
    `door`: the edge's KRBOT_SECRET_KEY and public URL, for `/kr web`'s sign-in link."""
    text = clean_text(text=text)  # no NUL (PostgreSQL refuses it) and no lone surrogate (UTF-8 can't carry it)
    lang: str | None = None  # read only where words need it: a check-in's reply carries its own
    name = "unknown"
    try:
        command = commands.parse_command(text=text)
        name = type(command).__name__.lower()
        if not isinstance(command, commands.Update):
            lang = workspace_language(uow=uow, workspace=workspace)
        reply = _dispatch(
            uow=uow,
            command=command,
            person=person,
            text=text,
            at=at,
            workspace=workspace,
            source=source,
            event_key=event_key,
            lang=lang or "en",
            door=door,
        )
    except KrbotError as error:
        lang = lang or workspace_language(uow=uow, workspace=workspace)
        COMMANDS.labels(command=name, outcome="refused").inc()
        log.info("refused: %s", error.key, extra={"workspace": workspace, "person": person, "command": name})
        return Reply(key=error.key, lang=lang, params=error.params, ok=False)
    outcome = "ok" if reply.ok else "refused"
    COMMANDS.labels(command=name, outcome=outcome).inc()
    log.info("%s: %s", outcome, reply.key, extra={"workspace": workspace, "person": person, "command": name})
    return reply


def _dispatch(
    *,
    uow: UnitOfWork,
    command: commands.Command,
    person: str,
    text: str,
    at: datetime,
    workspace: str | None,
    source: str,
    event_key: str | None,
    lang: str,
    door: WebDoor | None = None,
) -> Reply:
    """Run one parsed command through its service."""
    match command:
        case commands.Update(code=None):
            return list_krs(uow=uow, person=person, at=at, workspace=workspace, form_hint=True)
        case commands.Update():
            return record_checkin(
                uow=uow,
                person=person,
                update=command,
                at=at,
                workspace=workspace,
                source=source,
                event_key=event_key,
            )
        case commands.Help():
            return Reply(key="reply.help", lang=lang, params={"names": list(commands.COMMAND_NAMES)})
        case commands.ListKrs():
            return list_krs(uow=uow, person=person, at=at, workspace=workspace)
        case commands.StatusOf(code=code):
            return status_of(uow=uow, person=person, code=code, at=at, workspace=workspace)
        case commands.Report():
            require_person(uow=uow, person=person, at=at, workspace=workspace)
            return Reply(
                key="reply.report", lang=lang, digest=compose(uow=uow, as_of=at, workspace=workspace), shows=Shows.DIGEST
            )
        case commands.Change():
            return change_goal(
                uow=uow, person=person, change=command, at=at, workspace=workspace, event_key=event_key
            )
        case commands.Away(start=start, end=end):
            return set_away(uow=uow, person=person, start=start, end=end, at=at, workspace=workspace)
        case commands.Paths():
            return show_paths(uow=uow, person=person, at=at, workspace=workspace)
        case commands.Matrix():
            return show_matrix(uow=uow, person=person, at=at, workspace=workspace)
        case commands.Plan(code=code):
            require_person(uow=uow, person=person, at=at, workspace=workspace)
            return show_plan(uow=uow, code=code, at=at, workspace=workspace)
        case commands.Web():
            return web_link(uow=uow, person=person, at=at, lang=lang, door=door, workspace=workspace)
        case commands.TaskDone(code=code, task=task):
            return complete_task(
                uow=uow, person=person, code=code, task=task, at=at, workspace=workspace, event_key=event_key
            )
    raise KrbotError("command.unknown", word=text)
