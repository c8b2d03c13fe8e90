"""Burn-up data for the one-page report: each headline's target line, actual check-ins and forecast, as numbers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from bot.core.model import Checkin, MeasureKind, Okrs
from bot.core.progress import measure_progress


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


def burnups(*, okrs: Okrs, checkins: Sequence[Checkin], as_of: datetime) -> tuple[Burnup, ...]:
    """A burn-up for every objective whose headline is a baseline → target measure."""
    charts = []
    tz = as_of.tzinfo
    start = datetime.combine(okrs.cycle.start, time.min, tzinfo=tz)
    for objective in okrs.objectives:
        headline = objective.headline
        if headline is None or headline.kind is not MeasureKind.TARGET:
            continue
        assert headline.baseline is not None and headline.target is not None
        own = [c for c in checkins if c.code == objective.code and headline.name in c.values and start <= c.at <= as_of]
        progress = measure_progress(
            measure=headline,
            checkins=checkins,
            code=objective.code,
            cycle=okrs.cycle,
            objective_deadline=objective.deadline,
            as_of=as_of,
        )
        charts.append(
            Burnup(
                code=objective.code,
                measure=headline.name,
                unit=headline.unit,
                start=start,
                deadline=_end_of(progress.deadline, tz),
                baseline=headline.baseline,
                target=headline.target,
                points=tuple(sorted((c.at, c.values[headline.name]) for c in own)),
                as_of=as_of,
                forecast_value=progress.forecast_value,
                low_value=progress.low_value,
                high_value=progress.high_value,
                final=progress.final,
            )
        )
    return tuple(charts)
