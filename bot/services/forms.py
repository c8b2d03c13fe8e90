"""Check-ins from the Slack modal and the Feishu card: every field read, stored once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError

from bot import commands
from bot.core import model
from bot.core.asks import ClassifiedAsk, classify_ask
from bot.core.confidence import read_confidence
from bot.core.errors import KrbotError
from bot.core.numbers import NumberStyle
from bot.core.text import clean_optional, clean_text
from bot.core.values import read_amount
from bot.services.checkins import build_checkin, history_before, read_values, saved_reply
from bot.services.context import load_scope, owned_target, person_in
from bot.services.replies import Reply
from storage import repository
from storage.db import UnitOfWork


def record_form(
    *,
    uow: UnitOfWork,
    person: str,
    code: str,
    values: dict[str, str],
    note: str | None,
    next_step: str | None,
    risk: str | None,
    ask_text: str | None,
    ask_kind: str | None,
    ask_amount: str | None,
    at: datetime,
    workspace: str | None = None,
    source: str = "form",
    event_key: str | None = None,
    confidence: str | None = None,
) -> tuple[Reply | None, dict[str, KrbotError]]:
    """Store a check-in form (values by measure name, an ask of a chosen kind) once per event key, or {field: refusal}."""
    values = {name: clean_text(text=value) for name, value in values.items()}
    note, next_step, risk = (clean_optional(text=field) for field in (note, next_step, risk))
    ask_text, ask_amount = clean_optional(text=ask_text), clean_optional(text=ask_amount)
    try:
        return _record_form(
            uow=uow,
            person=person,
            code=code,
            values=values,
            note=note,
            next_step=next_step,
            risk=risk,
            ask_text=ask_text,
            ask_kind=ask_kind,
            ask_amount=ask_amount,
            at=at,
            workspace=workspace,
            source=source,
            event_key=event_key,
            confidence=clean_optional(text=confidence),
        )
    except _Duplicate as duplicate:
        return Reply(key="checkin.duplicate", lang=str(duplicate), params={"code": code}), {}


def _record_form(
    *,
    uow: UnitOfWork,
    person: str,
    code: str,
    values: dict[str, str],
    note: str | None,
    next_step: str | None,
    risk: str | None,
    ask_text: str | None,
    ask_kind: str | None,
    ask_amount: str | None,
    at: datetime,
    workspace: str | None,
    source: str,
    event_key: str | None,
    confidence: str | None,
) -> tuple[Reply | None, dict[str, KrbotError]]:
    with uow.begin() as session:
        scope = load_scope(session=session, workspace=workspace, at=at, code=code, people=(person,))
        sender = person_in(scope, person)
        if event_key is not None and repository.checkin_with_event(
            session=session, workspace_id=scope.workspace.id, event_key=event_key
        ):
            return Reply(key="checkin.duplicate", lang=scope.lang, params={"code": code}), {}
        target = owned_target(scope, code, sender)
        style = scope.style_for(sender.key)
        typed = tuple(commands.MeasureValue(measure=n, text=t) for n, t in values.items() if t.strip())
        _, problems = read_values(target=target, items=typed, style=style)
        ask = _form_ask(text=ask_text, kind=ask_kind, amount=ask_amount, problems=problems, style=style)
        score = form_confidence(text=confidence, problems=problems)
        if problems:
            return None, problems
        update = commands.Update(
            code=target.code,
            values=typed,
            note=(note or "").strip() or None,
            next_step=(next_step or "").strip() or None,
            risk=(risk or "").strip() or None,
            confidence=score,
        )
        checkin, asks = build_checkin(scope=scope, person=sender, update=update, at=at, classified=(ask,) if ask else ())
        earlier = history_before(session=session, scope=scope, code=checkin.code, at=at)
        try:
            repository.add_checkin(
                session=session,
                loaded=scope.loaded,
                checkin=checkin,
                asks=asks,
                source=source,
                event_key=event_key,
            )
        except IntegrityError as error:  # a concurrent delivery of the same submission stored it first
            raise _Duplicate(scope.lang) from error
        return saved_reply(scope=scope, checkin=checkin, earlier=earlier, asks=asks, at=at), {}


CONFIDENCE_FIELD = "confidence"  # the form field of the owner's confidence, and the key of its refusal


def form_confidence(*, text: str | None, problems: dict[str, KrbotError]) -> int | None:
    """A form's confidence (0–10 or words), None when left empty; a refusal goes to `problems` under its field."""
    if not (text or "").strip():
        return None
    try:
        return read_confidence(text=text or "")
    except KrbotError as error:
        problems[CONFIDENCE_FIELD] = error
        return None


class _Duplicate(Exception):
    """A form submission another delivery already stored (carries the workspace language)."""


def _form_ask(
    *, text: str | None, kind: str | None, amount: str | None, problems: dict[str, KrbotError], style: NumberStyle
) -> ClassifiedAsk | None:
    """The ask of a form: typed words, the kind chosen (else classified by the words) and an amount read for that kind."""
    words = (text or "").strip()
    typed_amount = (amount or "").strip()
    if not words:
        if kind or typed_amount:
            problems["ask_text"] = KrbotError("form.ask_text_missing")
        return None
    try:
        classified = classify_ask(text=words, style=style)
    except KrbotError as error:
        problems["ask_text"] = error
        return None
    chosen = model.AskKind(kind) if kind else classified.kind
    number, unit = (classified.amount, classified.unit) if chosen is classified.kind else (None, None)
    if typed_amount:
        try:
            number, unit = read_amount(text=typed_amount, style=style)
        except KrbotError as error:
            problems["ask_amount"] = error
            return None
        if chosen is model.AskKind.MONEY and unit is None:
            problems["ask_amount"] = KrbotError("form.ask_amount_money", word=typed_amount)
        elif chosen is not model.AskKind.MONEY:
            if unit is not None:
                problems["ask_amount"] = KrbotError("form.ask_amount_number", word=typed_amount)
            unit = "people" if chosen is model.AskKind.PEOPLE else None
    return ClassifiedAsk(kind=chosen, amount=number, unit=unit, text=words)
