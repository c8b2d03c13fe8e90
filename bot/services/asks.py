"""Ask decisions by the boss or an admin, made once and told to the asker once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from bot.core import model
from bot.core.errors import KrbotError, NotAllowed
from bot.core.text import clean_optional
from bot.services.context import load_scope, name_of, person_in
from bot.services.once import first_time, once_per_request, repeat
from bot.services.replies import Notice, Reply, Shows
from storage import once, repository
from storage.db import UnitOfWork

COMMENT_CHARS = 1000  # a decision's comment is a sentence or a few, not a document


def decide_ask(
    *,
    uow: UnitOfWork,
    person: str,
    ask_id: int,
    approve: bool,
    at: datetime,
    workspace: str | None = None,
    event_key: str | None = None,
    comment: str | None = None,
) -> Reply:
    """Approve or decline an open ask (boss or admin only), once: a later or concurrent decision is told who won;
    `comment` (the web's optional words) is stored with the decision and told to the asker."""
    comment = clean_optional(text=comment) or None
    if comment is not None and len(comment) > COMMENT_CHARS:
        raise KrbotError("ask.comment_long", n=COMMENT_CHARS)

    def action() -> Reply:
        with uow.begin() as session:
            return _decide(
                session=session, person=person, ask_id=ask_id, approve=approve, at=at, workspace=workspace,
                event_key=event_key, comment=comment,
            )

    return once_per_request(uow=uow, workspace=workspace, event_key=event_key, action=action)


def _decide(
    *, session: Session, person: str, ask_id: int, approve: bool, at: datetime, workspace: str | None,
    event_key: str | None, comment: str | None,
) -> Reply:
    """The decision inside one transaction: `UPDATE asks … WHERE status = 'open'` decides who won."""
    scope = load_scope(session=session, workspace=workspace, at=at)
    sender = person_in(scope, person)
    if sender.role not in (model.Role.BOSS, model.Role.ADMIN):
        raise NotAllowed("ask.not_allowed")
    row = repository.ask_row(session=session, workspace_id=scope.workspace.id, ask_id=ask_id)
    if row is None:
        raise KrbotError("ask.unknown", id=ask_id)
    if not first_time(session=session, event_key=event_key, at=at):
        return repeat(lang=scope.lang)
    status = (model.AskStatus.APPROVED if approve else model.AskStatus.DECLINED).value
    if not once.decide_ask(session=session, workspace_id=scope.workspace.id, ask_id=ask_id, status=status,
                           by=sender.key, at=at, comment=comment):
        decided = once.ask_decision(session=session, workspace_id=scope.workspace.id, ask_id=ask_id)
        now, by = decided if decided else (status, None)
        return Reply(
            key="ask.already",
            lang=scope.lang,
            params={"id": ask_id, "status": now, "by": name_of(scope, by) if by else "", "by_key": by},
        )
    repository.tell_decision(session=session, loaded=scope.loaded, row=row, decision=status, who=sender.key, at=at)
    asker = scope.okrs.people.get(row.person_key)
    params = {
        "id": ask_id,
        "code": row.code,
        "status": status,
        "text": row.text,
        "by": sender.name,
        "asker": row.person_key,
        "asker_name": asker.name if asker else row.person_key,
        "comment": comment or "",
    }
    notices = (
        ()
        if row.person_key == sender.key
        else (Notice(person=row.person_key, key="notice.ask_decided", params=params, name=params["asker_name"]),)
    )
    return Reply(key="ask.decided", lang=scope.lang, params=params, notices=notices, shows=Shows.DECISION)
