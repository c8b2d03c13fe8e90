"""Ask decisions by the boss or an admin, told to the asker."""

from __future__ import annotations

from datetime import datetime

from bot.core import model
from bot.core.errors import KrbotError, NotAllowed
from bot.services.context import load_scope, person_in
from bot.services.replies import Notice, Reply
from storage import repository
from storage.db import UnitOfWork


def decide_ask(
    *, uow: UnitOfWork, person: str, ask_id: int, approve: bool, at: datetime, workspace: str | None = None
) -> Reply:
    """Approve or decline an open ask (boss or admin only); the reply names whom to tell."""
    with uow.begin() as session:
        scope = load_scope(session=session, workspace=workspace, at=at)
        sender = person_in(scope, person)
        if sender.role not in (model.Role.BOSS, model.Role.ADMIN):
            raise NotAllowed("ask.not_allowed")
        row = repository.ask_row(session=session, workspace_id=scope.workspace.id, ask_id=ask_id)
        if row is None:
            raise KrbotError("ask.unknown", id=ask_id)
        if row.status != model.AskStatus.OPEN.value:
            return Reply(
                key="ask.already",
                lang=scope.lang,
                params={"id": ask_id, "status": row.status, "by": row.decided_by},
            )
        row.status = (model.AskStatus.APPROVED if approve else model.AskStatus.DECLINED).value
        row.decided_by = sender.key
        row.decided_at = at
        asker = scope.okrs.people.get(row.person_key)
        params = {
            "id": ask_id,
            "code": row.code,
            "status": row.status,
            "text": row.text,
            "by": sender.name,
            "asker": row.person_key,
            "asker_name": asker.name if asker else row.person_key,
        }
        notices = (
            ()
            if row.person_key == sender.key
            else (
                Notice(
                    person=row.person_key, key="notice.ask_decided", params=params, name=params["asker_name"]
                ),
            )
        )
        return Reply(key="ask.decided", lang=scope.lang, params=params, notices=notices)
