"""Check-ins from chat text and the CLI: read, checked against the rules, stored, echoed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import commands
from bot.core import model
from bot.core.asks import ClassifiedAsk, classify_ask, split_asks
from bot.core.errors import KrbotError, NotAllowed
from bot.core.numbers import EN_STYLE, NumberStyle
from bot.core.progress import KrProgress, kr_progress, measure_progress
from bot.core.rules import check_checkin_day, find_measure, may_update
from bot.core.values import format_value, read_measure_value, read_value
from bot.locales import write_value
from bot.metrics import CHECKINS
from bot.services.context import (
    Scope,
    codes_of,
    load_scope,
    name_of,
    owned_target,
    person_in,
    workspace_language,
)
from bot.services.replies import Notice, Reply
from storage import repository
from storage.db import UnitOfWork


def read_measure(
    measure: model.Measure, text: str, *, style: NumberStyle = EN_STYLE, check_range: bool = False
) -> float:
    """A value typed for a measure, read in the writer's style (and, for a check-in, within its plausible range)."""
    try:
        if check_range:
            return read_measure_value(text=text, measure=measure, style=style)
        milestone = measure.kind is model.MeasureKind.MILESTONE
        return read_value(text=text, unit=measure.unit, milestone=milestone, style=style)
    except KrbotError as error:
        raise KrbotError(
            "checkin.bad_value", measure=measure.name, detail=error.key, **error.params
        ) from None


def build_checkin(
    *,
    scope: Scope,
    person: model.Person,
    update: commands.Update,
    at: datetime,
    now: datetime | None = None,
    style: NumberStyle | None = None,
    classified: Sequence[ClassifiedAsk] = (),
) -> tuple[model.Checkin, list[model.Ask]]:
    """Validate an update against the OKR tree, the cycle's days and the sender's rights; nothing is written here.

    The one builder of text, form, CLI and CSV check-ins: `style` reads numbers in another style than the sender's
    (a spreadsheet's locale), `classified` adds asks already classified (a form's chosen kind and amount)."""
    if update.code is None:
        raise KrbotError("checkin.no_code", known=", ".join(codes_of(scope.okrs, person.key)) or "—")
    return checkin_for(
        scope=scope, target=owned_target(scope, update.code, person), person=person, update=update, at=at, now=now,
        style=style, classified=classified,
    )


def checkin_for(
    *,
    scope: Scope,
    target: model.KeyResult | model.Objective,
    person: model.Person,
    update: commands.Update,
    at: datetime,
    now: datetime | None = None,
    style: NumberStyle | None = None,
    classified: Sequence[ClassifiedAsk] = (),
) -> tuple[model.Checkin, list[model.Ask]]:
    """build_checkin once the target is known (a spreadsheet looks each code up once, not once per row)."""
    if not may_update(target=target, person=person):
        owner = scope.okrs.people.get(target.owner)
        raise NotAllowed("checkin.not_owner", code=target.code, owner=owner.name if owner else target.owner)
    style = style or scope.style_for(person.key)
    check_checkin_day(
        day=scope.local(at).date(), cycle=scope.okrs.cycle, today=None if now is None else scope.local(now).date()
    )
    values, problems = read_values(target=target, items=update.values, style=style)
    if problems:
        raise next(iter(problems.values()))
    kinds = [classify_ask(text=part, style=style) for text in update.asks for part in split_asks(text=text)]
    asks = [
        model.Ask(id=None, code=target.code, person=person.key, kind=c.kind, text=c.text, at=at, amount=c.amount, unit=c.unit)
        for c in [*kinds, *classified]
    ]
    if not values and not asks and not (update.note or update.next_step or update.risk) and update.confidence is None:
        raise KrbotError("checkin.empty", code=target.code, example=_example(target, scope.lang))
    checkin = model.Checkin(
        code=target.code,
        person=person.key,
        at=at,
        values=values,
        note=update.note,
        next_step=update.next_step,
        risk=update.risk,
        confidence=update.confidence,
    )
    return checkin, asks


def read_values(
    *, target: model.KeyResult | model.Objective, items: Sequence[commands.MeasureValue], style: NumberStyle
) -> tuple[dict[str, float], dict[str, KrbotError]]:
    """The typed values read for their measures ({measure name: value}), and {measure name (as typed): refusal}."""
    values: dict[str, float] = {}
    problems: dict[str, KrbotError] = {}
    for item in items:
        try:
            measure = find_measure(target=target, name=item.measure)
            if measure.name in values:
                raise KrbotError("checkin.measure_twice", measure=measure.name)
            values[measure.name] = read_measure(measure, item.text, style=style, check_range=True)
        except KrbotError as error:
            problems.setdefault(item.measure or "", error)
    return values, problems


def _example(target: model.KeyResult | model.Objective, lang: str) -> str:
    """A check-in the user could type for this code, in the measure's own unit."""
    first = target.measures[0] if target.measures else None
    if first is None or first.kind is model.MeasureKind.MILESTONE:
        return f"{target.code} done"
    sample = first.target if first.target is not None else first.limit
    return f"{target.code} {format_value(number=sample or 1, unit=first.unit, lang=lang)}"


def record_checkin(
    *,
    uow: UnitOfWork,
    person: str,
    update: commands.Update,
    at: datetime,
    workspace: str | None = None,
    source: str = "cli",
    event_key: str | None = None,
    now: datetime | None = None,
) -> Reply:
    """Validate and store one check-in (once per event key); reply with the KR's new standing.

    `now` (the real clock) is given where the writer chose `at` (krbot checkin --at): a later day is refused."""
    try:
        with uow.begin() as session:
            scope = load_scope(
                session=session, workspace=workspace, at=at, code=update.code, people=(person,)
            )
            sender = person_in(scope, person)
            if event_key is not None:
                existing = repository.checkin_with_event(
                    session=session, workspace_id=scope.workspace.id, event_key=event_key
                )
                if existing is not None:
                    return Reply(key="checkin.duplicate", lang=scope.lang, params={"code": update.code or ""})
            checkin, asks = build_checkin(scope=scope, person=sender, update=update, at=at, now=now)
            earlier = history_before(session=session, scope=scope, code=checkin.code, at=at)
            repository.add_checkin(
                session=session,
                loaded=scope.loaded,
                checkin=checkin,
                asks=asks,
                source=source,
                event_key=event_key,
            )
            reply = saved_reply(scope=scope, checkin=checkin, earlier=earlier, asks=asks, at=at)
        CHECKINS.labels(source=source).inc()  # counted once committed
        return reply
    except IntegrityError:
        if event_key is None or not _event_stored(uow=uow, workspace=workspace, event_key=event_key):
            raise
        lang = workspace_language(uow=uow, workspace=workspace)
        return Reply(key="checkin.duplicate", lang=lang, params={"code": update.code or ""})


def _event_stored(*, uow: UnitOfWork, workspace: str | None, event_key: str) -> bool:
    """True when a concurrent delivery of the same event already stored its check-in."""
    with uow.begin() as session:
        row = repository.find_workspace(session=session, name=workspace)
        return row is not None and (
            repository.checkin_with_event(session=session, workspace_id=row.id, event_key=event_key)
            is not None
        )


def history_before(*, session: Session, scope: Scope, code: str, at: datetime) -> list[model.Checkin]:
    """A code's history up to `at` as a forecast reads it (each day's last values), read before a check-in is stored."""
    return repository.day_history(session=session, cycle_id=scope.cycle.id, code=code, until=at,
                                  timezone=scope.workspace.timezone)


def saved_reply(
    *, scope: Scope, checkin: model.Checkin, earlier: list[model.Checkin], asks: list[model.Ask], at: datetime
) -> Reply:
    """The answer to a stored check-in: its values as understood and the KR's standing with it (a drop told to whom
    the KR consults), from the history before it (`history_before`) and the check-in itself."""
    checkins = [*earlier, checkin]  # the check-in is the newest at or before `at`
    target = scope.okrs.owner_of(code=checkin.code)
    assert target is not None
    measures = {m.name: m for m in target.measures}
    locale = scope.locale_for(checkin.person)
    shown = [
        {
            "name": name,
            "value": value,
            "unit": measures[name].unit,
            "kind": measures[name].kind.value,
            "shown": write_value(number=value, unit=measures[name].unit, locale=locale, lang=scope.lang),
        }
        for name, value in checkin.values.items()
    ]
    standing = None
    notices: tuple[Notice, ...] = ()
    if isinstance(target, model.KeyResult):
        objective = next(o for o in scope.okrs.objectives if target in o.krs())
        progress = kr_progress(
            kr=target,
            checkins=checkins,
            cycle=scope.okrs.cycle,
            objective_deadline=objective.deadline,
            as_of=scope.local(at),
        )
        standing = _standing(progress, names=checkin.values)
        if not target.consulted:  # nobody to tell of a drop: the standing before is not needed
            return _saved(scope=scope, checkin=checkin, asks=asks, shown=shown, standing=standing, notices=())
        before = kr_progress(
            kr=target,
            checkins=earlier,
            cycle=scope.okrs.cycle,
            objective_deadline=objective.deadline,
            as_of=scope.local(at),
        )
        if _worse(before.status, progress.status):
            words = {
                "code": target.code,
                "title": target.title,
                "before": before.status.value,
                "after": progress.status.value,
                "owner": scope.okrs.people[target.owner].name
                if target.owner in scope.okrs.people
                else target.owner,
                "note": checkin.risk or checkin.note,
            }
            notices = tuple(
                Notice(person=key, key="notice.status_dropped", params=words, name=name_of(scope, key))
                for key in target.consulted
            )
    else:
        headline = target.measures[0] if target.measures else None
        if headline is not None:
            mp = measure_progress(
                measure=headline,
                checkins=checkins,
                code=target.code,
                cycle=scope.okrs.cycle,
                objective_deadline=target.deadline,
                as_of=scope.local(at),
            )
            standing = {
                "completion": mp.completion, "forecast": mp.forecast_completion, "status": None, "final": mp.final,
                "late": [{"name": headline.name, "deadline": mp.deadline}] if mp.final and headline.name in checkin.values
                else [],
            }
    return _saved(scope=scope, checkin=checkin, asks=asks, shown=shown, standing=standing, notices=notices)

def _saved(
    *,
    scope: Scope,
    checkin: model.Checkin,
    asks: list[model.Ask],
    shown: list[dict[str, Any]],
    standing: dict[str, Any] | None,
    notices: tuple[Notice, ...],
) -> Reply:
    """The "saved" reply: the values as understood, the words, the asks and the KR's standing now."""
    locale = scope.locale_for(checkin.person)
    return Reply(
        key="checkin.saved",
        lang=scope.lang,
        params={
            "code": checkin.code,
            "values": shown,
            "note": checkin.note,
            "next_step": checkin.next_step,
            "risk": checkin.risk,
            "confidence": checkin.confidence,
            "asks": [
                {
                    "kind": a.kind.value,
                    "amount": a.amount,
                    "unit": a.unit,
                    "text": a.text,
                    "shown": None
                    if a.amount is None or a.kind is not model.AskKind.MONEY
                    else write_value(number=a.amount, unit=a.unit, locale=locale, lang=scope.lang),
                }
                for a in asks
            ],
            "standing": standing,
        },
        notices=notices,
        locale=locale,
    )


_STATUS_RANK = {
    model.Status.DONE: 0,
    model.Status.ON_TRACK: 1,
    model.Status.AT_RISK: 2,
    model.Status.OFF_TRACK: 3,
}


def _worse(before: model.Status, after: model.Status) -> bool:
    """True when a KR's status dropped (no-data on either side never counts as a drop)."""
    if before not in _STATUS_RANK or after not in _STATUS_RANK:
        return False
    return _STATUS_RANK[after] > _STATUS_RANK[before]


def _standing(progress: KrProgress, *, names: Any = ()) -> dict[str, Any]:
    """The KR's standing after a check-in; `late` names the measures it gave that were past their deadline (their
    result stays the value at the end of the deadline day)."""
    return {
        "completion": progress.completion,
        "forecast": progress.forecast_completion,
        "status": progress.status.value,
        "final": progress.final,
        "late": [{"name": m.measure.name, "deadline": m.deadline} for m in progress.measures
                 if m.final and m.measure.name in names],
    }


def validate_checkin(
    *,
    uow: UnitOfWork,
    person: str,
    code: str,
    values: dict[str, str],
    at: datetime,
    workspace: str | None = None,
) -> dict[str, KrbotError]:
    """Field-by-field problems of a check-in form (measure name -> the refusal to show on it); {} if valid."""
    with uow.begin() as session:
        scope = load_scope(session=session, workspace=workspace, at=at, code=code, people=(person,))
        sender = person_in(scope, person)
        target = owned_target(scope, code, sender)
        style = scope.style_for(sender.key)
    typed = tuple(commands.MeasureValue(measure=name, text=text) for name, text in values.items() if text.strip())
    return read_values(target=target, items=typed, style=style)[1]
