"""Read-only views for one person: their KRs, a status, paths, the matrix, a backward plan."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.core import model
from bot.core.confidence import latest_by_code
from bot.core.errors import KrbotError
from bot.core.method import (
    CRITICAL_BUFFER_DAYS,
    backward_plan,
    quadrant,
    rank_paths,
)
from bot.core.progress import kr_progress, okr_progress
from bot.services.context import load_scope, owned_target, person_in
from bot.services.digest import compose
from bot.services.replies import Reply, Shows
from storage import repository
from storage.db import UnitOfWork


def list_krs(
    *, uow: UnitOfWork, person: str, at: datetime, workspace: str | None = None, form_hint: bool = False
) -> Reply:
    """The sender's KRs (and objectives with a headline, and shared KRs they contribute to) with their progress."""
    with uow.begin() as session:
        scope = load_scope(session=session, workspace=workspace, at=at)
        sender = person_in(scope, person)
        checkins = repository.load_checkins(session=session, cycle_id=scope.cycle.id, until=at)
    rows = rows_by_person(okr_progress(okrs=scope.okrs, checkins=checkins, as_of=scope.local(at)))[sender.key]
    said = latest_by_code(checkins=checkins)
    rows = [{**row, "confidence": said.get(str(row["code"]))} for row in rows]  # the form keeps it until changed
    locale = scope.locale_for(sender.key)
    rows = rows_in_locale(rows=rows, locale=locale)
    return Reply(
        key="reply.list",
        lang=scope.lang,
        params={"rows": rows, "name": sender.name, "form_hint": form_hint},
        shows=Shows.FORM if form_hint else Shows.TEXT,
        locale=locale,
    )


def measure_row(progress: Any) -> dict[str, Any]:
    m = progress.measure
    return {
        "name": m.name,
        "kind": m.kind.value,
        "unit": m.unit,
        "value": progress.value,
        "target": m.target if m.target is not None else m.limit,
        "completion": progress.completion,
        "reached": progress.reached,
        "broken": progress.guardrail_broken,
        "synced": m.source is not None,  # pulled by a data source: no field for it in a form
    }


def status_of(
    *, uow: UnitOfWork, person: str, code: str | None, at: datetime, workspace: str | None = None
) -> Reply:
    """Progress, forecast and last notes of one code, or every objective's conclusion."""
    with uow.begin() as session:
        scope = load_scope(session=session, workspace=workspace, at=at)
        sender = person_in(scope, person)
        if code is not None:
            owned_target(scope, code, sender)
    digest = compose(uow=uow, as_of=at, workspace=workspace)
    locale = scope.locale_for(sender.key)
    if code is None:
        return Reply(key="reply.status_all", lang=scope.lang, digest=digest, locale=locale)
    code = code.upper()
    for section in digest.objectives:
        if section.code == code:
            return Reply(key="reply.status_objective", lang=scope.lang, params={"o": section}, digest=digest,
                         locale=locale)
        for line in section.krs:
            if line.code == code:
                return Reply(key="reply.status_kr", lang=scope.lang, params={"k": line}, digest=digest, locale=locale)
    raise KrbotError("code.unknown", word=code, known="—")


def show_paths(*, uow: UnitOfWork, person: str, at: datetime, workspace: str | None = None) -> Reply:
    """Each objective's paths in rank, with why: the priority set in the file, or the score of ROI, resources, risk."""
    with uow.begin() as session:
        scope = load_scope(session=session, workspace=workspace, at=at)
        person_in(scope, person)
    objectives = [
        {
            "code": o.code,
            "title": o.title,
            "paths": [
                {
                    "rank": ranked.rank,
                    "code": ranked.path.code,
                    "title": ranked.path.title,
                    "priority": ranked.path.priority,
                    "by_priority": ranked.by_priority,
                    "score": ranked.score,
                    "scores": ranked.path.scores,
                    "krs": [k.code for k in ranked.path.krs],
                }
                for ranked in rank_paths(objective=o)
            ],
        }
        for o in scope.okrs.objectives
    ]
    return Reply(key="reply.paths", lang=scope.lang, params={"objectives": objectives})


def show_matrix(*, uow: UnitOfWork, person: str, at: datetime, workspace: str | None = None) -> Reply:
    """KRs placed by control × impact in four quadrants (medium counts as low), high-control high-impact first."""
    with uow.begin() as session:
        scope = load_scope(session=session, workspace=workspace, at=at)
        person_in(scope, person)
    quadrants: dict[str, list[dict[str, str]]] = {"hh": [], "lh": [], "hl": [], "ll": []}
    for objective in scope.okrs.objectives:
        for kr in objective.krs():
            quadrants[quadrant(kr=kr)].append({"code": kr.code, "title": kr.title})
    return Reply(key="reply.matrix", lang=scope.lang, params={"quadrants": quadrants}, shows=Shows.CHART)


def show_plan(*, uow: UnitOfWork, code: str, at: datetime, workspace: str | None = None) -> Reply:
    """A KR's tasks laid out backwards from its due date: buffers, latest finish and latest start, shortfalls."""
    with uow.begin() as session:
        scope = load_scope(session=session, workspace=workspace, at=at)
        target = scope.okrs.owner_of(code=code.upper())
        if not isinstance(target, model.KeyResult):
            known = ", ".join(kr.code for o in scope.okrs.objectives for kr in o.krs())
            raise KrbotError("code.unknown", word=code, known=known)
        checkins = repository.load_checkins(session=session, cycle_id=scope.cycle.id, until=at, code=target.code)
    objective = next(o for o in scope.okrs.objectives if target in o.krs())
    standing = kr_progress(
        kr=target, checkins=checkins, cycle=scope.okrs.cycle, objective_deadline=objective.deadline,
        as_of=scope.local(at),
    ).status
    finished = standing in (model.Status.DONE, model.Status.MET)  # a done KR's open tasks are not overdue
    dues = [m.due for m in target.measures if m.due] or [objective.deadline or scope.okrs.cycle.end]
    kr_due = max(dues)
    today = at.astimezone(ZoneInfo(scope.workspace.timezone)).date()
    people = scope.okrs.people
    tasks = [
        {
            "title": planned.task.title,
            "owner": people[planned.task.owner].name if planned.task.owner in people else planned.task.owner,
            "due": planned.task.due,
            "buffer_days": planned.task.buffer_days,
            "duration_days": planned.task.duration_days,
            "latest_finish": planned.latest_finish,
            "latest_start": planned.latest_start,
            "slack_days": planned.slack_days,
            "buffer_after": planned.buffer_after,
            "critical": planned.task.critical,
            "done": planned.task.done,
            "overdue": not planned.task.done and not finished and planned.task.due < today,
            "short_buffer": planned.short_buffer,
        }
        for planned in reversed(backward_plan(tasks=target.tasks, due=kr_due))
    ]
    return Reply(
        key="reply.plan",
        lang=scope.lang,
        params={
            "code": target.code,
            "title": target.title,
            "due": kr_due,
            "tasks": tasks,
            "needed": CRITICAL_BUFFER_DAYS,
        },
    )


def rows_in_locale(*, rows: list[dict[str, Any]], locale: str) -> list[dict[str, Any]]:
    """A reader's rows whose measures carry the locale their numbers are written in (forms and reminders)."""
    return [{**row, "measures": [{**m, "locale": locale} for m in row["measures"]]} for row in rows]


def rows_by_person(progresses: Any) -> dict[str, list[dict[str, Any]]]:
    """Each person's KRs (and objectives with a headline, and the shared KRs they contribute to) as rows."""
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for progress in progresses:
        objective = progress.objective
        if progress.headline is not None:
            rows[objective.owner].append(
                {
                    "code": objective.code,
                    "title": objective.title,
                    "status": progress.status.value,
                    "completion": progress.completion,
                    "forecast": progress.forecast_completion,
                    "measures": [measure_row(progress.headline)],
                }
            )
        for kp in progress.krs:
            row = {
                "code": kp.kr.code,
                "title": kp.kr.title,
                "status": kp.status.value,
                "completion": kp.completion,
                "forecast": kp.forecast_completion,
                "measures": [measure_row(m) for m in kp.measures],
                "contributing": False,
            }
            reporters = list(dict.fromkeys([kp.kr.owner, *kp.kr.delegates]))
            for key in reporters:
                rows[key].append(row)
            for key in dict.fromkeys(kp.kr.contributors.values()):
                if key not in reporters:
                    rows[key].append({**row, "contributing": True})
    return rows
