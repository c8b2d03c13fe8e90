"""Goal changes and tasks done: checked, dated, logged and announced."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot import commands
from bot.core import model
from bot.core.errors import KrbotError, NotAllowed
from bot.core.goals import check_direction, check_repeat, round_pace
from bot.core.method import (
    backward_plan,
)
from bot.core.progress import measure_progress, okr_progress
from bot.core.rules import find_measure, may_change
from bot.i18n import LANGUAGES, translate
from bot.services.checkins import read_measure
from bot.services.context import Scope, load_scope, name_of, owned_target, person_in
from bot.services.once import first_time, once_per_request, repeat
from bot.services.replies import Notice, Reply
from storage import once, repository
from storage.db import UnitOfWork
from storage.models import (
    KrRow,
    ObjectiveRow,
)

_GOAL_ATTR = {
    "target": "target",
    "baseline": "baseline",
    "at_most": "limit",
    "at_least": "limit",
    "due": "due",
}


def change_goal(
    *,
    uow: UnitOfWork,
    person: str,
    change: commands.Change,
    at: datetime,
    workspace: str | None = None,
    event_key: str | None = None,
) -> Reply:
    """Change a KR's or objective's goal (accountable or admin only) once per request, log it, show its impact."""
    return once_per_request(
        uow=uow, workspace=workspace, event_key=event_key,
        action=lambda: _change_goal(uow=uow, person=person, change=change, at=at, workspace=workspace,
                                    event_key=event_key),
    )


def _change_goal(
    *, uow: UnitOfWork, person: str, change: commands.Change, at: datetime, workspace: str | None, event_key: str | None
) -> Reply:
    """The goal change in one transaction; each field written only if it still holds what was read."""
    with uow.begin() as session:
        scope = load_scope(session=session, workspace=workspace, at=at)
        sender = person_in(scope, person)
        target = owned_target(scope, change.code, sender)
        if not may_change(target=target, person=sender):
            accountable = target.accountable if isinstance(target, model.KeyResult) else None
            who = scope.okrs.people[accountable].name if accountable in scope.okrs.people else None
            raise NotAllowed("change.not_allowed", code=target.code, accountable=who or "")
        if not (change.reason or "").strip():
            raise KrbotError("change.reason_required", code=target.code)
        if not first_time(session=session, event_key=event_key, at=at):
            return repeat(lang=scope.lang)
        checkins = repository.load_checkins(session=session, cycle_id=scope.cycle.id, until=at)
        before = _target_progress(scope, target, checkins, at)
        logged = []
        for edit in change.changes:
            logged.append(
                _apply_edit(
                    session=session,
                    scope=scope,
                    target=target,
                    edit=edit,
                    person=sender,
                    at=at,
                    reason=change.reason or "",
                    insist=change.insist,
                )
            )
        session.flush()
        reloaded = repository.load_okrs(session=session, workspace=scope.workspace, cycle=scope.cycle)
        new_target = reloaded.okrs.owner_of(code=target.code)
        assert new_target is not None
        after_scope = Scope(workspace=scope.workspace, cycle=scope.cycle, loaded=reloaded)
        after = _target_progress(after_scope, new_target, checkins, at)
        edited = [entry["measure"] for entry in logged if entry["measure"]]
        pace = _extra_pace(scope=after_scope, target=new_target, checkins=checkins, at=at, prefer=edited)
        params = {
            "code": target.code,
            "title": target.title,
            "changes": logged,
            "reason": change.reason,
            "before": before,
            "after": after,
            "pace": pace,
            "by": sender.name,
        }
        involved = [target.owner]
        if isinstance(target, model.KeyResult):
            involved += [target.accountable or "", *target.informed]
        notices = tuple(
            Notice(person=key, key="notice.goal_changed", params=params, name=name_of(scope, key),
                   locale=scope.locale_for(key))
            for key in dict.fromkeys(involved)
            if key and key != sender.key
        )
        reply = Reply(key="change.saved", lang=scope.lang, params=params, notices=notices,
                      locale=scope.locale_for(sender.key))
        _words_of(reply)  # a reply that can't be worded fails here, and the change is not kept
    return reply


def _words_of(reply: Reply) -> None:
    """Word the reply and its notices in every language, so that any failure comes before the commit."""
    for lang in LANGUAGES:
        translate(reply.key, lang=lang, **reply.params)
        for notice in reply.notices:
            translate(notice.key, lang=lang, **notice.params)


def _extra_pace(
    *,
    scope: Scope,
    target: model.KeyResult | model.Objective,
    checkins: list[model.Checkin],
    at: datetime,
    prefer: list[str],
) -> dict[str, Any] | None:
    """How much more per week the changed (else the first) target measure needs, beyond its trend, to reach its target."""
    objective = (
        target
        if isinstance(target, model.Objective)
        else next(o for o in scope.okrs.objectives if target in o.krs())
    )
    ranked = sorted(target.measures, key=lambda m: m.name not in prefer)
    for measure in ranked:
        if measure.kind is not model.MeasureKind.TARGET:
            continue
        progress = measure_progress(
            measure=measure,
            checkins=checkins,
            code=target.code,
            cycle=scope.okrs.cycle,
            objective_deadline=objective.deadline,
            as_of=scope.local(at),
        )
        zone = ZoneInfo(scope.workspace.timezone)
        end = datetime.combine(progress.deadline + timedelta(days=1), datetime.min.time(), tzinfo=zone)
        weeks = (end - at).total_seconds() / (7 * 86400)
        if progress.gap is None or weeks <= 0:
            return None
        assert measure.baseline is not None and measure.target is not None
        amount = round_pace(amount=progress.gap / weeks, baseline=measure.baseline, target=measure.target)
        return {"measure": measure.name, "amount": amount, "unit": measure.unit, "down": measure.goes_down}
    return None


def _target_progress(
    scope: Scope, target: model.KeyResult | model.Objective, checkins: list[model.Checkin], at: datetime
) -> dict[str, Any]:
    progresses = okr_progress(okrs=scope.okrs, checkins=checkins, as_of=scope.local(at))
    for progress in progresses:
        if progress.objective.code == target.code:
            return {"status": progress.status.value, "forecast": progress.forecast_completion}
        for kp in progress.krs:
            if kp.kr.code == target.code:
                return {"status": kp.status.value, "forecast": kp.forecast_completion}
    return {"status": model.Status.NO_DATA.value, "forecast": None}


def _apply_edit(
    *,
    session: Session,
    scope: Scope,
    target: model.KeyResult | model.Objective,
    edit: commands.GoalEdit,
    person: model.Person,
    at: datetime,
    reason: str,
    insist: bool,
) -> dict[str, Any]:
    """Check one edit against the goal in force, write it and log it dated `at`; what the reply shows of it."""

    def log(field: str, old: Any, new: Any, measure: str | None = None) -> None:
        change = model.GoalChange(
            code=target.code,
            field=field,
            old=None if old is None else _plain(old),
            new=_plain(new),
            reason=reason,
            person=person.key,
            at=at,
            measure=measure,
        )
        repository.add_goal_change(session=session, loaded=scope.loaded, change=change)

    deadline = _deadline_of(scope, target)
    if edit.field == "title":
        row_type = KrRow if isinstance(target, model.KeyResult) else ObjectiveRow
        row = session.query(row_type).filter_by(cycle_id=scope.cycle.id, code=target.code).one()
        check_repeat(measure=None, field="title", old=row.title, new=edit.text, unit=None)
        old = row.title
        _set_goal(session=session, table="kr" if row_type is KrRow else "objective", row_id=row.id,
                  column="title", expected=old, new=edit.text, code=target.code, measure=None, field="title")
        log("title", old, edit.text)
        return {"measure": None, "field": "title", "old": old, "new": edit.text, "unit": None}
    if edit.field == "due" and edit.measure is None and isinstance(target, model.Objective):
        row = repository.objective_row(session=session, cycle_id=scope.cycle.id, code=target.code)
        assert row is not None
        new_day = _read_day(edit.text)
        check_repeat(measure=None, field="deadline", old=deadline, new=new_day, unit=None)
        old_day = row.deadline
        _set_goal(session=session, table="objective", row_id=row.id, column="deadline", expected=old_day,
                  new=new_day, code=target.code, measure=None, field="deadline")
        log("deadline", old_day, new_day)
        return {"measure": None, "field": "deadline", "old": str(deadline), "new": str(new_day), "unit": None}
    measure = _measure_for_field(target, edit)
    row = repository.measure_row(
        session=session, cycle_id=scope.cycle.id, code=target.code, name=measure.name
    )
    assert row is not None
    if edit.field == "due":
        new_day = _read_day(edit.text)
        in_force = row.due or deadline  # a measure without its own due is due at its goal's deadline
        check_repeat(measure=measure.name, field="due", old=in_force, new=new_day, unit=None)
        old_due = row.due
        _set_goal(session=session, table="measure", row_id=row.id, column="due", expected=old_due, new=new_day,
                  code=target.code, measure=measure.name, field="due")
        log("due", old_due, new_day, measure.name)
        return {"measure": measure.name, "field": "due", "old": str(in_force), "new": str(new_day), "unit": None}
    new_value = read_measure(measure, edit.text, style=scope.style_for(person.key))
    column = "limit_value" if edit.field in ("at_most", "at_least") else edit.field
    old_value = getattr(row, column)
    check_repeat(measure=measure.name, field=edit.field, old=old_value, new=new_value, unit=measure.unit)
    if edit.field in ("target", "baseline") and row.baseline is not None and row.target is not None:
        check_direction(
            measure=measure.name,
            field=edit.field,
            baseline=row.baseline,
            target=row.target,
            new=new_value,
            unit=measure.unit,
            insist=insist,
        )
    _set_goal(session=session, table="measure", row_id=row.id, column=column, expected=old_value, new=new_value,
              code=target.code, measure=measure.name, field=edit.field)
    log(edit.field, old_value, new_value, measure.name)
    return {
        "measure": measure.name,
        "field": edit.field,
        "old": old_value,
        "new": new_value,
        "unit": measure.unit,
    }


def _deadline_of(scope: Scope, target: model.KeyResult | model.Objective) -> date:
    """The deadline of the goal `target` serves: its objective's, else the cycle's end."""
    objective = (
        target
        if isinstance(target, model.Objective)
        else next(o for o in scope.okrs.objectives if target in o.krs())
    )
    return objective.deadline or scope.okrs.cycle.end
def _set_goal(
    *, session: Session, table: str, row_id: int, column: str, expected: Any, new: Any, code: str,
    measure: str | None, field: str,
) -> None:
    """Write one goal field only if it still holds what this change read; else refuse, nothing changed."""
    won, now = once.set_goal(session=session, table=table, row_id=row_id, column=column, expected=expected, new=new)
    if not won:
        raise KrbotError("change.conflict", code=code, measure=measure, field=field, now=_plain(now) if now else "—")


def _plain(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _measure_for_field(target: model.KeyResult | model.Objective, edit: commands.GoalEdit) -> model.Measure:
    if edit.measure is not None:
        measure = find_measure(target=target, name=edit.measure)
    else:
        wanted = {
            "target": (model.MeasureKind.TARGET,),
            "baseline": (model.MeasureKind.TARGET,),
            "at_most": (model.MeasureKind.AT_MOST,),
            "at_least": (model.MeasureKind.AT_LEAST,),
            "due": tuple(model.MeasureKind),
        }[edit.field]
        candidates = [m for m in target.measures if m.kind in wanted]
        if not candidates:
            raise KrbotError("change.no_such_field", code=target.code, field=edit.field)
        measure = candidates[0]
    allowed = {
        model.MeasureKind.TARGET: ("target", "baseline", "due"),
        model.MeasureKind.AT_MOST: ("at_most", "due"),
        model.MeasureKind.AT_LEAST: ("at_least", "due"),
        model.MeasureKind.MILESTONE: ("due",),
    }[measure.kind]
    if edit.field not in allowed:
        raise KrbotError(
            "change.wrong_field", measure=measure.name, field=edit.field, allowed=", ".join(allowed)
        )
    return measure


def _read_day(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise KrbotError("time.unreadable", word=text) from None


def complete_task(
    *,
    uow: UnitOfWork,
    person: str,
    code: str,
    task: str,
    at: datetime,
    workspace: str | None = None,
    event_key: str | None = None,
) -> Reply:
    """Mark a KR's task done (its owner, the KR's owner or a delegate) once, by title, start of title or plan number."""
    return once_per_request(
        uow=uow, workspace=workspace, event_key=event_key,
        action=lambda: _complete_task(uow=uow, person=person, code=code, task=task, at=at, workspace=workspace,
                                      event_key=event_key),
    )


def _complete_task(
    *, uow: UnitOfWork, person: str, code: str, task: str, at: datetime, workspace: str | None, event_key: str | None
) -> Reply:
    """The task marked done in one transaction, `UPDATE tasks … WHERE done = false`."""
    with uow.begin() as session:
        scope = load_scope(session=session, workspace=workspace, at=at)
        sender = person_in(scope, person)
        target = owned_target(scope, code, sender)
        if not isinstance(target, model.KeyResult) or not target.tasks:
            raise KrbotError("task.none", code=target.code)
        ordered = [
            planned.task for planned in reversed(backward_plan(tasks=target.tasks, due=scope.okrs.cycle.end))
        ]
        wanted = task.strip()
        chosen = [t for t in ordered if t.title == wanted] or [
            t for t in ordered if t.title.casefold().startswith(wanted.casefold())
        ]
        if wanted.isdigit() and 1 <= int(wanted) <= len(ordered):
            chosen = [ordered[int(wanted) - 1]]
        if len(chosen) != 1:
            known = "; ".join(f"{i}. {t.title}" for i, t in enumerate(ordered, 1))
            raise KrbotError("task.unknown", code=target.code, word=task, known=known)
        done = chosen[0]
        if sender.key not in (done.owner, target.owner, *target.delegates):
            raise NotAllowed(
                "task.not_owner", code=target.code, task=done.title, owner=name_of(scope, done.owner)
            )
        if not first_time(session=session, event_key=event_key, at=at):
            return repeat(lang=scope.lang)
        if not once.finish_task(session=session, cycle_id=scope.cycle.id, code=target.code, title=done.title):
            raise KrbotError("task.already_done", code=target.code, task=done.title)
    return Reply(key="task.done", lang=scope.lang, params={"code": target.code, "task": done.title})
