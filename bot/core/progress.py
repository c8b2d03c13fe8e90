"""Progress, forecast and status of KRs and objectives (CONTRACT §7), built from each measure's progress.

The time axis and the measure rules are in bot/core/timeline.py and bot/core/measures.py.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from bot.core.measures import AT_RISK_FROM, EPSILON, MeasureProgress, by_forecast, measure_at
from bot.core.method import impact_first, rank_paths
from bot.core.model import (
    Checkin,
    Cycle,
    KeyResult,
    Measure,
    MeasureKind,
    Objective,
    Okrs,
    Status,
    StrategicPath,
)
from bot.core.timeline import History, Window, daily_points_of, group

__all__ = [
    "KrProgress",
    "MeasureProgress",
    "ObjectiveProgress",
    "kr_progress",
    "measure_progress",
    "objective_progress",
    "okr_progress",
    "ordered_paths",
]


@dataclass(frozen=True, slots=True)
class KrProgress:
    """One KR as of a moment: its measures, mean completion and forecast, status, latest check-in."""

    kr: KeyResult
    measures: tuple[MeasureProgress, ...]
    completion: float | None
    forecast_completion: float | None
    status: Status
    last_checkin: Checkin | None
    checkins_in_cycle: int
    data_days: int = 0  # the longest span of data among its measures, for "too early (N days of data)"
    final: bool = False  # every measure's deadline has passed


@dataclass(frozen=True, slots=True)
class ObjectiveProgress:
    """One objective as of a moment: headline, KRs in path priority order, completion, gap, main risk."""

    objective: Objective
    headline: MeasureProgress | None
    krs: tuple[KrProgress, ...]
    completion: float | None
    forecast_completion: float | None
    gap: float | None
    status: Status
    main_risk: KrProgress | None
    uses_headline: bool = False
    data_days: int = 0
    low_completion: float | None = None  # the headline's 80% range (never a KR mean's)
    high_completion: float | None = None
    final: bool = False


def _mean(values: Sequence[float]) -> float | None:
    """The arithmetic mean, or None for no values."""
    return sum(values) / len(values) if values else None


# How bad a status is, for "no better than its worst KR" and the main risk (the final verdicts aside).
_SEVERITY = {Status.AT_RISK: 2, Status.OFF_TRACK: 3}


def _shares(measures: Sequence[MeasureProgress]) -> tuple[list[float], list[float], bool]:
    """A KR's measures as entries of its means, each capped at 100%: completions, forecasts, and whether every
    baseline/target measure has a forecast (a measure past its deadline enters with its result)."""
    completions: list[float] = []
    forecasts: list[float] = []
    every = True
    for m in measures:
        kind = m.measure.kind
        if m.measure.is_guardrail or not m.reported:
            if kind is MeasureKind.TARGET and not m.final:
                every = False  # not reported yet: no forecast for the KR
            continue
        if kind is MeasureKind.MILESTONE:
            if m.completion is not None:  # done, or past its due and not done; else left out
                completions.append(min(m.completion, 1.0))
                forecasts.append(min(m.completion, 1.0))
            continue
        now = m.forecast_completion if m.final else m.completion
        if now is not None:
            completions.append(min(now, 1.0))
        if m.forecast_completion is None:
            every = False
        else:
            forecasts.append(min(m.forecast_completion, 1.0))
    return completions, forecasts, every


def _own_forecasts(measures: Sequence[MeasureProgress]) -> list[float]:
    """Each counted measure's own forecast (or result) completion, where it has one."""
    return [
        m.forecast_completion
        for m in measures
        if not m.measure.is_guardrail and m.reported and m.forecast_completion is not None
    ]


def _kr_status(*, measures: Sequence[MeasureProgress], forecast: float | None) -> Status:
    """A KR's status from its measures and mean forecast completion (CONTRACT §7): never better than its weakest
    measure's forecast allows, off track with a broken guardrail, no verdict from a measure never reported."""
    counted = [m for m in measures if not m.measure.is_guardrail]
    guardrails = [m for m in measures if m.measure.is_guardrail]
    if not any(m.reported for m in measures):
        return Status.NO_DATA
    if measures and all(m.final for m in measures):
        verdicts = [m.met for m in measures if m.met is not None]
        if not verdicts:
            return Status.NO_DATA
        return Status.MET if all(verdicts) else Status.MISSED
    if counted and all(m.reached for m in measures):
        return Status.DONE
    if any(m.guardrail_broken for m in guardrails):
        return Status.OFF_TRACK
    own = _own_forecasts(counted)
    if counted:
        status = by_forecast(forecast)
    else:  # guardrails only: holding is on track
        status = Status.ON_TRACK
    weakest_low = bool(own) and min(own) < AT_RISK_FROM - EPSILON
    if status in (Status.ON_TRACK, Status.TOO_EARLY) and weakest_low:
        status = Status.AT_RISK
    if status in (Status.ON_TRACK, Status.TOO_EARLY) and any(m.guardrail_trend_broken for m in guardrails):
        return Status.AT_RISK
    return status


def _kr(*, kr: KeyResult, history: History, window: Window, objective_deadline: date | None) -> KrProgress:
    """A KR's progress from its own check-ins (already filtered to <= as_of and sorted)."""
    points = daily_points_of(history=history, names=[measure.name for measure in kr.measures], window=window)
    measures = tuple(
        measure_at(
            measure=measure,
            history=history,
            window=window,
            deadline=measure.due or objective_deadline or window.cycle_end,
            points=points[measure.name],
        )
        for measure in kr.measures
    )
    counted = [m for m in measures if not m.measure.is_guardrail]
    completions, forecasts, every = _shares(measures)
    completion = _mean(completions)
    forecast = _mean(forecasts) if every else None
    return KrProgress(
        kr=kr,
        measures=measures,
        completion=completion,
        forecast_completion=forecast,
        status=_kr_status(measures=measures, forecast=forecast),
        last_checkin=history[-1].checkin if history else None,
        checkins_in_cycle=sum(1 for entry in history if entry.stamp >= window.start),
        data_days=max((m.data_days for m in counted), default=0),
        final=bool(measures) and all(m.final for m in measures),
    )


def _headline_status(headline: MeasureProgress) -> Status:
    """An objective's status read from its headline measure."""
    if headline.final:
        return Status.NO_DATA if headline.met is None else (Status.MET if headline.met else Status.MISSED)
    done = headline.completion is not None and headline.completion >= 1.0 - EPSILON and headline.reached
    return Status.DONE if done else by_forecast(headline.forecast_completion)


def _mean_status(*, krs: Sequence[KrProgress], completion: float | None, forecast: float | None) -> Status:
    """An objective's status read from the mean over its KRs."""
    if krs and all(k.status is Status.NO_DATA for k in krs):
        return Status.NO_DATA
    if krs and all(k.final for k in krs):
        verdicts = [k.status for k in krs if k.status in (Status.MET, Status.MISSED)]
        if not verdicts:
            return Status.NO_DATA
        return Status.MET if all(v is Status.MET for v in verdicts) else Status.MISSED
    done = completion is not None and completion >= 1.0 - EPSILON and bool(krs)
    if done and all(k.status is Status.DONE for k in krs):
        return Status.DONE
    return by_forecast(forecast)


def _worst(*, own: Status, krs: Sequence[KrProgress], final: bool) -> Status:
    """An objective's status no better than its worst KR (Perdoo's rule): an at-risk or off-track KR (one missed
    already counts as off track) lowers it; in the final report a missed KR makes it missed."""
    if final:
        if own is Status.MET and any(k.status is Status.MISSED for k in krs):
            return Status.MISSED
        return own
    worst = own
    for k in krs:
        status = Status.OFF_TRACK if k.status is Status.MISSED else k.status
        if _SEVERITY.get(status, 0) > _SEVERITY.get(worst, 0):
            worst = status
    return worst


def _kr_mean_forecast(krs: Sequence[KrProgress]) -> float | None:
    """The mean forecast over the KRs, only when every KR with a baseline/target measure has one."""
    forecasts = []
    for k in krs:
        if k.forecast_completion is not None:
            forecasts.append(k.forecast_completion)
        elif any(m.measure.kind is MeasureKind.TARGET and not (m.final and not m.reported) for m in k.measures):
            return None
    return _mean(forecasts)


def _objective(*, objective: Objective, grouped: Mapping[str, History], window: Window) -> ObjectiveProgress:
    """An objective's progress from check-ins grouped by code."""
    headline_measure = objective.headline
    headline = (
        measure_at(
            measure=headline_measure,
            history=grouped.get(objective.code, []),
            window=window,
            deadline=headline_measure.due or objective.deadline or window.cycle_end,
        )
        if headline_measure is not None
        else None
    )
    krs = tuple(
        _kr(kr=kr, history=grouped.get(kr.code, []), window=window, objective_deadline=objective.deadline)
        for path in ordered_paths(objective=objective)
        for kr in impact_first(krs=path.krs)
    )
    uses_headline = headline is not None and not headline.measure.is_guardrail and headline.last_at is not None
    if headline is not None and uses_headline:
        return ObjectiveProgress(
            objective=objective,
            headline=headline,
            krs=krs,
            completion=headline.completion,
            forecast_completion=headline.forecast_completion,
            gap=headline.gap,
            uses_headline=True,
            status=_worst(own=_headline_status(headline), krs=krs, final=headline.final),
            main_risk=_main_risk(krs),
            data_days=headline.data_days,
            low_completion=headline.low_completion,
            high_completion=headline.high_completion,
            final=headline.final,
        )
    completion = _mean([k.completion for k in krs if k.completion is not None])
    forecast = _kr_mean_forecast(krs)
    final = bool(krs) and all(k.final for k in krs)
    return ObjectiveProgress(
        objective=objective,
        headline=headline,
        krs=krs,
        completion=completion,
        forecast_completion=forecast,
        gap=None,  # the KRs' mean is a ratio: no amount in the headline's unit is claimed from it
        uses_headline=False,
        status=_worst(own=_mean_status(krs=krs, completion=completion, forecast=forecast), krs=krs, final=final),
        main_risk=_main_risk(krs),
        data_days=max((k.data_days for k in krs), default=0),
        final=final,
    )


def _main_risk(krs: Sequence[KrProgress]) -> KrProgress | None:
    """Among the KRs at risk or off track: the worst status, then the lowest forecast completion (none counts as
    highest), ties to the earlier (higher-priority) one; None when no KR is at risk or off track."""
    risky = [(index, kr) for index, kr in enumerate(krs) if not kr.final and kr.status in _SEVERITY]
    if not risky:
        return None

    def rank(item: tuple[int, KrProgress]) -> tuple[int, float, int]:
        index, kr = item
        forecast = kr.forecast_completion
        return -_SEVERITY[kr.status], math.inf if forecast is None else forecast, index

    return min(risky, key=rank)[1]


def ordered_paths(*, objective: Objective) -> list[StrategicPath]:
    """An objective's paths in rank: by priority ascending, then unprioritised ones by score, ties in file order."""
    return [ranked.path for ranked in rank_paths(objective=objective)]


def measure_progress(
    *,
    measure: Measure,
    checkins: Sequence[Checkin],
    code: str,
    cycle: Cycle,
    objective_deadline: date | None,
    as_of: datetime,
) -> MeasureProgress:
    """One measure of the KR or objective `code` as of `as_of` (check-ins of other codes are ignored)."""
    window = Window.of(cycle=cycle, as_of=as_of)
    history = group(checkins=checkins, window=window, code=code).get(code, [])
    deadline = measure.due or objective_deadline or cycle.end
    return measure_at(measure=measure, history=history, window=window, deadline=deadline)


def kr_progress(
    *,
    kr: KeyResult,
    checkins: Sequence[Checkin],
    cycle: Cycle,
    objective_deadline: date | None,
    as_of: datetime,
) -> KrProgress:
    """One KR as of `as_of` (check-ins of other codes are ignored)."""
    window = Window.of(cycle=cycle, as_of=as_of)
    history = group(checkins=checkins, window=window, code=kr.code).get(kr.code, [])
    return _kr(kr=kr, history=history, window=window, objective_deadline=objective_deadline)


def objective_progress(
    *, objective: Objective, checkins: Sequence[Checkin], cycle: Cycle, as_of: datetime
) -> ObjectiveProgress:
    """One objective with its headline and KRs as of `as_of`."""
    window = Window.of(cycle=cycle, as_of=as_of)
    return _objective(objective=objective, grouped=group(checkins=checkins, window=window), window=window)


def objectives_progress(
    *, okrs: Okrs, checkins: Sequence[Checkin], as_of: datetime
) -> tuple[Window, Mapping[str, History]]:
    """The window and the grouped histories every objective of the cycle is read from (read once)."""
    window = Window.of(cycle=okrs.cycle, as_of=as_of)
    return window, group(checkins=checkins, window=window)


def progress_of(*, objective: Objective, window: Window, grouped: Mapping[str, History]) -> ObjectiveProgress:
    """One objective from histories already grouped (see objectives_progress)."""
    return _objective(objective=objective, grouped=grouped, window=window)


def okr_progress(
    *, okrs: Okrs, checkins: Sequence[Checkin], as_of: datetime
) -> tuple[ObjectiveProgress, ...]:
    """Every objective of the workspace's cycle, in file order, as of `as_of`."""
    window, grouped = objectives_progress(okrs=okrs, checkins=checkins, as_of=as_of)
    return tuple(_objective(objective=objective, grouped=grouped, window=window) for objective in okrs.objectives)
