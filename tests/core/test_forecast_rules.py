"""CONTRACT §7's forecast rules, one table per rule; every expected number is worked out by hand here.

x = days since 2026-10-01 00:00 (UTC here); a deadline is read at the end of its day, so the cycle's
end 2026-12-31 is x = 92 and a due date 2026-10-31 is x = 31.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from pytest import approx

from bot.core.forecast import fit_line, t_quantile
from bot.core.inforce import deadline_in_force, measure_in_force, okrs_in_force
from bot.core.model import (
    Checkin,
    Cycle,
    GoalChange,
    KeyResult,
    Measure,
    MeasureKind,
    Objective,
    Okrs,
    Status,
    StrategicPath,
    Workspace,
)
from bot.core.progress import kr_progress, measure_progress, objective_progress

CYCLE = Cycle(name="2026-Q4", start=date(2026, 10, 1), end=date(2026, 12, 31))
DAY0 = datetime(2026, 10, 1, tzinfo=UTC)
MINUTE = 1 / 1440


def day(n: float) -> datetime:
    """The moment n days after the cycle's start."""
    return DAY0 + timedelta(days=n)


def target(baseline: float = 0.0, goal: float = 100.0, **kw: Any) -> Measure:
    """A baseline -> target measure called 'sales'."""
    return Measure(name="sales", kind=MeasureKind.TARGET, baseline=baseline, target=goal, **kw)


def progress(measure: Measure, points: list[tuple[float, float]], as_of: float) -> Any:
    """The measure of K1 with check-ins (x, value), read at day `as_of`."""
    checkins = [Checkin(code="K1", person="ann", at=day(x), values={measure.name: v}) for x, v in points]
    return measure_progress(
        measure=measure, checkins=checkins, code="K1", cycle=CYCLE, objective_deadline=None, as_of=day(as_of)
    )


def check(result: Any, expected: dict[str, Any]) -> None:
    """Each expected field equals the result's (floats to 1e-9)."""
    for name, want in expected.items():
        got = getattr(result, name)
        if isinstance(want, float):
            assert got == approx(want, abs=1e-9), name
        else:
            assert got == want, name


# ----------------------------------------------------------------- Student's t (Excel: T.INV(0.9, df))


@pytest.mark.parametrize(
    ("df", "expected"),
    [(1, 3.0777), (2, 1.8856), (3, 1.6377), (5, 1.4759), (10, 1.3722), (30, 1.3104), (120, 1.2886)],
)
def test_t_quantile_matches_the_tables(df: int, expected: float) -> None:
    """t(0.90; df) to four decimals, as printed in every t table."""
    assert round(t_quantile(p=0.9, df=df), 4) == expected


def test_t_quantile_is_symmetric() -> None:
    """t(0.10; df) = −t(0.90; df)."""
    assert t_quantile(p=0.1, df=4) == approx(-t_quantile(p=0.9, df=4))


# ----------------------------------------------------------------- points: the latest check-in of each day

POINT_CASES = [
    pytest.param(
        target(1.5, 2.0),
        [(6.5, 1.7), (6.5 + 2 * MINUTE, 1.6), (20.75, 1.8)],
        21,
        # The 1.7 typo is replaced two minutes later by 1.6 on the same day: points (6.5 + 2 min, 1.6),
        # (20.75, 1.8). slope = 0.2 / (20.75 − 6.5 − 2 min); at 92: 1.8 + slope·(92 − 20.75).
        dict(
            points=2,
            value=1.8,
            forecast_value=1.8 + 0.2 / (14.25 - 2 * MINUTE) * 71.25,
            data_days=14,
        ),
        id="same-day-correction-replaces",
    ),
    pytest.param(
        target(1.5, 2.0),
        [(0.5, 1.7), (0.5 + 2 * MINUTE, 1.6)],
        1,
        # Old rule: the line through two points two minutes apart ("trend −1,218,560%"). Now one day of
        # points: the baseline joins, (0, 1.5), (0.5 + 2 min, 1.6): span half a day -> too early, 0 days.
        dict(points=1, value=1.6, forecast_value=None, forecast_completion=None, gap=None, data_days=0),
        id="correction-in-week-1-is-too-early",
    ),
    pytest.param(
        target(0.0, 10.0),
        [(3.375, 1.0), (3.75, 2.0), (17.75, 3.0)],
        18,
        # Day 3 has two check-ins (09:00 and 18:00): the 18:00 one counts, at its own time 3.75.
        # Points (3.75, 2), (17.75, 3): slope 1/14; at 92: 3 + 74.25/14 = 8.303571…; completion 0.8303571….
        dict(points=2, forecast_value=3 + 74.25 / 14, forecast_completion=0.3 + 7.425 / 14, gap=10 - 3 - 74.25 / 14),
        id="latest-of-the-day-at-its-own-time",
    ),
]


@pytest.mark.parametrize(("measure", "points", "as_of", "expected"), POINT_CASES)
def test_points_are_each_days_latest(measure: Measure, points: list[tuple[float, float]], as_of: float, expected: dict[str, Any]) -> None:
    """One point per calendar day: its latest check-in, at its own time."""
    check(progress(measure, points, as_of), expected)


def test_calendar_days_are_the_workspace_timezone() -> None:
    """Two check-ins on one UTC day fall on two days in +08:00, so both are points there."""
    shanghai = timezone(timedelta(hours=8))
    checkins = [
        Checkin(code="K1", person="ann", at=datetime(2026, 10, 10, 15, 0, tzinfo=UTC), values={"sales": 10.0}),
        Checkin(code="K1", person="ann", at=datetime(2026, 10, 10, 17, 0, tzinfo=UTC), values={"sales": 11.0}),
    ]
    args = dict(measure=target(), checkins=checkins, code="K1", cycle=CYCLE, objective_deadline=None)
    assert measure_progress(**args, as_of=datetime(2026, 10, 20, tzinfo=UTC)).points == 1
    assert measure_progress(**args, as_of=datetime(2026, 10, 20, tzinfo=shanghai)).points == 2


# ----------------------------------------------------------------- too early under 14 days of data

TOO_EARLY_CASES = [
    # No check-in at all: not reported — no trend, and not "too early" either (there is nothing to wait for).
    pytest.param([], 21, dict(forecast_value=None, gap=None, data_days=0, too_early=False, reported=False), id="no-checkin"),
    pytest.param(
        [(10.5, 30.0)],
        21,
        # One day: baseline (0, 0) joins; span 10.5 days -> "too early (10 days of data)".
        dict(forecast_value=None, gap=None, data_days=10, too_early=True),
        id="one-day-with-baseline-10-days",
    ),
    pytest.param(
        [(14.0, 30.0)],
        21,
        # (0, 0), (14, 30): span 14 -> a forecast: slope 30/14; at 92: 30/14·92 = 197.142857…; no range (2 days).
        dict(forecast_value=30 / 14 * 92, data_days=14, too_early=False, low_value=None, high_value=None),
        id="baseline-and-day-14-forecast",
    ),
    pytest.param(
        [(3.0, 10.0), (16.0, 30.0)],
        21,
        # Two days of check-ins: the baseline is not used; span 16 − 3 = 13 -> too early (13 days).
        dict(forecast_value=None, gap=None, data_days=13, too_early=True),
        id="two-days-span-13-too-early",
    ),
]


@pytest.mark.parametrize(("points", "as_of", "expected"), TOO_EARLY_CASES)
def test_too_early_under_14_days(points: list[tuple[float, float]], as_of: float, expected: dict[str, Any]) -> None:
    """No forecast and no gap while the points span fewer than 14 days; N is that span in whole days."""
    check(progress(target(), points, as_of), expected)


# ----------------------------------------------------------------- the 80% range


def test_range_three_points_by_hand() -> None:
    """Points on three days: ŷ ± t(0.90; 1)·s·√(1 + 1/n + (x₀ − x̄)²/Sxx)."""
    result = progress(target(0.0, 60.0), [(7, 10.0), (14, 20.0), (21, 24.0)], 21)
    # x̄ = 14, ȳ = 18, Sxx = 49 + 0 + 49 = 98, Sxy = (−7)(−8) + 0 + 7·6 = 98 -> slope 1.
    # ŷ(92) = 18 + (92 − 14) = 96. Residuals 10 − 11 = −1, 20 − 18 = 2, 24 − 25 = −1: SSE 6, s = √(6/1).
    y_hat = 96.0
    s = math.sqrt(6.0)
    t = 3.077684  # t(0.90; 1)
    half = t * s * math.sqrt(1 + 1 / 3 + 78**2 / 98)  # = 60.03…
    assert result.forecast_value == approx(y_hat)
    assert result.low_value == approx(y_hat - half, abs=1e-4)
    assert result.high_value == approx(y_hat + half, abs=1e-4)
    assert result.low_completion == approx((y_hat - half) / 60, abs=1e-6)


def test_range_five_points_by_hand() -> None:
    """Five weekly points; the same numbers as FORECAST.LINEAR and T.INV(0.9, 3) in a spreadsheet."""
    result = progress(target(0.0, 60.0), [(7, 10.0), (14, 13.0), (21, 17.0), (28, 19.0), (35, 24.0)], 36)
    # x̄ = 21, ȳ = 83/5 = 16.6; dx = −14, −7, 0, 7, 14: Sxx = 490; dy = −6.6, −3.6, 0.4, 2.4, 7.4:
    # Sxy = 92.4 + 25.2 + 0 + 16.8 + 103.6 = 238; slope = 238/490 = 17/35.
    y_hat = 16.6 + 17 / 35 * (92 - 21)  # = 51.085714…
    # Fitted 9.8, 13.2, 16.6, 20.0, 23.4: residuals 0.2, −0.2, 0.4, −1.0, 0.6: SSE = 1.6, s = √(1.6/3).
    s = math.sqrt(1.6 / 3)
    t = 1.637744  # t(0.90; 3)
    half = t * s * math.sqrt(1 + 1 / 5 + (92 - 21) ** 2 / 490)  # = 4.0539…
    assert result.forecast_value == approx(y_hat)
    assert (result.low_value, result.high_value) == (approx(y_hat - half, abs=1e-5), approx(y_hat + half, abs=1e-5))
    # As completions: (47.03…/60, 55.14…/60) = (78%, 92%); the forecast 85%.
    assert round(result.low_completion * 100) == 78 and round(result.high_completion * 100) == 92
    assert round(result.forecast_completion * 100) == 85


def test_range_of_a_decreasing_measure_is_ordered() -> None:
    """Lower is better: the range's low completion comes from its high value."""
    result = progress(target(100.0, 40.0), [(7, 95.0), (14, 92.0), (21, 86.0)], 22)
    assert result.low_completion is not None and result.high_completion is not None
    assert result.low_completion < result.forecast_completion < result.high_completion
    assert result.low_completion == approx((result.high_value - 100) / -60)


def test_fit_line_matches_the_hand_sums() -> None:
    """The line's pieces: x̄, ȳ, Sxx, slope, s."""
    line = fit_line(xs=[7, 14, 21], ys=[10, 20, 24])
    assert (line.mean_x, line.mean_y, line.sxx, line.slope) == (14, 18, 98, 1)
    assert line.residual_sd == approx(math.sqrt(6))


# ----------------------------------------------------------------- after the deadline the forecast is the result

AFTER_CASES = [
    pytest.param(
        target(due=date(2026, 10, 31)),
        [(14, 20.0), (30.5, 40.0), (31.5, 70.0)],
        40,
        # Due 2026-10-31 (end x = 31): the result is the value then, 40 (the 70 came a day late).
        # completion now 0.7; forecast = result 40 -> 0.4; missed by 60; no range.
        dict(final=True, met=False, value=70.0, completion=0.7, forecast_value=40.0, forecast_completion=0.4,
             gap=60.0, margin=-60.0, low_value=None, too_early=False),
        id="missed-result-at-the-deadline",
    ),
    pytest.param(
        target(due=date(2026, 10, 31)),
        [(30, 110.0)],
        35,
        # Result 110 against 100: met, 10 past the target; no gap.
        dict(final=True, met=True, forecast_value=110.0, forecast_completion=1.1, gap=None, margin=10.0),
        id="met-result",
    ),
    pytest.param(
        target(100.0, 40.0, due=date(2026, 10, 31)),
        [(20, 50.0)],
        35,
        # Lower is better: result 50 against 40 -> missed by 10 (the gap is in the measure's unit).
        dict(final=True, met=False, forecast_value=50.0, gap=10.0, margin=-10.0),
        id="down-measure-missed",
    ),
    pytest.param(
        target(due=date(2026, 10, 31)),
        [],
        35,
        # No check-in by then: never reported — no result, no verdict (neither met nor missed), no gap.
        dict(final=True, met=None, reported=False, forecast_value=None, gap=None, margin=None, too_early=False),
        id="never-reported-no-verdict",
    ),
    pytest.param(
        target(due=date(2026, 10, 31)),
        [(30, 50.0)],
        31,
        # At the end of the due day (x = 31, 00:00 of Nov 1) the result is read: 50, missed by 50.
        dict(final=True, met=False, forecast_value=50.0, margin=-50.0),
        id="at-the-end-of-the-due-day-the-result",
    ),
    pytest.param(
        target(due=date(2026, 10, 31)),
        [(30, 50.0)],
        31 - 1 / 86400,
        # One second before: still a forecast, (0,0),(30,50) read at 31 -> 51.67.
        dict(final=False, forecast_value=50 / 30 * 31),
        id="a-second-before-the-end-still-forecast",
    ),
    pytest.param(
        target(due=date(2026, 10, 31)),
        [(30, 50.0), (33, 90.0)],
        40,
        # A number reported after the deadline does not change the result; it is kept beside it.
        dict(final=True, met=False, forecast_value=50.0, late_value=90.0, late_at=day(33)),
        id="reported-after-the-deadline",
    ),
]


@pytest.mark.parametrize(("measure", "points", "as_of", "expected"), AFTER_CASES)
def test_after_the_deadline_the_forecast_is_the_result(
    measure: Measure, points: list[tuple[float, float]], as_of: float, expected: dict[str, Any]
) -> None:
    """The value at the end of the deadline day, met or missed by how much."""
    check(progress(measure, points, as_of), expected)


# ----------------------------------------------------------------- status

SALES = target()
LAUNCH = Measure(name="launch", kind=MeasureKind.MILESTONE, due=date(2026, 10, 31))
REFUND = Measure(name="refund", kind=MeasureKind.AT_MOST, limit=5.0)


def kr_status(measures: tuple[Measure, ...], checkins: list[tuple[float, dict[str, float]]], as_of: float) -> Any:
    """K1 with these measures and check-ins (x, values), read at `as_of`."""
    kr = KeyResult(code="K1", title="K1", owner="ann", measures=measures)
    rows = [Checkin(code="K1", person="ann", at=day(x), values=v) for x, v in checkins]
    return kr_progress(kr=kr, checkins=rows, cycle=CYCLE, objective_deadline=None, as_of=day(as_of))


STATUS_CASES = [
    pytest.param((SALES,), [(5, {"sales": 10.0})], 10, Status.TOO_EARLY, id="too-early-5-days"),
    pytest.param((SALES, LAUNCH), [(5, {"sales": 10.0})], 10, Status.TOO_EARLY, id="no-measure-has-a-forecast"),
    pytest.param((SALES, LAUNCH), [], 10, Status.NO_DATA, id="nothing-reported"),
    pytest.param((SALES, REFUND), [], 93, Status.NO_DATA, id="never-reported-neither-met-nor-missed"),
    # (0,0),(14,14): 92 -> completion 0.92 -> at risk.
    pytest.param((SALES,), [(14, {"sales": 14.0})], 20, Status.AT_RISK, id="at-risk-92"),
    # (0,0),(14,16): 16/14·92 = 105.1 -> on track.
    pytest.param((SALES,), [(14, {"sales": 16.0})], 20, Status.ON_TRACK, id="on-track"),
    # (0,0),(14,10): 65.7 -> off track.
    pytest.param((SALES,), [(14, {"sales": 10.0})], 20, Status.OFF_TRACK, id="off-track"),
    pytest.param((SALES,), [(14, {"sales": 100.0})], 20, Status.DONE, id="done"),
    # Every deadline passed (cycle end x = 92; launch x = 31): met or missed.
    pytest.param((SALES, LAUNCH), [(20, {"launch": 1.0}), (90, {"sales": 100.0})], 93, Status.MET, id="met"),
    pytest.param((SALES, LAUNCH), [(40, {"launch": 1.0}), (90, {"sales": 100.0})], 93, Status.MISSED, id="missed-late-launch"),
    pytest.param((SALES, REFUND), [(90, {"sales": 100.0, "refund": 6.0})], 93, Status.MISSED, id="missed-broken-guardrail"),
    # Launch's deadline passed (met, 1) but sales' has not: a forecast status, not met/missed:
    # sales (0,0),(40,30) -> 69 at 92 -> 0.69; mean (0.69 + 1)/2 = 0.845 -> at risk.
    pytest.param((SALES, LAUNCH), [(20, {"launch": 1.0}), (40, {"sales": 30.0})], 50, Status.AT_RISK, id="one-deadline-left"),
    # A broken guardrail makes the KR off track; too early otherwise.
    pytest.param((SALES, REFUND), [(5, {"sales": 10.0, "refund": 9.0})], 10, Status.OFF_TRACK, id="guardrail-broken"),
]


@pytest.mark.parametrize(("measures", "checkins", "as_of", "expected"), STATUS_CASES)
def test_kr_status(measures: tuple[Measure, ...], checkins: list[tuple[float, dict[str, float]]], as_of: float, expected: Status) -> None:
    """Done, on track, at risk, off track, too early, met, missed."""
    assert kr_status(measures, checkins, as_of).status is expected


def test_a_past_deadline_measure_enters_the_kr_mean_with_its_result() -> None:
    """Launch (due x = 31) not done enters with 0; sales (0,0),(20,40) -> 184 at 92 -> 1.84, capped at 1 in the mean:
    (1 + 0) / 2 = 0.5 -> off track (the 184% no longer hides the missed launch)."""
    result = kr_status((SALES, LAUNCH), [(20, {"sales": 40.0})], 35)
    assert result.forecast_completion == approx((1.0 + 0.0) / 2)
    assert result.measures[0].forecast_completion == approx(1.84)  # the measure's own line still shows 184%
    assert result.status is Status.OFF_TRACK


def test_objective_range_is_the_headlines_never_a_kr_mean() -> None:
    """The headline's range is the objective's; without headline check-ins there is none."""
    kr = KeyResult(code="K1", title="K1", owner="ann", measures=(SALES,))
    objective = Objective(
        code="O1", title="O1", owner="boss", measures=(target(),), paths=(StrategicPath(code="P", title="P", priority=1, krs=(kr,)),)
    )
    rows = [Checkin(code=code, person="ann", at=day(x), values={"sales": v}) for code in ("O1", "K1") for x, v in ((7, 10.0), (14, 20.0), (21, 24.0))]
    with_headline = objective_progress(objective=objective, checkins=rows, cycle=CYCLE, as_of=day(22))
    assert with_headline.low_completion is not None and with_headline.low_completion < with_headline.forecast_completion
    kr_only = objective_progress(objective=objective, checkins=[r for r in rows if r.code == "K1"], cycle=CYCLE, as_of=day(22))
    assert kr_only.forecast_completion is not None and kr_only.low_completion is None


# ----------------------------------------------------------------- goals in force at the as-of time


def change(field: str, old: str | None, new: str | None, at: float, measure: str | None = "sales", code: str = "K1") -> GoalChange:
    """A logged change of K1's sales measure."""
    return GoalChange(code=code, field=field, old=old, new=new, reason=None, person=None, at=day(at), measure=measure)


IN_FORCE_CASES = [
    # Target raised 100 -> 200 on day 30 (and to 250 on day 60): before day 30 it was 100.
    pytest.param([change("target", "100", "200", 30), change("target", "200", "250", 60)], 20, dict(target=100.0), id="before-both"),
    pytest.param([change("target", "100", "200", 30), change("target", "200", "250", 60)], 45, dict(target=200.0), id="between"),
    pytest.param([change("target", "100", "200", 30), change("target", "200", "250", 60)], 70, dict(target=250.0), id="after-both"),
    pytest.param([change("baseline", "0", "10", 30)], 20, dict(baseline=0.0, target=250.0), id="baseline"),
    pytest.param([change("due", None, "2026-11-30", 30)], 20, dict(due=None), id="due-set-later"),
    pytest.param([change("due", "2026-10-31", "2026-11-30", 30)], 20, dict(due=date(2026, 10, 31)), id="due-moved"),
    pytest.param([change("target", "100", "200", 30, code="K2")], 20, dict(target=250.0), id="other-code-ignored"),
]


@pytest.mark.parametrize(("changes", "at", "expected"), IN_FORCE_CASES)
def test_measure_in_force(changes: list[GoalChange], at: float, expected: dict[str, Any]) -> None:
    """Each change after the moment is undone (the current measure has target 250, baseline 10, due 11-30)."""
    current = target(10.0, 250.0, due=date(2026, 11, 30))
    check(measure_in_force(measure=current, code="K1", changes=changes, at=day(at)), expected)


def test_a_past_digest_uses_the_target_then_in_force() -> None:
    """Completion at day 20 reads target 100 although today's target is 200."""
    kr = KeyResult(code="K1", title="K1", owner="ann", measures=(target(0.0, 200.0),))
    objective = Objective(code="O1", title="O1", owner="boss", measures=(), paths=(StrategicPath(code="P", title="P", priority=1, krs=(kr,)),), deadline=date(2026, 12, 20))
    okrs = Okrs(workspace=Workspace(name="w"), people={}, cycle=CYCLE, objectives=(objective,))
    changes = [change("target", "100", "200", 30), change("deadline", "2026-12-31", "2026-12-20", 30, measure=None, code="O1")]
    then = okrs_in_force(okrs=okrs, changes=changes, at=day(20))
    rows = [Checkin(code="K1", person="ann", at=day(10), values={"sales": 50.0})]
    result = kr_progress(kr=then.objectives[0].krs()[0], checkins=rows, cycle=CYCLE, objective_deadline=None, as_of=day(20))
    assert result.completion == approx(0.5)  # 50 of 100, not 50 of 200
    assert deadline_in_force(objective=objective, changes=changes, at=day(20)) == date(2026, 12, 31)
    assert okrs_in_force(okrs=okrs, changes=changes, at=day(40)) is okrs
