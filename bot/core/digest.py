"""The boss digest composed by CONTRACT §7: per objective a conclusion, the key data and the asks; then the lists
after them (who is missing, stale KRs, goal changes: bot/core/digest_lists.py)."""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from functools import partial

from bot.core import model
from bot.core.digest_confidence import calibration, kr_confidence, largest_disagreement
from bot.core.digest_lists import PERIOD, change_lines, missing_people, name_of, stale_krs
from bot.core.digest_model import (
    AskLine,
    ChangeLine,
    Digest,
    FailedDelivery,
    KrLine,
    MainRisk,
    MeasureLine,
    NextStep,
    ObjectiveSection,
    OverdueTask,
    StaleKr,
    Unavailable,
)
from bot.core.freshness import Freshness, Pulls, freshness
from bot.core.inforce import okrs_in_force
from bot.core.progress import KrProgress, MeasureProgress, ObjectiveProgress, objectives_progress, progress_of
from bot.core.sentences import first_sentence

__all__ = [
    "AskLine",
    "ChangeLine",
    "Digest",
    "FailedDelivery",
    "KrLine",
    "MainRisk",
    "MeasureLine",
    "NextStep",
    "ObjectiveSection",
    "OverdueTask",
    "StaleKr",
    "Unavailable",
    "compose_digest",
]

_log = logging.getLogger(__name__)
_FINISHED = (model.Status.DONE, model.Status.MET)  # reached, or met by every deadline already
_History = Mapping[str, Sequence[model.Checkin]]


def _measure_line(progress: MeasureProgress, fresh: Freshness | None = None) -> MeasureLine:
    """A measure's progress as a line of the data section, with where its number came from."""
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
        too_early=progress.too_early,
        data_days=progress.data_days,
        low_completion=progress.low_completion,
        high_completion=progress.high_completion,
        final=progress.final,
        met=progress.met,
        margin=progress.margin,
        deadline=progress.deadline,
        fresh=fresh,
        reported=progress.reported,
        goes_down=m.goes_down,
        done_at=progress.done_at,
        days_late=progress.days_late,
        late_value=progress.late_value,
        late_at=progress.late_at,
    )


def _latest_words(checkins: Sequence[model.Checkin], attribute: str, since: datetime | None = None) -> model.Checkin | None:
    """The latest check-in with these words (only those after `since` when given)."""
    for checkin in reversed(checkins):
        if since is not None and checkin.at <= since:
            return None
        if getattr(checkin, attribute):
            return checkin
    return None


def _kr_line(
    okrs: model.Okrs, progress: KrProgress, path: model.StrategicPath, history: Sequence[model.Checkin], since: datetime,
    fresh: Callable[..., Freshness],
) -> KrLine:
    """A KR as a line of the data section, with its owner's latest cause (dated when older than the period)."""
    kr = progress.kr
    noted = _latest_words(history, "note") or _latest_words(history, "risk")
    cause = None if noted is None else (noted.note or noted.risk)
    confidence, disagrees = kr_confidence(history=history, status=progress.status)
    return KrLine(
        code=kr.code,
        title=kr.title,
        owner=name_of(okrs, kr.owner),
        path_code=path.code,
        path_title=path.title,
        status=progress.status,
        completion=progress.completion,
        forecast_completion=progress.forecast_completion,
        measures=tuple(_measure_line(m, fresh(measure=m.measure, code=kr.code, history=history)) for m in progress.measures),
        cause=cause,
        last_at=progress.last_checkin.at if progress.last_checkin else None,
        impact=kr.impact,
        cause_at=noted.at if noted is not None and noted.at <= since else None,
        data_days=progress.data_days,
        final=progress.final,
        confidence=confidence,
        disagrees=disagrees,
    )


def _main_risk(
    okrs: model.Okrs, progress: KrProgress | None, history: Sequence[model.Checkin], since: datetime
) -> MainRisk | None:
    """The main risk in its owner's words of this period (latest risk, else latest note), else the KR's title."""
    if progress is None:
        return None
    risky = _latest_words(history, "risk", since)
    noted = _latest_words(history, "note", since)
    words = risky.risk if risky else (noted.note if noted else None)
    return MainRisk(
        code=progress.kr.code,
        title=progress.kr.title,
        owner=name_of(okrs, progress.kr.owner),
        words=words,
        forecast_completion=progress.forecast_completion,
        sentence=first_sentence(text=words or progress.kr.title),
    )


_SECTION_NUMBERS = ("completion", "forecast_completion", "gap", "low_completion", "high_completion", "margin")
_MEASURE_NUMBERS = (
    "value", "baseline", "target", "limit", "completion", "forecast_value", "forecast_completion",
    "low_completion", "high_completion", "margin",
)


def _check_finite(section: ObjectiveSection) -> None:
    """Refuse a section holding a number that is not finite: it would break every surface it is shown on."""
    numbers = [getattr(section, name) for name in _SECTION_NUMBERS]
    for line in section.krs:
        numbers += (line.completion, line.forecast_completion)
        numbers += [getattr(m, name) for m in line.measures for name in _MEASURE_NUMBERS]
    numbers += [a.amount for a in section.asks]
    # A sum of floats is finite only when every one is (inf − inf is nan), so one test covers them all.
    if not math.isfinite(sum(n for n in numbers if n is not None)):
        raise ValueError("a number in the digest is not finite")


def _section(
    *,
    okrs: model.Okrs,
    objective: model.Objective,
    progress: ObjectiveProgress,
    history: _History,
    open_asks: Mapping[str, Sequence[model.Ask]],
    deciders: tuple[str, ...],
    since: datetime,
    final: bool,
    pulls: Pulls,
    as_of: datetime,
) -> ObjectiveSection:
    """One objective's conclusion, key data, next steps and asks."""
    path_of = {kr.code: path for path in objective.paths for kr in path.krs}
    fresh = partial(freshness, pulls=pulls, period_start=since, as_of=as_of)
    kr_lines = tuple(_kr_line(okrs, kp, path_of[kp.kr.code], history.get(kp.kr.code, ()), since, fresh) for kp in progress.krs)
    head = None if progress.headline is None or not progress.uses_headline else progress.headline.measure
    head_fresh = None if head is None else fresh(measure=head, code=objective.code, history=history.get(objective.code, ()))
    codes = [objective.code, *(kp.kr.code for kp in progress.krs)]
    steps = []
    for code in codes:
        latest = _latest_words(history.get(code, ()), "next_step")
        if latest is not None:
            steps.append(
                NextStep(
                    code=code,
                    owner=name_of(okrs, latest.person),
                    text=latest.next_step or "",
                    at=latest.at,
                    current=latest.at > since,
                )
            )
    ask_lines = tuple(
        AskLine(
            id=ask.id,
            code=ask.code,
            person=name_of(okrs, ask.person),
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
    risk = None if final else progress.main_risk
    margin = progress.headline.margin if progress.uses_headline and progress.headline is not None else None
    deadline = objective.deadline or okrs.cycle.end
    read_at = progress.headline.deadline if progress.uses_headline and progress.headline is not None else deadline
    headline_line = None
    if not progress.krs and progress.headline is not None:  # only a headline: it is the key data
        headline_line = _measure_line(progress.headline, head_fresh)
    section = ObjectiveSection(
        code=objective.code,
        title=objective.title,
        owner=name_of(okrs, objective.owner),
        headline=headline.name if headline and progress.uses_headline else None,
        headline_unit=headline.unit if headline else None,
        completion=progress.completion,
        forecast_completion=progress.forecast_completion,
        gap=progress.gap,
        status=progress.status,
        deadline=deadline,
        main_risk=_main_risk(okrs, risk, history.get(risk.kr.code, ()) if risk else (), since),
        krs=kr_lines,
        next_steps=tuple(steps),
        asks=ask_lines,
        counts=dict(counts),
        data_days=progress.data_days,
        low_completion=progress.low_completion,
        high_completion=progress.high_completion,
        final=final or progress.final,
        margin=margin,
        headline_fresh=head_fresh,
        read_at=read_at,
        headline_line=headline_line,
        disagreement=None if final else largest_disagreement(lines=kr_lines),
    )
    _check_finite(section)
    return section


def compose_digest(
    *,
    okrs: model.Okrs,
    checkins: Sequence[model.Checkin],
    asks: Sequence[model.Ask],
    changes: Sequence[model.GoalChange],
    as_of: datetime,
    changes_since: datetime | None = None,
    away: dict[str, list[tuple[date, date]]] | None = None,
    pulls: Pulls | None = None,
) -> Digest:
    """Compose the weekly digest at `as_of` (aware) by §7's rules, with the goals then in force and the sources' pulls."""
    okrs = okrs_in_force(okrs=okrs, changes=changes, at=as_of)
    period_start = as_of - PERIOD
    window, grouped = objectives_progress(okrs=okrs, checkins=checkins, as_of=as_of)
    final = window.after_cycle  # from the end of the cycle's last day: the final report
    # each code's check-ins up to the as-of time, oldest first, as the forecasts read them: sorted once
    history = {code: [entry.checkin for entry in entries] for code, entries in grouped.items()}
    deciders = tuple(p.name for p in okrs.people.values() if p.role is model.Role.BOSS) or tuple(
        p.name for p in okrs.people.values() if p.role is model.Role.ADMIN
    )
    open_asks: dict[str, list[model.Ask]] = defaultdict(list)
    for ask in asks:
        if ask.open_at(as_of):  # as the asks stood at the as-of time: a later decision is not yet known
            open_asks[ask.code].append(ask)

    sections: list[ObjectiveSection] = []
    unavailable: list[Unavailable] = []
    done: set[str] = set()
    calibrated: list[KrProgress] = []  # the final report holds each owner's confidence against the results
    for objective in okrs.objectives:
        try:
            progress = progress_of(objective=objective, window=window, grouped=grouped)
            sections.append(
                _section(
                    okrs=okrs, objective=objective, progress=progress, history=history, open_asks=open_asks,
                    deciders=deciders, since=period_start, final=final, pulls=pulls or {}, as_of=as_of,
                )
            )
        except Exception:  # one objective's bad data must not stop the digest for the others (§8)
            _log.exception("digest: objective %s could not be composed", objective.code)
            unavailable.append(Unavailable(code=objective.code, title=objective.title))
            continue
        calibrated += progress.krs if final else ()
        done |= {kp.kr.code for kp in progress.krs if kp.status in _FINISHED}  # no overdue tasks, no chasing
        if progress.status in _FINISHED:
            done.add(objective.code)

    missing, away_names = missing_people(okrs=okrs, checkins=checkins, done=done, as_of=as_of, away=away or {})
    day = as_of.date()
    overdue = tuple(
        OverdueTask(code=kr.code, title=task.title, owner=name_of(okrs, task.owner), due=task.due, days_late=(day - task.due).days)
        for objective in okrs.objectives
        for kr in objective.krs()
        if kr.code not in done
        for task in kr.tasks
        if not task.done and task.due < day
    )
    since = changes_since if changes_since is not None else period_start
    return Digest(
        workspace=okrs.workspace.name,
        language=okrs.workspace.language,
        timezone=okrs.workspace.timezone,
        cycle=okrs.cycle.name,
        as_of=as_of,
        period_start=period_start,
        objectives=tuple(sections),
        missing=() if final else missing,  # the final report chases nobody
        away=() if final else away_names,
        changes=change_lines(okrs=okrs, changes=changes, since=since, as_of=as_of),
        overdue=() if final else overdue,
        stale=() if final else stale_krs(okrs=okrs, history=history, done=done, as_of=as_of),
        open_asks=sum(len(section.asks) for section in sections),
        final=final,
        unavailable=tuple(unavailable),
        calibration=calibration(okrs=okrs, krs=calibrated, history=history, as_of=as_of),
        locale=okrs.workspace.number_locale,
    )
