"""One measure as of a moment by CONTRACT §7: value, completion, forecast from daily points, range, result, gap."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from bot.core.forecast import fit_line
from bot.core.model import Measure, MeasureKind, Status
from bot.core.timeline import DAY_END_SLACK, History, Window, daily_points, value_at

EPSILON = 1e-9
ON_TRACK_FROM = 1.0
AT_RISK_FROM = 0.8
MIN_FORECAST_DAYS = 14  # points spanning fewer days give no forecast: "too early to forecast"
MIN_RANGE_DAYS = 3  # points on at least this many days give the 80% range
SPAN_TOLERANCE = 1e-6  # a gap within a millionth of the span is none (floats, not a shortfall)


@dataclass(frozen=True, slots=True)
class MeasureProgress:
    """One measure as of a moment: value, completion, forecast (or result) at its deadline, range, gap, guardrail state."""

    measure: Measure
    value: float | None
    points: int  # calendar days with a check-in in the cycle up to as-of
    last_at: datetime | None
    completion: float | None
    forecast_value: float | None  # after the deadline: the result, the value at the end of the deadline day
    forecast_completion: float | None
    gap: float | None  # target − forecast (or result) in the unit, when it falls short
    deadline: date
    reached: bool
    guardrail_broken: bool
    guardrail_trend_broken: bool
    data_days: int = 0  # the points' span in whole days (the baseline point included when it is used)
    low_value: float | None = None  # the 80% prediction interval at the deadline, in the unit
    high_value: float | None = None
    low_completion: float | None = None  # the same interval as completions (low ≤ high)
    high_completion: float | None = None
    final: bool = False  # the deadline has passed: forecast_value is the result
    met: bool | None = None  # when final: the result reached the target (a guardrail held, a milestone was done)
    margin: float | None = None  # when final: how far past (+) or short of (−) the target, in the unit
    reported: bool = True  # a check-in gave it a value up to as-of (by the deadline, when final)
    done_at: datetime | None = None  # a milestone: when it was marked done
    days_late: int | None = None  # a milestone: days done after its due, or days past its due and not done
    late_value: float | None = None  # when final: the latest number reported after the deadline, and when
    late_at: datetime | None = None

    @property
    def too_early(self) -> bool:
        """True when a reported baseline/target measure has no forecast yet (under 14 days of data)."""
        return (
            self.measure.kind is MeasureKind.TARGET and self.reported and not self.final and self.forecast_value is None
        )


def tolerance(measure: Measure) -> float:
    """How close to the target counts as on it: a millionth of the measure's span (never less than EPSILON)."""
    if measure.baseline is None or measure.target is None:
        return EPSILON
    return max(EPSILON, abs(measure.target - measure.baseline) * SPAN_TOLERANCE)


def reaches(measure: Measure, value: float) -> bool:
    """True when a value reaches a target measure's target (downwards for a decreasing measure)."""
    if measure.target is None:
        return False
    if measure.goes_down:
        return value <= measure.target + tolerance(measure)
    return value >= measure.target - tolerance(measure)


def ratio(measure: Measure, value: float | None) -> float | None:
    """(value − baseline) / (target − baseline), uncapped; 1/0 when target equals baseline."""
    if value is None or measure.baseline is None or measure.target is None:
        return None
    span = measure.target - measure.baseline
    if abs(span) <= EPSILON:
        return 1.0 if reaches(measure, value) else 0.0
    return (value - measure.baseline) / span


def _shortfall(measure: Measure, forecast: float | None) -> float | None:
    """How far a forecast falls short of the target in the measure's unit, or None when it does not."""
    if forecast is None or measure.target is None:
        return None
    short = forecast - measure.target if measure.goes_down else measure.target - forecast
    return short if short > tolerance(measure) else None


def _margin(measure: Measure, result: float | None) -> float | None:
    """How far a result lies past (+) or short of (−) the target, in the direction the measure must go."""
    if result is None or measure.target is None:
        return None
    target, value = Decimal(repr(float(measure.target))), Decimal(repr(float(result)))
    margin = float(target - value if measure.goes_down else value - target)  # as exact as the two numbers typed
    return 0.0 if abs(margin) <= tolerance(measure) else margin


def breaks(measure: Measure, value: float) -> bool:
    """True when a value breaks a guardrail's limit."""
    if measure.limit is None:
        return False
    if measure.kind is MeasureKind.AT_MOST:
        return value > measure.limit + EPSILON
    return value < measure.limit - EPSILON


def by_forecast(forecast: float | None) -> Status:
    """The status a forecast completion gives: ≥1 on track, ≥0.8 at risk, else off track; None too early."""
    if forecast is None:
        return Status.TOO_EARLY
    if forecast >= ON_TRACK_FROM - EPSILON:
        return Status.ON_TRACK
    if forecast >= AT_RISK_FROM - EPSILON:
        return Status.AT_RISK
    return Status.OFF_TRACK


@dataclass(frozen=True, slots=True)
class _Trend:
    """A forecast read from daily points: the value at the deadline and its range, or why there is none."""

    value: float | None
    low: float | None
    high: float | None
    data_days: int


def clamp(measure: Measure, value: float | None) -> float | None:
    """A forecast held within the measure's bounds (`min`/`max`; a `%` measure 0–100 unless it says otherwise)."""
    if value is None:
        return None
    low, high = measure.bounds
    if low is not None and value < low:
        return float(low)
    if high is not None and value > high:
        return float(high)
    return value


def _trend(*, measure: Measure, points: list[tuple[float, float]], at: float) -> _Trend:
    """The least-squares line through the points read at x = at, with the 80% range from three days on."""
    if not points:
        return _Trend(value=None, low=None, high=None, data_days=0)
    if len(points) < 2 and measure.baseline is not None and not measure.is_guardrail:
        points = [(0.0, float(measure.baseline)), *points]
    xs = [x for x, _ in points]
    span = max(xs) - min(xs)
    data_days = int(math.floor(span + EPSILON))
    if span < MIN_FORECAST_DAYS - EPSILON:
        return _Trend(value=None, low=None, high=None, data_days=data_days)
    line = fit_line(xs=xs, ys=[y for _, y in points])
    value = line.at(at)
    half = line.half_width(at) if len(points) >= MIN_RANGE_DAYS else None
    if half is None:
        return _Trend(value=clamp(measure, value), low=None, high=None, data_days=data_days)
    low, high = clamp(measure, value - half), clamp(measure, value + half)
    return _Trend(value=clamp(measure, value), low=low, high=high, data_days=data_days)


def _done_since(*, history: History, name: str, stamp: float) -> tuple[float, datetime] | None:
    """When a milestone was last marked done at or before a timestamp (None when it is not done then)."""
    since: tuple[float, datetime] | None = None
    for entry in history:
        if entry.stamp > stamp:
            break
        raw = entry.checkin.values.get(name)
        if raw is None:
            continue
        if float(raw) >= 0.5:
            since = since or (entry.stamp, entry.checkin.at)
        else:
            since = None
    return since


def _milestone(*, measure: Measure, history: History, window: Window, deadline: date, points: int) -> MeasureProgress:
    """A milestone: done (on time or late) counts 100% in completion, forecast and result; past its due and not
    done, 0%; not yet due and not done, left out. With no check-in of its KR at all it is not reported."""
    done = _done_since(history=history, name=measure.name, stamp=window.as_of)
    current = value_at(history=history, name=measure.name, stamp=window.as_of)
    deadline_end = window.end_of(deadline)
    final = past_due = window.ended(deadline)
    reported = bool(history)
    if done is not None:
        share: float | None = 1.0
        late = window.day_of(done[0]) - deadline if done[0] > deadline_end else None
        days_late = None if late is None else late.days
    else:
        share = 0.0 if past_due and reported else None
        days_late = (window.day_of(window.as_of) - deadline).days if past_due and reported else None
    return MeasureProgress(
        measure=measure,
        value=None if current is None else current[0],
        points=points,
        last_at=None if current is None else current[1],
        completion=share,
        forecast_value=share,
        forecast_completion=share,
        gap=None,
        deadline=deadline,
        reached=done is not None,
        guardrail_broken=False,
        guardrail_trend_broken=False,
        final=final,
        met=(done is not None and days_late is None) if final and reported else None,
        reported=reported,
        done_at=None if done is None else done[1],
        days_late=days_late,
    )


def _late(*, history: History, name: str, after: float) -> tuple[float, datetime] | None:
    """The latest number of a measure reported after a timestamp (after its deadline), if any."""
    for entry in reversed(history):
        if entry.stamp <= after:
            return None
        raw = entry.checkin.values.get(name)
        if raw is not None:
            return float(raw), entry.checkin.at
    return None


def measure_at(
    *, measure: Measure, history: History, window: Window, deadline: date, points: list[tuple[float, float]] | None = None
) -> MeasureProgress:
    """A measure's progress from its owner's check-ins (already filtered to ≤ as_of and sorted); `points`, its daily
    points when the caller read them already (daily_points_of)."""
    if points is None:
        points = daily_points(history=history, name=measure.name, window=window)
    if measure.kind is MeasureKind.MILESTONE:
        return _milestone(measure=measure, history=history, window=window, deadline=deadline, points=len(points))
    current = value_at(history=history, name=measure.name, stamp=window.as_of)
    latest = None if current is None else current[0]
    deadline_end = window.end_of(deadline)
    final = window.as_of >= deadline_end - DAY_END_SLACK  # window.ended(deadline), its day's end reckoned once
    reported = current is not None
    late = None
    if final:
        by_then = value_at(history=history, name=measure.name, stamp=deadline_end)
        reported = by_then is not None
        late = _late(history=history, name=measure.name, after=deadline_end)
        trend = _Trend(value=None if by_then is None else by_then[0], low=None, high=None, data_days=0)
    elif reported:
        trend = _trend(measure=measure, points=points, at=window.days(deadline_end))
    else:
        trend = _Trend(value=None, low=None, high=None, data_days=0)
    common = {
        "measure": measure,
        "points": len(points),
        "last_at": None if current is None else current[1],
        "deadline": deadline,
        "data_days": trend.data_days,
        "final": final,
        "forecast_value": trend.value,
        "reported": reported,
        "late_value": None if late is None else late[0],
        "late_at": None if late is None else late[1],
    }
    if measure.is_guardrail:
        broken = latest is not None and breaks(measure, latest)
        held = trend.value is not None and not breaks(measure, trend.value)
        return MeasureProgress(
            **common,  # type: ignore[arg-type]
            value=latest,
            completion=None,
            forecast_completion=None,
            gap=None,
            reached=not broken,
            guardrail_broken=broken and not final,
            guardrail_trend_broken=not final and trend.value is not None and breaks(measure, trend.value),
            met=held if final and reported else None,
        )
    value = latest if latest is not None else measure.baseline
    low, high = ratio(measure, trend.low), ratio(measure, trend.high)
    if low is not None and high is not None and low > high:
        low, high = high, low
    return MeasureProgress(
        **common,  # type: ignore[arg-type]
        value=value,
        completion=ratio(measure, value),
        forecast_completion=ratio(measure, trend.value),
        gap=_shortfall(measure, trend.value),
        reached=value is not None and reaches(measure, value),
        guardrail_broken=False,
        guardrail_trend_broken=False,
        low_value=trend.low,
        high_value=trend.high,
        low_completion=low,
        high_completion=high,
        met=(trend.value is not None and reaches(measure, trend.value)) if final and reported else None,
        margin=_margin(measure, trend.value) if final else None,
    )
