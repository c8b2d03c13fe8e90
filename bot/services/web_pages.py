"""What the web pages show, read for one request: the week's report as the digest composes it, and one KR's or
objective's page (its measures, charts, timeline, RACI and backward plan) read by its code alone."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from bot.core import model
from bot.core.burnup import Burnup
from bot.core.code_page import Event, MeasureView, measure_views, timeline
from bot.core.digest import Digest
from bot.core.errors import KrbotError
from bot.core.method import PlannedTask, backward_plan
from bot.core.progress import KrProgress, kr_progress, objective_progress
from bot.core.weeks import last_day
from bot.services.context import load_scope, parse_as_of
from bot.services.digest import compose_report
from storage import repository
from storage.db import UnitOfWork
from storage.repository import web as store


class NotFound(KrbotError):
    """No such page in the viewer's workspace (a code of another workspace included): the web answers 404."""


@dataclass(frozen=True, slots=True)
class Report:
    """The week's report: the digest and its charts as of the end of the week (or now, in the week under way)."""

    digest: Digest
    charts: tuple[Burnup, ...]
    as_of: datetime
    week: str | None


@dataclass(frozen=True, slots=True)
class CodePage:
    """One KR or objective as its page shows it."""

    code: str
    title: str
    objective: model.Objective
    kr: model.KeyResult | None
    path: model.StrategicPath | None
    status: model.Status
    completion: float | None
    forecast_completion: float | None
    measures: tuple[MeasureView, ...]
    events: tuple[Event, ...]
    names: dict[str, str]
    as_of: datetime
    plan: tuple[PlannedTask, ...] = ()
    due: date | None = None
    krs: tuple[KrProgress, ...] = field(default_factory=tuple)


def report_as_of(*, week: str | None, timezone: str, now: datetime) -> datetime:
    """The moment a week's report is read at: the end of its Sunday, or now while that week is under way."""
    if week is None:
        return now
    end = parse_as_of(text=last_day(text=week).isoformat(), timezone=timezone)
    return min(end, now)


def report(*, uow: UnitOfWork, workspace: str, week: str | None, now: datetime, timezone: str) -> Report:
    """The digest of a week (this one when None) with its charts, exactly as `krbot digest --as-of` composes it."""
    as_of = report_as_of(week=week, timezone=timezone, now=now)
    digest, charts = compose_report(uow=uow, as_of=as_of, workspace=workspace)
    return Report(digest=digest, charts=charts, as_of=as_of, week=week)


def _names(*, session: object, workspace_id: int, okrs: model.Okrs, events: tuple[Event, ...],
           extra: set[str]) -> dict[str, str]:
    """Every name a page shows: the people the tree names, and whoever appears in its history."""
    known = {key: person.name for key, person in okrs.people.items()}
    wanted = {e.person for e in events if e.person} | extra
    return {**store.names_of(session=session, workspace_id=workspace_id, keys=wanted - set(known)), **known}


def kr_page(*, uow: UnitOfWork, workspace: str, code: str, at: datetime) -> CodePage:
    """A KR's page as of `at`, read by its code alone (the same few queries in a workspace of any size)."""
    with uow.begin() as session:
        scope = load_scope(session=session, workspace=workspace, at=at, code=code)
        objective = next((o for o in scope.okrs.objectives for kr in o.krs() if kr.code == code.upper()), None)
        if objective is None:
            raise NotFound("web.not_found", code=code)
        path = next(p for p in objective.paths for kr in p.krs if kr.code == code.upper())
        kr = next(kr for kr in path.krs if kr.code == code.upper())
        cycle_id = scope.cycle.id
        checkins = repository.load_checkins(session=session, cycle_id=cycle_id, until=at, code=kr.code)
        asks = store.asks_of(session=session, cycle_id=cycle_id, codes=(kr.code,))
        changes = store.changes_of(session=session, cycle_id=cycle_id, codes=(kr.code,))
        tasks = store.tasks_of(session=session, cycle_id=cycle_id, code=kr.code)
        local = scope.local(at)
        units = {m.name: m.unit for m in kr.measures}
        events = timeline(checkins=checkins, asks=asks, changes=changes, units=units, as_of=local)
        raci = {kr.owner, kr.accountable or "", *kr.consulted, *kr.informed, *kr.delegates, *(t.owner for t in tasks)}
        names = _names(session=session, workspace_id=scope.workspace.id, okrs=scope.okrs, events=events,
                       extra={key for key in raci if key})
    cycle = scope.okrs.cycle
    progress = kr_progress(kr=kr, checkins=checkins, cycle=cycle, objective_deadline=objective.deadline, as_of=local)
    due = max([m.due for m in kr.measures if m.due] or [objective.deadline or cycle.end])
    return CodePage(
        code=kr.code, title=kr.title, objective=objective, kr=kr, path=path, status=progress.status,
        completion=progress.completion, forecast_completion=progress.forecast_completion,
        measures=measure_views(target=kr, checkins=checkins, cycle=cycle, objective_deadline=objective.deadline,
                               as_of=local, known=progress.measures),
        events=events, names=names, as_of=local, plan=tuple(reversed(backward_plan(tasks=tasks, due=due))), due=due,
    )


def objective_page(*, uow: UnitOfWork, workspace: str, code: str, at: datetime) -> CodePage:
    """An objective's page as of `at`: its own measures and history, and each of its KRs with its status."""
    with uow.begin() as session:
        scope = load_scope(session=session, workspace=workspace, at=at)
        objective = next((o for o in scope.okrs.objectives if o.code == code.upper()), None)
        if objective is None:
            raise NotFound("web.not_found", code=code)
        cycle_id = scope.cycle.id
        codes = (objective.code, *(kr.code for kr in objective.krs()))
        checkins = [c for one in codes
                    for c in repository.load_checkins(session=session, cycle_id=cycle_id, until=at, code=one)]
        asks = store.asks_of(session=session, cycle_id=cycle_id, codes=codes)
        changes = store.changes_of(session=session, cycle_id=cycle_id, codes=codes)
        local = scope.local(at)
        units = {m.name: m.unit for m in objective.measures} | {m.name: m.unit for kr in objective.krs()
                                                                 for m in kr.measures}
        events = timeline(checkins=checkins, asks=asks, changes=changes, units=units, as_of=local)
        names = _names(session=session, workspace_id=scope.workspace.id, okrs=scope.okrs, events=events, extra=set())
    progress = objective_progress(objective=objective, checkins=checkins, cycle=scope.okrs.cycle, as_of=local)
    return CodePage(
        code=objective.code, title=objective.title, objective=objective, kr=None, path=None, status=progress.status,
        completion=progress.completion, forecast_completion=progress.forecast_completion,
        measures=measure_views(target=objective, checkins=checkins, cycle=scope.okrs.cycle,
                               objective_deadline=objective.deadline, as_of=local),
        events=events, names=names, as_of=local, krs=progress.krs,
    )

