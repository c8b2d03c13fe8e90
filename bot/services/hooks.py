"""Per-measure check-in hooks (CONTRACT §9): a secret URL for one measure, kept as a SHA-256, stored as its owner's check-in."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.core import model
from bot.core.errors import KrbotError
from bot.core.rules import find_measure
from bot.services.context import load_scope, owned_target, workspace_row
from bot.services.inbound import JsonValue, json_checkin
from bot.services.keys import bound_request
from bot.services.replies import Reply
from bot.services.tokens import Issued, digest_of, new_secret, person_language
from storage.db import UnitOfWork
from storage.repository import credentials

HOOK_PREFIX = "krh_"
HOOK_SOURCE = "hook"
NOBODY = model.Person(key="", name="")  # codes are looked up for nobody in particular: "did you mean" from all codes


def create_hook(
    *, uow: UnitOfWork, code: str, measure: str, at: datetime, workspace: str | None = None, by: str | None = None
) -> tuple[Issued, str, str]:
    """A new hook for one measure of a KR or objective: (the secret once, the code and measure as stored).

    An unknown code or measure is refused with "did you mean", as in chat."""
    secret, hashed, prefix = new_secret(prefix=HOOK_PREFIX)
    with uow.begin() as session:
        scope = load_scope(session=session, workspace=workspace, at=at)
        try:
            target = owned_target(scope, code, NOBODY)
        except KrbotError as error:
            known = [o.code for o in scope.okrs.objectives] + [k.code for o in scope.okrs.objectives for k in o.krs()]
            raise KrbotError("hook.code_unknown", **{**error.params, "known": ", ".join(known)}) from None
        found = find_measure(target=target, name=measure)
        hook_id = credentials.add_hook(
            session=session, workspace_id=scope.workspace.id, code=target.code, measure=found.name,
            secret_hash=hashed, prefix=prefix, created_by=by, owner=target.owner, at=at,
        )
    return Issued(id=hook_id, secret=secret, prefix=prefix), target.code, found.name


def list_hooks(*, uow: UnitOfWork, workspace: str | None = None) -> list[dict[str, Any]]:
    """Every hook of the workspace with its code, measure, prefix and times — never the secret."""
    with uow.begin() as session:
        row = workspace_row(session=session, workspace=workspace)
        return [
            {
                "id": h.id,
                "code": h.code,
                "measure": h.measure,
                "prefix": h.prefix,
                "created_at": h.created_at,
                "last_used_at": h.last_used_at,
                "revoked_at": h.revoked_at,
            }
            for h in credentials.hooks(session=session, workspace_id=row.id)
        ]


def revoke_hook(*, uow: UnitOfWork, hook_id: int, at: datetime, workspace: str | None = None) -> None:
    """Revoke a live hook of the workspace; refused when there is no such live hook."""
    with uow.begin() as session:
        row = workspace_row(session=session, workspace=workspace)
        if not credentials.revoke(session=session, kind="hook", workspace_id=row.id, row_id=hook_id, at=at):
            raise KrbotError("hook.unknown_id", id=hook_id)


def hook_checkin(
    *,
    uow: UnitOfWork,
    secret: str,
    value: JsonValue | None,
    now: datetime,
    key: str | None = None,
    body: bytes = b"",
    unreadable: KrbotError | None = None,
) -> tuple[Reply, str]:
    """Store `value` for the hook's measure as a check-in by the owner it was made for (source `hook`), once per
    `key` (bound to this hook and `body`); the reply and the workspace it was stored in.

    An unknown or revoked secret, or a hook whose KR has another owner now, is refused as `hook.unknown` alike;
    `unreadable` (the body's refusal) or a value §6 refuses raises its refusal in the owner's language."""
    with uow.begin() as session:
        target = credentials.hook_of(session=session, secret_hash=digest_of(secret=secret))
        if target is None:
            raise KrbotError("hook.unknown")
        scope = load_scope(session=session, workspace=target.workspace, at=now, code=target.code)
        goal = scope.okrs.owner_of(code=target.code)
        if goal is None:  # the KR was archived by a later import: the hook leads nowhere
            raise KrbotError("hook.unknown")
        if target.owner is not None and goal.owner != target.owner:  # made for another owner: never stores as this one
            raise KrbotError("hook.unknown")
        credentials.touch(session=session, kind="hook", row_id=target.hook_id, last_used_at=target.last_used_at, at=now)
        owner = scope.okrs.people.get(goal.owner)
        lang = person_language(locale=owner.locale if owner else None, workspace_language=scope.lang)
    try:
        if unreadable is not None:
            raise unreadable
        if value is None:
            raise KrbotError("hook.no_value")
        with bound_request(
            uow=uow, holder=f"hook:{target.hook_id}", key=key, route=f"POST /hooks/{target.hook_id}", body=body, at=now
        ) as event_key:
            reply = json_checkin(
                uow=uow, person=goal.owner, workspace=target.workspace, code=target.code, now=now,
                values={target.measure: value}, source=HOOK_SOURCE, event_key=event_key,
            )
    except KrbotError as error:
        raise HookRefused(error=error, lang=lang) from None
    return reply, target.workspace


class HookRefused(Exception):
    """A hook's value refused by §6 (or its owner's rights), with the language of the KR's owner to say it in."""

    def __init__(self, *, error: KrbotError, lang: str) -> None:
        super().__init__(error.key)
        self.error = error
        self.lang = lang
