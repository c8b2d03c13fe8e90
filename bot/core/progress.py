"""Progress, least-squares forecast, gap and status of measures, KRs and objectives (CONTRACT §7).

Time axis: x is in fractional days since 00:00 of `cycle.start` in `as_of`'s timezone.
Deadline convention: a deadline date is read at its END, i.e. at 00:00 of the following day in
`as_of`'s timezone (for a cycle 2026-10-01..2026-12-31 the cycle's end is x = 92). A milestone is
late when `as_of` is strictly after that moment. Check-ins with a naive `at` are read in `as_of`'s
timezone; among check-ins at the same moment the later one in the input counts as the latest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

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

EPSILON = 1e-9
ON_TRACK_FROM = 1.0
AT_RISK_FROM = 0.8
_SECONDS_PER_DAY = 86400.0

_History = list[tuple[float, Checkin]]  # (POSIX timestamp, check-in), sorted by time, all <= as_of


@dataclass(frozen=True, slots=True)
class MeasureProgress:
    """One measure as of a moment: value, completion, forecast at its deadline, gap, guardrail state."""

    measure: Measure
    value: float | None
    points: int
    last_at: datetime | None
    completion: float | None
    forecast_value: float | None
    forecast_completion: float | None
    gap: float | None
    deadline: date
    reached: bool
    guardrail_broken: bool
    guardrail_trend_broken: bool


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


@dataclass(frozen=True, slots=True)
class _Window:
    """The time axis: timezone, cycle start and as-of as timestamps."""

    tz: tzinfo
    start: float
    as_of: float
    cycle_end: date

    @classmethod
    def of(cls, *, cycle: Cycle, as_of: datetime) -> _Window:
        """The window of a cycle read at as_of (which must be timezone-aware)."""
        if as_of.tzinfo is None or as_of.utcoffset() is None:
            raise ValueError("as_of")
        tz = as_of.tzinfo
        start = datetime.combine(cycle.start, time(), tzinfo=tz).timestamp()
        return cls(tz=tz, start=start, as_of=as_of.timestamp(), cycle_end=cycle.end)

    def stamp(self, moment: datetime) -> float:
        """A moment as a POSIX timestamp (naive moments are read in the window's timezone)."""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self.tz)
        return moment.timestamp()

    def end_of(self, day: date) -> float:
        """The end of a day (00:00 of the next day) as a timestamp."""
        return datetime.combine(day + timedelta(days=1), time(), tzinfo=self.tz).timestamp()

    def days(self, stamp: float) -> float:
        """A timestamp as fractional days since the cycle's start."""
        return (stamp - self.start) / _SECONDS_PER_DAY


def _group(*, checkins: Iterable[Checkin], window: _Window, code: str | None = None) -> dict[str, _History]:
    """Check-ins at or before as_of, by code, each list sorted by time (stable)."""
    grouped: dict[str, _History] = {}
    for checkin in checkins:
        if code is not None and checkin.code != code:
            continue
        stamp = window.stamp(checkin.at)
        if stamp <= window.as_of:
            grouped.setdefault(checkin.code, []).append((stamp, checkin))
    for history in grouped.values():
        history.sort(key=lambda pair: pair[0])
    return grouped


def _mean(values: Sequence[float]) -> float | None:
    """The arithmetic mean, or None for no values."""
    return sum(values) / len(values) if values else None


def _least_squares(xs: Sequence[float], ys: Sequence[float], *, at: float) -> float:
    """The least-squares line through the points read at x = at (the mean when all x are equal)."""
    n = len(xs)
    mean_x = sum(xs) / n
    mean_y = sum(ys) / n
    sxx = sum((x - mean_x) ** 2 for x in xs)
    if sxx <= EPSILON * EPSILON:
        return mean_y
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    return mean_y + sxy / sxx * (at - mean_x)


def _reaches(measure: Measure, value: float) -> bool:
    """True when a value reaches a target measure's target (downwards for a decreasing measure)."""
    if measure.target is None:
        return False
    if measure.goes_down:
        return value <= measure.target + EPSILON
    return value >= measure.target - EPSILON


def _ratio(measure: Measure, value: float | None) -> float | None:
    """(value − baseline) / (target − baseline), uncapped; 1/0 when target equals baseline."""
    if value is None or measure.baseline is None or measure.target is None:
        return None
    span = measure.target - measure.baseline
    if abs(span) <= EPSILON:
        return 1.0 if _reaches(measure, value) else 0.0
    return (value - measure.baseline) / span


def _shortfall(measure: Measure, forecast: float | None) -> float | None:
    """How far a forecast falls short of the target in the measure's unit, or None when it does not."""
    if forecast is None or measure.target is None:
        return None
    short = forecast - measure.target if measure.goes_down else measure.target - forecast
    return short if short > EPSILON else None


def _breaks(measure: Measure, value: float) -> bool:
    """True when a value breaks a guardrail's limit."""
    if measure.limit is None:
        return False
    if measure.kind is MeasureKind.AT_MOST:
        return value > measure.limit + EPSILON
    return value < measure.limit - EPSILON


def _by_forecast(forecast: float | None) -> Status:
    """The status a forecast completion gives: ≥1 on track, ≥0.8 at risk, else off track; None no data."""
    if forecast is None:
        return Status.NO_DATA
    if forecast >= ON_TRACK_FROM - EPSILON:
        return Status.ON_TRACK
    if forecast >= AT_RISK_FROM - EPSILON:
        return Status.AT_RISK
    return Status.OFF_TRACK


def _measure(*, measure: Measure, history: _History, window: _Window, deadline: date) -> MeasureProgress:
    """A measure's progress from its owner's check-ins (already filtered to <= as_of and sorted)."""
    latest: float | None = None
    last_at: datetime | None = None
    xs: list[float] = []
    ys: list[float] = []
    for stamp, checkin in history:
        raw = checkin.values.get(measure.name)
        if raw is None:
            continue
        latest = float(raw)
        last_at = checkin.at
        if stamp >= window.start:
            xs.append(window.days(stamp))
            ys.append(float(raw))
    points = len(xs)
    deadline_end = window.end_of(deadline)

    if measure.kind is MeasureKind.MILESTONE:
        done = latest is not None and latest >= 0.5
        late = not done and window.as_of > deadline_end
        forecast = 1.0 if done else (0.0 if late else None)
        return MeasureProgress(
            measure=measure,
            value=latest,
            points=points,
            last_at=last_at,
            completion=1.0 if done else 0.0,
            forecast_value=forecast,
            forecast_completion=forecast,
            gap=None,
            deadline=deadline,
            reached=done,
            guardrail_broken=False,
            guardrail_trend_broken=False,
        )

    forecast_value: float | None = None
    if points:
        if points < 2 and measure.baseline is not None:
            xs.insert(0, 0.0)
            ys.insert(0, float(measure.baseline))
        forecast_value = _least_squares(xs, ys, at=window.days(deadline_end))

    if measure.is_guardrail:
        broken = latest is not None and _breaks(measure, latest)
        trend_broken = points >= 2 and forecast_value is not None and _breaks(measure, forecast_value)
        return MeasureProgress(
            measure=measure,
            value=latest,
            points=points,
            last_at=last_at,
            completion=None,
            forecast_value=forecast_value,
            forecast_completion=None,
            gap=None,
            deadline=deadline,
            reached=not broken,
            guardrail_broken=broken,
            guardrail_trend_broken=trend_broken,
        )

    value = latest if latest is not None else measure.baseline
    return MeasureProgress(
        measure=measure,
        value=value,
        points=points,
        last_at=last_at,
        completion=_ratio(measure, value),
        forecast_value=forecast_value,
        forecast_completion=_ratio(measure, forecast_value),
        gap=_shortfall(measure, forecast_value),
        deadline=deadline,
        reached=value is not None and _reaches(measure, value),
        guardrail_broken=False,
        guardrail_trend_broken=False,
    )


def _kr_status(*, measures: Sequence[MeasureProgress], forecast: float | None) -> Status:
    """A KR's status from its measures and mean forecast completion (CONTRACT §7)."""
    counted = [m for m in measures if not m.measure.is_guardrail]
    guardrails = [m for m in measures if m.measure.is_guardrail]
    if counted and all(m.reached for m in measures):
        return Status.DONE
    if any(m.guardrail_broken for m in guardrails):
        return Status.OFF_TRACK
    if counted:
        status = _by_forecast(forecast)
    else:  # guardrails only: holding is on track, nothing reported is no data
        status = Status.ON_TRACK if any(m.value is not None for m in guardrails) else Status.NO_DATA
    if status is Status.ON_TRACK and any(m.guardrail_trend_broken for m in guardrails):
        return Status.AT_RISK
    return status


def _kr(*, kr: KeyResult, history: _History, window: _Window, objective_deadline: date | None) -> KrProgress:
    """A KR's progress from its own check-ins (already filtered to <= as_of and sorted)."""
    measures = tuple(
        _measure(
            measure=measure,
            history=history,
            window=window,
            deadline=measure.due or objective_deadline or window.cycle_end,
        )
        for measure in kr.measures
    )
    counted = [m for m in measures if not m.measure.is_guardrail]
    completion = _mean([m.completion for m in counted if m.completion is not None])
    forecast = _mean([m.forecast_completion for m in counted if m.forecast_completion is not None])
    return KrProgress(
        kr=kr,
        measures=measures,
        completion=completion,
        forecast_completion=forecast,
        status=_kr_status(measures=measures, forecast=forecast),
        last_checkin=history[-1][1] if history else None,
        checkins_in_cycle=sum(1 for stamp, _ in history if stamp >= window.start),
    )


def _objective(
    *, objective: Objective, grouped: Mapping[str, _History], window: _Window
) -> ObjectiveProgress:
    """An objective's progress from check-ins grouped by code."""
    headline_measure = objective.headline
    headline = (
        _measure(
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
    uses_headline = headline is not None and not headline.measure.is_guardrail and headline.points >= 1
    if headline is not None and uses_headline:
        completion = headline.completion
        forecast = headline.forecast_completion
        gap = headline.gap
        done = completion is not None and completion >= 1.0 - EPSILON and headline.reached
    else:
        completion = _mean([k.completion for k in krs if k.completion is not None])
        forecast = _mean([k.forecast_completion for k in krs if k.forecast_completion is not None])
        gap = None  # the KRs' mean is a ratio: no amount in the headline's unit is claimed from it
        done = (
            completion is not None
            and completion >= 1.0 - EPSILON
            and bool(krs)
            and all(k.status is Status.DONE for k in krs)
        )
    return ObjectiveProgress(
        objective=objective,
        headline=headline,
        krs=krs,
        completion=completion,
        forecast_completion=forecast,
        gap=gap,
        uses_headline=uses_headline,
        status=Status.DONE if done else _by_forecast(forecast),
        main_risk=_main_risk(krs),
    )


def _main_risk(krs: Sequence[KrProgress]) -> KrProgress | None:
    """The KR with the lowest forecast completion; ties go to the earlier (higher-priority) one."""
    risk: KrProgress | None = None
    lowest = 0.0
    for kr in krs:
        forecast = kr.forecast_completion
        if forecast is not None and (risk is None or forecast < lowest - EPSILON):
            risk, lowest = kr, forecast
    return risk


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
    window = _Window.of(cycle=cycle, as_of=as_of)
    history = _group(checkins=checkins, window=window, code=code).get(code, [])
    deadline = measure.due or objective_deadline or cycle.end
    return _measure(measure=measure, history=history, window=window, deadline=deadline)


def kr_progress(
    *,
    kr: KeyResult,
    checkins: Sequence[Checkin],
    cycle: Cycle,
    objective_deadline: date | None,
    as_of: datetime,
) -> KrProgress:
    """One KR as of `as_of` (check-ins of other codes are ignored)."""
    window = _Window.of(cycle=cycle, as_of=as_of)
    history = _group(checkins=checkins, window=window, code=kr.code).get(kr.code, [])
    return _kr(kr=kr, history=history, window=window, objective_deadline=objective_deadline)


def objective_progress(
    *, objective: Objective, checkins: Sequence[Checkin], cycle: Cycle, as_of: datetime
) -> ObjectiveProgress:
    """One objective with its headline and KRs as of `as_of`."""
    window = _Window.of(cycle=cycle, as_of=as_of)
    return _objective(objective=objective, grouped=_group(checkins=checkins, window=window), window=window)


def okr_progress(
    *, okrs: Okrs, checkins: Sequence[Checkin], as_of: datetime
) -> tuple[ObjectiveProgress, ...]:
    """Every objective of the workspace's cycle, in file order, as of `as_of`."""
    window = _Window.of(cycle=okrs.cycle, as_of=as_of)
    grouped = _group(checkins=checkins, window=window)
    return tuple(
        _objective(objective=objective, grouped=grouped, window=window) for objective in okrs.objectives
    )
