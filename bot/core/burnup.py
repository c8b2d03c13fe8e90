"""Burn-up data for the one-page report: each headline's target line, daily points and forecast, as numbers.

A chart draws what the numbers read (CONTRACT §7): the latest check-in of each calendar day (a same-day
correction replaces the earlier number), none after the measure's deadline, and the goals in force at the as-of time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from bot.core.inforce import okrs_in_force
from bot.core.model import Checkin, GoalChange, MeasureKind, Okrs
from bot.core.progress import measure_progress
from bot.core.timeline import History, Window, group


@dataclass(frozen=True, slots=True)
class Burnup:
    """One headline measure over its cycle: where it started, where it must end, what happened, where it heads."""

    code: str
    measure: str
    unit: str | None
    start: datetime
    deadline: datetime
    baseline: float
    target: float
    points: tuple[tuple[datetime, float], ...]
    as_of: datetime
    forecast_value: float | None
    low_value: float | None = None  # the 80% range at the deadline: drawn as a band
    high_value: float | None = None
    final: bool = False  # the deadline has passed: forecast_value is the result
    from_baseline: bool = True  # the actual line starts at the baseline (a guardrail's starts at its first value)


def _end_of(day: date, tz: object) -> datetime:
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)  # type: ignore[arg-type]


def chart_points(*, history: History, name: str, window: Window, until: float) -> tuple[tuple[datetime, float], ...]:
    """The latest value of each calendar day from the cycle's start up to `until` (a timestamp), at its own time."""
    latest: dict[date, tuple[datetime, float]] = {}
    for entry in history:
        raw = entry.checkin.values.get(name)
        if raw is not None and window.start <= entry.stamp <= min(until, window.as_of):
            latest[entry.day] = (datetime.fromtimestamp(entry.stamp, window.tz), float(raw))
    return tuple(latest[day] for day in sorted(latest))


def burnups(
    *, okrs: Okrs, checkins: Sequence[Checkin], as_of: datetime, changes: Sequence[GoalChange] = ()
) -> tuple[Burnup, ...]:
    """A burn-up for every objective whose headline is a baseline → target measure, with the goals in force at as_of."""
    charts = []
    tz = as_of.tzinfo
    okrs = okrs_in_force(okrs=okrs, changes=changes, at=as_of)
    window = Window.of(cycle=okrs.cycle, as_of=as_of)
    start = datetime.combine(okrs.cycle.start, time.min, tzinfo=tz)
    for objective in okrs.objectives:
        headline = objective.headline
        if headline is None or headline.kind is not MeasureKind.TARGET:
            continue
        assert headline.baseline is not None and headline.target is not None
        progress = measure_progress(
            measure=headline,
            checkins=checkins,
            code=objective.code,
            cycle=okrs.cycle,
            objective_deadline=objective.deadline,
            as_of=as_of,
        )
        deadline = _end_of(progress.deadline, tz)
        history = group(checkins=checkins, window=window, code=objective.code).get(objective.code, [])
        charts.append(
            Burnup(
                code=objective.code,
                measure=headline.name,
                unit=headline.unit,
                start=start,
                deadline=deadline,
                baseline=headline.baseline,
                target=headline.target,
                points=chart_points(history=history, name=headline.name, window=window, until=deadline.timestamp()),
                as_of=as_of,
                forecast_value=progress.forecast_value,
                low_value=progress.low_value,
                high_value=progress.high_value,
                final=progress.final,
            )
        )
    return tuple(charts)
