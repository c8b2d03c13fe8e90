"""Check-ins that arrive as JSON (the HTTP API, per-measure hooks): read by §6, stored once per request key, answered alike."""

from __future__ import annotations

import dataclasses
import hashlib
import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from bot import commands
from bot.core.confidence import read_confidence
from bot.core.errors import KrbotError
from bot.core.numbers import plain
from bot.core.text import clean_text
from bot.services.checkins import history_before, record_checkin, saved_reply
from bot.services.context import load_scope, parse_as_of, parse_moment, workspace_row
from bot.services.replies import Reply
from storage import repository
from storage.db import UnitOfWork

JsonValue = float | int | bool | str
DUPLICATE = "checkin.duplicate"


def number_text(*, number: float | int) -> str:
    """A JSON number as text the §6 reader reads as that same number in every locale.

    Plain digits with a `.` decimal; a fraction of exactly three digits gets a trailing zero (`1.2340`), since
    `1.234` would be a thousands group in de or ambiguous in en, while `1.2340` only one convention can read.
    A float keeps its first 15 significant digits: 0.1 + 0.2 sent as 0.30000000000000004 is 0.3, not a refusal."""
    if isinstance(number, float) and not math.isfinite(number):
        raise KrbotError("body.not_finite", field="body")
    text = plain(Decimal(format(number, ".15g") if isinstance(number, float) else number))
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction}0" if len(fraction) == 3 else text


def value_text(*, value: JsonValue) -> str:
    """A JSON value as typed text: numbers exactly, true/false as done/not done, strings as written (read by §6)."""
    if isinstance(value, bool):
        return "done" if value else "not done"
    if isinstance(value, int | float):
        return number_text(number=value)
    return value


def request_key(*, scope: str, key: str) -> str:
    """The event key a client's `Idempotency-Key` is stored under: one per `scope` (a person, a hook), fixed length."""
    return "api:" + hashlib.sha256(f"{scope}\n{key}".encode("utf-8", "surrogatepass")).hexdigest()


def json_checkin(
    *,
    uow: UnitOfWork,
    person: str,
    workspace: str,
    code: str,
    now: datetime,
    values: dict[str, JsonValue] | None = None,
    text: str | None = None,
    note: str | None = None,
    next_step: str | None = None,
    ask: str | None = None,
    risk: str | None = None,
    at: str | None = None,
    source: str = "api",
    event_key: str | None = None,
    confidence: int | str | None = None,
) -> Reply:
    """One check-in from structured values or the chat grammar, stored once per `event_key`; a retry of a stored
    request gets the same "saved" answer as the first (without telling anyone again). Refusals raise."""
    if text is not None and (values or note or next_step or ask or risk or confidence is not None):
        raise KrbotError("api.text_or_values")
    code, text, note, next_step, ask, risk = (
        None if word is None else clean_text(text=word) for word in (code, text, note, next_step, ask, risk)
    )
    assert code is not None
    for name, value in (values or {}).items():  # NaN or Infinity that reached here (not as JSON): refused by name
        if isinstance(value, float) and not math.isfinite(value):
            raise KrbotError("body.not_finite", field=f"values.{name}")
    if text is not None:
        update = commands.parse_update(text=f"{code} {text}")
        if update.code is None or update.code.casefold() != code.strip().casefold():
            raise KrbotError("command.unknown", word=text)
    else:
        update = commands.Update(
            code=code.strip(),
            values=tuple(
                commands.MeasureValue(measure=clean_text(text=name), text=clean_text(text=value_text(value=value)))
                for name, value in (values or {}).items()
            ),
            note=note or None,
            next_step=next_step or None,
            risk=risk or None,
            asks=(ask,) if ask else (),
            confidence=None if confidence is None else read_confidence(text=clean_text(text=str(confidence))),
        )
    moment = now
    if at is not None:
        with uow.begin() as session:
            zone = workspace_row(session=session, workspace=workspace).timezone
        moment = moment_within_reach(text=at, timezone=zone)
    with uow.one_writer():  # on SQLite, a burst of API check-ins waits in turn, not in SQLite's sleeping busy handler
        reply = record_checkin(
            uow=uow, person=person, update=update, at=moment, workspace=workspace, source=source, event_key=event_key,
            now=now,
        )
    if reply.key == DUPLICATE and event_key is not None:
        return stored_reply(uow=uow, workspace=workspace, event_key=event_key) or reply
    return reply


def moment_within_reach(*, text: str, timezone: str, as_of: bool = False) -> datetime:
    """An ISO time a request gave (`as_of`: a date alone is the end of that day), refused when it is so near the
    year 1 or 9999 that no clock can hold it in UTC or the workspace's zone."""
    try:
        moment = (parse_as_of if as_of else parse_moment)(text=clean_text(text=text), timezone=timezone)
        local = moment.astimezone(UTC).astimezone(ZoneInfo(timezone))
        local + timedelta(days=400), local - timedelta(days=400)  # the cycle's grace and periods around it
    except OverflowError:
        raise KrbotError("api.too_far", word=text[:40]) from None
    return moment


def stored_reply(*, uow: UnitOfWork, workspace: str, event_key: str) -> Reply | None:
    """The "saved" answer of the check-in stored under `event_key`, as its first request got it (no notices)."""
    with uow.begin() as session:
        row = workspace_row(session=session, workspace=workspace)
        stored = repository.stored_checkin(session=session, workspace_id=row.id, event_key=event_key)
        if stored is None:
            return None
        checkin, asks = stored
        scope = load_scope(
            session=session, workspace=workspace, at=checkin.at, code=checkin.code, people=(checkin.person,)
        )
        # the history read now holds the check-in itself: the standing is the same, and a retry's answer tells nobody
        earlier = history_before(session=session, scope=scope, code=checkin.code, at=checkin.at)
        reply = saved_reply(scope=scope, checkin=checkin, earlier=earlier, asks=asks, at=checkin.at)
    return dataclasses.replace(reply, notices=())
