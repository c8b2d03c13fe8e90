"""The boss digest as data: per objective a conclusion, the key data and the asks, plus who is missing."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot.core import model
from bot.core.progress import KrProgress, MeasureProgress, ObjectiveProgress, okr_progress

PERIOD = timedelta(days=7)
STALE_PERIODS = 2


@dataclass(frozen=True, slots=True)
class MeasureLine:
    """One measure of a KR in the data section."""

    name: str
    kind: model.MeasureKind
    unit: str | None
    value: float | None
    baseline: float | None
    target: float | None
    limit: float | None
    completion: float | None
    forecast_value: float | None
    forecast_completion: float | None
    reached: bool
    broken: bool
    trend_broken: bool


@dataclass(frozen=True, slots=True)
class KrLine:
    """One KR: where it stands, its owner's root cause."""

    code: str
    title: str
    owner: str
    path_code: str
    path_title: str
    status: model.Status
    completion: float | None
    forecast_completion: float | None
    measures: tuple[MeasureLine, ...]
    cause: str | None
    last_at: datetime | None
    impact: model.Level | None


@dataclass(frozen=True, slots=True)
class MainRisk:
    """The KR most likely to miss, in its owner's words when they gave some."""

    code: str
    title: str
    owner: str
    words: str | None
    forecast_completion: float | None


@dataclass(frozen=True, slots=True)
class NextStep:
    """What an owner says they will do next."""

    code: str
    owner: str
    text: str
    at: datetime


@dataclass(frozen=True, slots=True)
class AskLine:
    """An open ask, quantified, with who must decide."""

    id: int | None
    code: str
    person: str
    kind: model.AskKind
    amount: float | None
    unit: str | None
    text: str
    deciders: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ObjectiveSection:
    """The three parts of one objective: conclusion, key data, next steps and asks."""

    code: str
    title: str
    owner: str
    headline: str | None
    headline_unit: str | None
    completion: float | None
    forecast_completion: float | None
    gap: float | None
    status: model.Status
    deadline: date
    main_risk: MainRisk | None
    krs: tuple[KrLine, ...]
    next_steps: tuple[NextStep, ...]
    asks: tuple[AskLine, ...]
    counts: dict[model.Status, int]


@dataclass(frozen=True, slots=True)
class ChangeLine:
    """A goal change since the last digest."""

    code: str
    measure: str | None
    field: str
    old: str | None
    new: str | None
    reason: str | None
    person: str | None
    at: datetime
    unit: str | None = None
    old_number: float | None = None
    new_number: float | None = None


def _number(text: str | None) -> float | None:
    """A goal change's stored value as a number, when it is one."""
    try:
        return None if text is None else float(text)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class OverdueTask:
    """A task past its due date and not done."""

    code: str
    title: str
    owner: str
    due: date
    days_late: int


@dataclass(frozen=True, slots=True)
class StaleKr:
    """A KR with no check-in for two periods or more."""

    code: str
    title: str
    owner: str
    last_at: datetime | None
    days: int


@dataclass(frozen=True, slots=True)
class FailedDelivery:
    """A scheduled message that could not be delivered after its last try (from the delivery ledger)."""

    kind: str
    target: str
    period: str
    attempts: int
    error: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class Digest:
    """The whole weekly report, free of words: renderers turn it into text, Markdown, Slack or Feishu."""

    workspace: str
    language: str
    timezone: str
    cycle: str
    as_of: datetime
    period_start: datetime
    objectives: tuple[ObjectiveSection, ...]
    missing: tuple[str, ...]
    away: tuple[str, ...]
    changes: tuple[ChangeLine, ...]
    overdue: tuple[OverdueTask, ...]
    stale: tuple[StaleKr, ...]
    open_asks: int
    failed: tuple[FailedDelivery, ...] = ()


def _name(okrs: model.Okrs, key: str | None) -> str:
    if key is None:
        return ""
    person = okrs.people.get(key)
    return person.name if person else key


def _measure_line(progress: MeasureProgress) -> MeasureLine:
    m = progress.measure
    return MeasureLine(
        name=m.name,
        kind=m.kind,
        unit=m.unit,
        value=progress.value,
        baseline=m.baseline,
        target=m.target,
        limit=m.limit,
        completion=progress.completion,
        forecast_value=progress.forecast_value,
        forecast_completion=progress.forecast_completion,
        reached=progress.reached,
        broken=progress.guardrail_broken,
        trend_broken=progress.guardrail_trend_broken,
    )


def _latest_words(checkins: Sequence[model.Checkin], attribute: str) -> model.Checkin | None:
    for checkin in reversed(checkins):
        if getattr(checkin, attribute):
            return checkin
    return None


def _kr_line(okrs: model.Okrs, progress: KrProgress, path: model.StrategicPath, history: Sequence[model.Checkin]) -> KrLine:
    kr = progress.kr
    noted = _latest_words(history, "note") or _latest_words(history, "risk")
    cause = None if noted is None else (noted.note or noted.risk)
    return KrLine(
        code=kr.code,
        title=kr.title,
        owner=_name(okrs, kr.owner),
        path_code=path.code,
        path_title=path.title,
        status=progress.status,
        completion=progress.completion,
        forecast_completion=progress.forecast_completion,
        measures=tuple(_measure_line(m) for m in progress.measures),
        cause=cause,
        last_at=progress.last_checkin.at if progress.last_checkin else None,
        impact=kr.impact,
    )


def _main_risk(okrs: model.Okrs, progress: KrProgress | None, history: Sequence[model.Checkin]) -> MainRisk | None:
    if progress is None:
        return None
    risky = _latest_words(history, "risk")
    noted = _latest_words(history, "note")
    words = risky.risk if risky else (noted.note if noted else None)
    return MainRisk(
        code=progress.kr.code,
        title=progress.kr.title,
        owner=_name(okrs, progress.kr.owner),
        words=words,
        forecast_completion=progress.forecast_completion,
    )


def compose_digest(
    *,
    okrs: model.Okrs,
    checkins: Sequence[model.Checkin],
    asks: Sequence[model.Ask],
    changes: Sequence[model.GoalChange],
    as_of: datetime,
    changes_since: datetime | None = None,
    away: dict[str, list[tuple[date, date]]] | None = None,
) -> Digest:
    """Compose the weekly digest at `as_of` (aware) by CONTRACT §7's rules."""
    local_as_of = as_of
    period_start = as_of - PERIOD
    history: dict[str, list[model.Checkin]] = defaultdict(list)
    for checkin in sorted((c for c in checkins if c.at <= as_of), key=lambda c: c.at):
        history[checkin.code].append(checkin)
    deciders = tuple(p.name for p in okrs.people.values() if p.role is model.Role.BOSS) or tuple(
        p.name for p in okrs.people.values() if p.role is model.Role.ADMIN
    )
    open_asks: dict[str, list[model.Ask]] = defaultdict(list)
    for ask in asks:
        if ask.open_at(as_of):  # as the asks stood at the as-of time: a later decision is not yet known
            open_asks[ask.code].append(ask)

    sections = []
    progresses: tuple[ObjectiveProgress, ...] = okr_progress(okrs=okrs, checkins=checkins, as_of=as_of)
    path_of = {kr.code: path for objective in okrs.objectives for path in objective.paths for kr in path.krs}
    for objective, progress in zip(okrs.objectives, progresses, strict=True):
        kr_lines = tuple(_kr_line(okrs, kp, path_of[kp.kr.code], history[kp.kr.code]) for kp in progress.krs)
        codes = [objective.code, *(kp.kr.code for kp in progress.krs)]
        steps = []
        for code in codes:
            latest = _latest_words(history[code], "next_step")
            if latest is not None:
                steps.append(NextStep(code=code, owner=_name(okrs, latest.person), text=latest.next_step or "", at=latest.at))
        ask_lines = tuple(
            AskLine(
                id=ask.id,
                code=ask.code,
                person=_name(okrs, ask.person),
                kind=ask.kind,
                amount=ask.amount,
                unit=ask.unit,
                text=ask.text,
                deciders=deciders,
            )
            for code in codes
            for ask in open_asks.get(code, ())
        )
        counts: dict[model.Status, int] = defaultdict(int)
        for kp in progress.krs:
            counts[kp.status] += 1
        headline = objective.headline
        risk_history = history[progress.main_risk.kr.code] if progress.main_risk else ()
        sections.append(
            ObjectiveSection(
                code=objective.code,
                title=objective.title,
                owner=_name(okrs, objective.owner),
                headline=headline.name if headline and progress.uses_headline else None,
                headline_unit=headline.unit if headline else None,
                completion=progress.completion,
                forecast_completion=progress.forecast_completion,
                gap=progress.gap,
                status=progress.status,
                deadline=objective.deadline or okrs.cycle.end,
                main_risk=_main_risk(okrs, progress.main_risk, risk_history),
                krs=kr_lines,
                next_steps=tuple(steps),
                asks=ask_lines,
                counts=dict(counts),
            )
        )

    done = {kp.kr.code for progress in progresses for kp in progress.krs if kp.status is model.Status.DONE}
    done |= {p.objective.code for p in progresses if p.status is model.Status.DONE}
    owners: dict[str, list[str]] = defaultdict(list)
    for objective in okrs.objectives:
        if objective.headline is not None and objective.code not in done:
            owners[objective.owner].append(objective.code)
        for kr in objective.krs():
            if kr.code not in done:
                owners[kr.owner].append(kr.code)
    reported = {c.person for c in checkins if period_start < c.at <= as_of}
    away = away or {}
    day = as_of.date()
    away_people = {key for key, spans in away.items() if any(start <= day <= end for start, end in spans)}
    missing = tuple(_name(okrs, key) for key in owners if key not in reported and key not in away_people)
    away_names = tuple(_name(okrs, key) for key in owners if key in away_people and key not in reported)

    since = changes_since if changes_since is not None else period_start
    units = {
        (owner.code, measure.name): measure.unit
        for objective in okrs.objectives
        for owner in (objective, *objective.krs())
        for measure in owner.measures
    }
    change_lines = tuple(
        ChangeLine(
            code=c.code,
            measure=c.measure,
            field=c.field,
            old=c.old,
            new=c.new,
            reason=c.reason,
            person=_name(okrs, c.person) if c.person else None,
            at=c.at,
            unit=units.get((c.code, c.measure)),
            old_number=_number(c.old),
            new_number=_number(c.new),
        )
        for c in changes
        if since < c.at <= as_of
    )
    overdue = tuple(
        OverdueTask(
            code=kr.code,
            title=task.title,
            owner=_name(okrs, task.owner),
            due=task.due,
            days_late=(day - task.due).days,
        )
        for objective in okrs.objectives
        for kr in objective.krs()
        if kr.code not in done
        for task in kr.tasks
        if not task.done and task.due < day
    )
    stale_after = PERIOD * STALE_PERIODS
    cycle_start = datetime.combine(okrs.cycle.start, datetime.min.time(), tzinfo=as_of.tzinfo)
    stale = []
    for objective in okrs.objectives:
        for kr in objective.krs():
            if kr.code in done:
                continue
            last = history[kr.code][-1].at if history[kr.code] else None
            since_last = as_of - (last or cycle_start)
            if since_last >= stale_after:
                stale.append(
                    StaleKr(
                        code=kr.code, title=kr.title, owner=_name(okrs, kr.owner), last_at=last, days=since_last.days
                    )
                )
    return Digest(
        workspace=okrs.workspace.name,
        language=okrs.workspace.language,
        timezone=okrs.workspace.timezone,
        cycle=okrs.cycle.name,
        as_of=local_as_of,
        period_start=period_start,
        objectives=tuple(sections),
        missing=missing,
        away=away_names,
        changes=change_lines,
        overdue=overdue,
        stale=tuple(stale),
        open_asks=sum(len(section.asks) for section in sections),
    )
