"""Tests of bot.core.progress: every expected number is worked out by hand in a comment.

Conventions (as in bot/core/progress.py): x = days since 2026-10-01 00:00 in as_of's timezone; a
deadline date is read at its end, i.e. 00:00 of the next day. For the cycle 2026-10-01..2026-12-31
the cycle's end is therefore x = 92 (31 + 30 + 31 days); 2026-12-30 is x = 91; 2026-10-31 is x = 31;
2026-11-15 is x = 46.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from pytest import approx

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
    Workspace,
)
from bot.core.progress import (
    KrProgress,
    kr_progress,
    measure_progress,
    objective_progress,
    okr_progress,
    ordered_paths,
)

CYCLE = Cycle(name="2026-Q4", start=date(2026, 10, 1), end=date(2026, 12, 31))
DAY0 = datetime(2026, 10, 1, tzinfo=UTC)


def day(n: float) -> datetime:
    """The moment n days after the cycle's start (UTC)."""
    return DAY0 + timedelta(days=n)


def target(
    name: str = "sales", baseline: float | None = 0.0, goal: float | None = 100.0, **kw: Any
) -> Measure:
    """A baseline -> target measure."""
    return Measure(name=name, kind=MeasureKind.TARGET, baseline=baseline, target=goal, **kw)


def milestone(name: str = "launch", due: date | None = date(2026, 11, 15)) -> Measure:
    """A milestone measure."""
    return Measure(name=name, kind=MeasureKind.MILESTONE, due=due)


def at_most(name: str = "refund", limit: float = 5.0, **kw: Any) -> Measure:
    """An at_most guardrail."""
    return Measure(name=name, kind=MeasureKind.AT_MOST, limit=limit, **kw)


def at_least(name: str = "rating", limit: float = 4.5) -> Measure:
    """An at_least guardrail."""
    return Measure(name=name, kind=MeasureKind.AT_LEAST, limit=limit)


def ci(code: str, n: float, **values: float) -> Checkin:
    """A check-in of `code` on day n with values by measure name."""
    return Checkin(code=code, person="ann", at=day(n), values=values)


def kr(code: str, *measures: Measure) -> KeyResult:
    """A KR with these measures."""
    return KeyResult(code=code, title=code, owner="ann", measures=measures)


def assert_fields(obj: object, expected: dict[str, Any]) -> None:
    """Each expected field equals the object's (floats to 1e-9)."""
    for name, want in expected.items():
        got = getattr(obj, name)
        if isinstance(want, float):
            assert got == approx(want, abs=1e-9), name
        else:
            assert got == want, name


# --------------------------------------------------------------------------- one measure

MEASURE_CASES = [
    pytest.param(
        target(baseline=100.0, goal=200.0),
        [],
        21,
        None,
        # No check-in: value = baseline 100, completion (100-100)/100 = 0, no forecast, no gap.
        dict(
            value=100.0,
            points=0,
            last_at=None,
            completion=0.0,
            forecast_value=None,
            forecast_completion=None,
            gap=None,
            reached=False,
            deadline=date(2026, 12, 31),
        ),
        id="no-checkins",
    ),
    pytest.param(
        target(baseline=100.0, goal=200.0),
        [(46, 130.0)],
        50,
        None,
        # One check-in: points (0,100) baseline + (46,130); slope 30/46; at x=92: 100 + 30/46*92 = 160.
        # completion (130-100)/100 = 0.3; forecast completion (160-100)/100 = 0.6; gap 200-160 = 40.
        dict(
            value=130.0,
            points=1,
            last_at=day(46),
            completion=0.3,
            forecast_value=160.0,
            forecast_completion=0.6,
            gap=40.0,
            reached=False,
        ),
        id="one-checkin-baseline-is-second-point",
    ),
    pytest.param(
        target(baseline=1.5, goal=4.0),
        [(0, 1.5), (7, 1.6), (14, 1.8)],
        21,
        date(2026, 12, 30),
        # Three check-ins, objective deadline 2026-12-30 -> x = 91.
        # mean x = 7, mean y = 4.9/3 = 49/30; Sxx = 49+0+49 = 98;
        # Sxy = (-7)(1.5-49/30) + 0 + 7(1.8-49/30) = 7(4/30) + 7(5/30) = 63/30 = 2.1; slope 2.1/98 = 3/140.
        # at 91: 49/30 + 3/140*(91-7) = 49/30 + 1.8 = 103/30 = 3.4333...
        # completion (1.8-1.5)/2.5 = 0.12; forecast completion (103/30-1.5)/2.5 = 58/75 = 0.77333...
        # gap 4.0 - 103/30 = 17/30 = 0.56666...
        dict(
            value=1.8,
            points=3,
            completion=0.12,
            forecast_value=103 / 30,
            forecast_completion=58 / 75,
            gap=17 / 30,
            reached=False,
            deadline=date(2026, 12, 30),
        ),
        id="three-checkins-least-squares",
    ),
    pytest.param(
        target(baseline=0.0, goal=100.0),
        [(7, 60.0), (21, 120.0)],
        28,
        None,
        # Reached early: value 120, completion 120/100 = 1.2 (not capped).
        # Line through (7,60),(21,120) (span 14 days): slope 60/14 = 30/7; at 92: 120 + 30/7*71 = 2970/7.
        dict(
            value=120.0,
            completion=1.2,
            forecast_value=2970 / 7,
            forecast_completion=2970 / 700,
            gap=None,
            reached=True,
        ),
        id="target-reached-early-uncapped",
    ),
    pytest.param(
        target(name="hours", baseline=96.0, goal=48.0, unit="h"),
        [(14, 88.0), (28, 84.0)],
        35,
        None,
        # Decreasing 96h -> 48h. completion (84-96)/(48-96) = 12/48 = 0.25.
        # Line through (14,88),(28,84): slope -2/7; at 92: 84 - 2/7*64 = 460/7 = 65.714...
        # forecast completion (460/7-96)/(48-96) = (212/7)/48 = 53/84 = 0.63095...
        # gap (decreasing: forecast - target) = 460/7 - 48 = 124/7 = 17.714... h.
        dict(
            value=84.0,
            completion=0.25,
            forecast_value=460 / 7,
            forecast_completion=53 / 84,
            gap=124 / 7,
            reached=False,
        ),
        id="decreasing-measure",
    ),
    pytest.param(
        target(name="hours", baseline=96.0, goal=48.0),
        [(14, 40.0)],
        21,
        None,
        # Decreasing, reached: value 40 <= 48; completion (40-96)/(48-96) = 56/48 = 7/6.
        # Points (0,96),(14,40): slope -4; at 92: 96 - 368 = -272; completion (-272-96)/(-48) = 23/3; no gap.
        dict(
            value=40.0,
            completion=7 / 6,
            forecast_value=-272.0,
            forecast_completion=23 / 3,
            gap=None,
            reached=True,
        ),
        id="decreasing-measure-reached",
    ),
    pytest.param(
        target(due=date(2026, 10, 31)),
        [(14, 20.0)],
        21,
        date(2026, 12, 30),
        # Measure due 2026-10-31 wins over the objective's deadline -> x = 31.
        # Points (0,0),(14,20): slope 10/7; at 31: 310/7; completion 3.1/7; gap 100 - 310/7 = 390/7.
        dict(
            completion=0.2,
            forecast_value=310 / 7,
            forecast_completion=3.1 / 7,
            gap=390 / 7,
            deadline=date(2026, 10, 31),
        ),
        id="measure-due-wins",
    ),
    pytest.param(
        target(),
        [(14, 20.0), (30, 90.0)],
        21,
        None,
        # The day-30 check-in is after as_of (day 21) and is ignored entirely:
        # value 20, completion 0.2; points (0,0),(14,20): slope 10/7; at 92: 920/7; completion 9.2/7; no gap.
        dict(
            value=20.0,
            points=1,
            last_at=day(14),
            completion=0.2,
            forecast_value=920 / 7,
            forecast_completion=9.2 / 7,
            gap=None,
        ),
        id="after-as-of-ignored",
    ),
    pytest.param(
        target(),
        [(-5, 999.0), (46, 40.0)],
        50,
        None,
        # The day -5 check-in is before the cycle: not a forecast point, so with one point in the cycle
        # the baseline counts: (0,0),(46,40) -> at 92: 80; completion 0.8; gap 20.
        dict(value=40.0, points=1, completion=0.4, forecast_value=80.0, forecast_completion=0.8, gap=20.0),
        id="before-cycle-ignored-for-forecast",
    ),
    pytest.param(
        target(),
        [(-5, 30.0)],
        21,
        None,
        # Only a check-in before the cycle: it is still the latest value at or before as_of (value 30,
        # completion 0.3), but there are no points in the cycle, so no forecast.
        dict(
            value=30.0,
            points=0,
            last_at=day(-5),
            completion=0.3,
            forecast_value=None,
            forecast_completion=None,
            gap=None,
        ),
        id="before-cycle-only-no-forecast",
    ),
    pytest.param(
        target(),
        [(7, 10.0), (7, 20.0)],
        21,
        None,
        # Two check-ins at the same moment: one calendar day, the later one in the input is the day's
        # point and the value: 20. One day of points: the baseline joins, (0,0),(7,20) span 7 days -> too early.
        dict(value=20.0, points=1, completion=0.2, forecast_value=None, gap=None, data_days=7),
        id="same-day-latest-wins",
    ),
    pytest.param(
        target(baseline=None),
        [(10, 50.0)],
        21,
        None,
        # No baseline: the single point alone spans 0 days -> too early; no completion, no gap.
        dict(value=50.0, completion=None, forecast_value=None, forecast_completion=None, gap=None, data_days=0),
        id="no-baseline",
    ),
    # ---- milestones (due 2026-11-15 -> end at x = 46)
    pytest.param(
        milestone(),
        [(10, 1.0)],
        21,
        None,
        # Done by as_of: completion 1, forecast completion 1.
        dict(
            value=1.0,
            completion=1.0,
            forecast_value=1.0,
            forecast_completion=1.0,
            gap=None,
            reached=True,
            deadline=date(2026, 11, 15),
        ),
        id="milestone-done",
    ),
    pytest.param(
        milestone(),
        [],
        21,
        None,
        # Pending, before due, never reported: left out of the means (no completion), no invented forecast.
        dict(
            value=None, points=0, completion=None, forecast_value=None, forecast_completion=None, reached=False,
            reported=False,
        ),
        id="milestone-pending",
    ),
    pytest.param(
        milestone(),
        [(10, 0.0)],
        46 - 1 / 86400,
        None,
        # A second before the end of the due day: not yet late, left out of the means (no completion, no forecast).
        dict(value=0.0, completion=None, forecast_completion=None, reached=False, final=False),
        id="milestone-pending-before-end-of-due-day",
    ),
    pytest.param(
        milestone(),
        [(10, 0.0)],
        46 + 1 / 86400,
        None,
        # One second after the end of the due day and not done: late, 0% in both means, "due Nov 15, 1 day ago".
        dict(value=0.0, completion=0.0, forecast_value=0.0, forecast_completion=0.0, reached=False, days_late=1),
        id="milestone-late",
    ),
    pytest.param(
        milestone(),
        [(50, 1.0)],
        60,
        None,
        # Done after its due date (Nov 20, due Nov 15): 100% in completion, forecast and result alike, but late:
        # missed, not met, five days after its due.
        dict(completion=1.0, forecast_completion=1.0, reached=True, final=True, met=False, days_late=5,
             done_at=day(50)),
        id="milestone-done-late",
    ),
    # ---- guardrails
    pytest.param(
        at_most(),
        [(7, 3.0), (21, 4.0)],
        28,
        None,
        # at_most 5: latest 4 holds. Line (7,3),(21,4): slope 1/14; at 92: 4 + 71/14 = 127/14 = 9.07 > 5 -> trend breaks.
        dict(
            value=4.0,
            completion=None,
            forecast_value=127 / 14,
            forecast_completion=None,
            gap=None,
            reached=True,
            guardrail_broken=False,
            guardrail_trend_broken=True,
        ),
        id="guardrail-trending-to-break",
    ),
    pytest.param(
        at_most(),
        [(7, 6.0)],
        21,
        None,
        # at_most 5: latest 6 breaks it now; one point is no trend.
        dict(value=6.0, reached=False, guardrail_broken=True, guardrail_trend_broken=False, completion=None),
        id="guardrail-broken-now",
    ),
    pytest.param(
        at_most(baseline=1.0),
        [(14, 4.9)],
        21,
        None,
        # One check-in: (0,1),(14,4.9) would reach 1 + 3.9/14*92 = 26.6 > 5, but a guardrail's trend
        # needs check-ins on two days (its baseline is no point), so it does not break.
        dict(value=4.9, reached=True, guardrail_broken=False, guardrail_trend_broken=False),
        id="guardrail-one-checkin-no-trend",
    ),
    pytest.param(
        at_least(),
        [(7, 4.8), (21, 4.7)],
        28,
        None,
        # at_least 4.5: latest 4.7 holds; slope -0.1/14; at 92: 4.7 - 7.1/14 = 4.19 < 4.5 -> trend breaks.
        dict(
            value=4.7,
            forecast_value=4.7 - 7.1 / 14,
            reached=True,
            guardrail_broken=False,
            guardrail_trend_broken=True,
        ),
        id="guardrail-at-least-trending",
    ),
    pytest.param(
        at_most(),
        [],
        21,
        None,
        # No value: holds (reached), not broken, no forecast.
        dict(
            value=None,
            forecast_value=None,
            reached=True,
            guardrail_broken=False,
            guardrail_trend_broken=False,
        ),
        id="guardrail-no-value",
    ),
]


@pytest.mark.parametrize(("measure", "points", "as_of", "objective_deadline", "expected"), MEASURE_CASES)
def test_measure_progress(
    measure: Measure,
    points: list[tuple[float, float]],
    as_of: float,
    objective_deadline: date | None,
    expected: dict[str, Any],
) -> None:
    """Value, completion, forecast, gap and guardrail state of one measure."""
    noise = [ci("OTHER", 8, **{measure.name: 1e6})]  # another code's check-in: ignored
    checkins = noise + [ci("K1", n, **{measure.name: v}) for n, v in points]
    result = measure_progress(
        measure=measure,
        checkins=checkins,
        code="K1",
        cycle=CYCLE,
        objective_deadline=objective_deadline,
        as_of=day(as_of),
    )
    assert result.measure is measure
    assert_fields(result, expected)


def test_as_of_timezone_sets_the_cycle_start() -> None:
    """The cycle starts at 00:00 in as_of's timezone."""
    shanghai = timezone(timedelta(hours=8))
    checkin = Checkin(
        code="K1", person="ann", at=datetime(2026, 9, 30, 17, tzinfo=UTC), values={"sales": 10.0}
    )
    # 2026-09-30 17:00 UTC is 2026-10-01 01:00 +08:00: inside the cycle when read in +08:00 ...
    args = dict(measure=target(), checkins=[checkin], code="K1", cycle=CYCLE, objective_deadline=None)
    east = measure_progress(**args, as_of=datetime(2026, 10, 20, tzinfo=shanghai))
    assert east.points == 1
    # ... but before it in UTC: the value still counts, the point does not.
    west = measure_progress(**args, as_of=datetime(2026, 10, 20, tzinfo=UTC))
    assert (west.points, west.value, west.forecast_value) == (0, 10.0, None)


def test_naive_as_of_is_refused() -> None:
    """as_of must carry a timezone."""
    with pytest.raises(ValueError):
        measure_progress(
            measure=target(),
            checkins=[],
            code="K1",
            cycle=CYCLE,
            objective_deadline=None,
            as_of=datetime(2026, 10, 20),
        )


# --------------------------------------------------------------------------- one KR

SALES = target()  # 0 -> 100
REFUND = at_most()  # <= 5

KR_CASES = [
    pytest.param(
        [SALES, REFUND],
        [],
        21,
        # Nothing reported: not reported (no data) — no completion, no trend, no verdict.
        dict(
            status=Status.NO_DATA,
            completion=None,
            forecast_completion=None,
            last_checkin=None,
            checkins_in_cycle=0,
        ),
        id="no-checkins-too-early",
    ),
    pytest.param(
        [SALES, REFUND],
        [ci("K1", 7, sales=10), ci("K1", 21, sales=30)],
        28,
        # (7,10),(21,30): slope 20/14 = 10/7; at 92: 30 + 710/7 = 920/7; completion 9.2/7 = 1.314 -> on track;
        # the KR's mean caps it at 100%.
        dict(status=Status.ON_TRACK, completion=0.3, forecast_completion=1.0, checkins_in_cycle=2),
        id="on-track",
    ),
    pytest.param(
        [SALES, REFUND],
        [ci("K1", 7, sales=10, refund=3), ci("K1", 21, sales=30, refund=6)],
        28,
        # Sales on track (as above) but refund 6 > 5 now -> off track.
        dict(status=Status.OFF_TRACK, forecast_completion=1.0),
        id="guardrail-broken-now-off-track",
    ),
    pytest.param(
        [SALES, REFUND],
        [ci("K1", 7, sales=10, refund=3), ci("K1", 21, sales=30, refund=4)],
        28,
        # Sales on track; refund 4 holds but its trend reaches 4 + 71/14 = 127/14 = 9.07 > 5 at 92 -> at risk.
        dict(status=Status.AT_RISK, forecast_completion=1.0),
        id="guardrail-trending-at-risk",
    ),
    pytest.param(
        [SALES, REFUND],
        [ci("K1", 7, refund=3), ci("K1", 14, refund=4), ci("K1", 46, sales=30)],
        50,
        # Sales (0,0),(46,30) -> 60 at 92, 0.6 -> off track; the guardrail trend never improves it.
        dict(status=Status.OFF_TRACK, forecast_completion=0.6, completion=0.3, checkins_in_cycle=3),
        id="trend-does-not-improve-off-track",
    ),
    pytest.param(
        [SALES, REFUND],
        [ci("K1", 7, sales=60, refund=3), ci("K1", 14, sales=120, refund=4)],
        21,
        # Every measure reached (sales 120 >= 100, refund 4 holds): done, whatever the refund trend.
        dict(status=Status.DONE, completion=1.0),  # 120% capped at 100% in the KR's mean
        id="done",
    ),
    pytest.param(
        [SALES, REFUND],
        [ci("K1", 14, sales=120, refund=6)],
        21,
        # Sales reached but the guardrail is broken: not done, off track.
        dict(status=Status.OFF_TRACK, completion=1.0),
        id="done-blocked-by-broken-guardrail",
    ),
    # Thresholds: one check-in (46, v) with baseline (0,0) -> forecast 2v at 92 -> completion 2v/100.
    pytest.param(
        [SALES],
        [ci("K1", 46, sales=50)],
        50,
        dict(status=Status.ON_TRACK, forecast_completion=1.0),
        id="exactly-100-on-track",
    ),
    pytest.param(
        [SALES],
        [ci("K1", 46, sales=49.5)],
        50,
        dict(status=Status.AT_RISK, forecast_completion=0.99),
        id="99-at-risk",
    ),
    pytest.param(
        [SALES],
        [ci("K1", 46, sales=40)],
        50,
        dict(status=Status.AT_RISK, forecast_completion=0.8),
        id="exactly-80-at-risk",
    ),
    pytest.param(
        [SALES],
        [ci("K1", 46, sales=39.5)],
        50,
        dict(status=Status.OFF_TRACK, forecast_completion=0.79),
        id="79-off-track",
    ),
    pytest.param(
        [SALES, milestone(), REFUND],
        [ci("K1", 10, launch=1.0), ci("K1", 46, sales=30, refund=4)],
        50,
        # Mean ignores the guardrail: completion (0.3 + 1)/2 = 0.65; forecast (0.6 + 1)/2 = 0.8 -> at risk
        # (0.8 exactly, reached through a mean). Latest check-in is day 46's.
        dict(status=Status.AT_RISK, completion=0.65, forecast_completion=0.8, checkins_in_cycle=2),
        id="mean-ignores-guardrail",
    ),
    pytest.param(
        [SALES, milestone()],
        [ci("K1", 45, sales=30)],
        45.5,
        # Pending milestone (not yet due, not done): left out of both means: completion 0.3; forecast
        # (0,0),(45,30) at 92 -> 61.3% -> off track.
        dict(status=Status.OFF_TRACK, completion=0.3, forecast_completion=30 / 45 * 92 / 100),
        id="pending-milestone-has-no-forecast",
    ),
    pytest.param(
        [SALES, milestone()],
        [ci("K1", 46, sales=30)],
        47,
        # Late milestone forecasts 0: forecast (0.6 + 0)/2 = 0.3.
        dict(status=Status.OFF_TRACK, completion=0.15, forecast_completion=0.3),
        id="late-milestone-forecasts-zero",
    ),
    pytest.param(
        [milestone()],
        [ci("K1", 10, launch=1.0)],
        21,
        dict(status=Status.DONE, completion=1.0, forecast_completion=1.0),
        id="milestone-only-done",
    ),
    pytest.param(
        [REFUND],
        [ci("K1", 10, refund=2)],
        21,
        # Guardrails only: no completion; holding -> on track.
        dict(status=Status.ON_TRACK, completion=None, forecast_completion=None),
        id="guardrail-only-holding",
    ),
    pytest.param(
        [REFUND],
        [],
        21,
        dict(status=Status.NO_DATA, completion=None, forecast_completion=None),
        id="guardrail-only-no-data",
    ),
    pytest.param(
        [SALES],
        [ci("K1", -3, sales=5), ci("K1", 14, sales=20), ci("K1", 30, sales=90)],
        21,
        # Day -3 (before the cycle) and day 30 (after as_of) do not count as check-ins in the cycle;
        # points (0,0),(14,20): at 92: 920/7 -> 9.2/7, capped at 1 in the KR's mean.
        dict(checkins_in_cycle=1, forecast_completion=1.0),
        id="checkins-in-cycle",
    ),
]


@pytest.mark.parametrize(("measures", "checkins", "as_of", "expected"), KR_CASES)
def test_kr_progress(
    measures: list[Measure], checkins: list[Checkin], as_of: float, expected: dict[str, Any]
) -> None:
    """A KR's completion, forecast and status."""
    result = kr_progress(
        kr=kr("K1", *measures),
        checkins=[ci("K2", 12, sales=1000.0), *checkins],
        cycle=CYCLE,
        objective_deadline=None,
        as_of=day(as_of),
    )
    assert [m.measure for m in result.measures] == measures
    assert_fields(result, expected)
    in_time = [c for c in checkins if c.at <= day(as_of)]
    assert result.last_checkin is (in_time[-1] if in_time else None)


# --------------------------------------------------------------------------- objectives

REVENUE = target(name="revenue", baseline=0.0, goal=50.0, unit="10k EUR")


def objective(*paths: StrategicPath, headline: Measure | None = REVENUE) -> Objective:
    """An objective O1 with this headline and these paths."""
    return Objective(
        code="O1", title="O1", owner="boss", measures=(headline,) if headline else (), paths=paths
    )


def path(code: str, priority: int | None, *krs: KeyResult) -> StrategicPath:
    """A strategic path."""
    return StrategicPath(code=code, title=code, priority=priority, krs=krs)


TWO_PATHS = objective(path("P2", 2, kr("K2", target(name="leads"))), path("P1", 1, kr("K1", SALES)))
# K1: (0,0),(46,30) -> 60 at 92: completion 0.3, forecast 0.6. K2: (0,0),(46,50) -> 100: 0.5, 1.0.
KR_CHECKINS = [ci("K1", 46, sales=30), ci("K2", 46, leads=50)]


def test_objective_uses_headline_when_it_has_checkins() -> None:
    """Headline checked in: its completion, forecast and gap are the objective's."""
    result = objective_progress(
        objective=TWO_PATHS, checkins=[*KR_CHECKINS, ci("O1", 46, revenue=17.5)], cycle=CYCLE, as_of=day(50)
    )
    # Headline (0,0),(46,17.5) -> 35 at 92: completion 17.5/50 = 0.35, forecast 35/50 = 0.7, gap 50-35 = 15.
    assert_fields(result, dict(completion=0.35, forecast_completion=0.7, gap=15.0, status=Status.OFF_TRACK))
    assert result.headline is not None and result.headline.points == 1
    assert [k.kr.code for k in result.krs] == ["K1", "K2"]  # P1 before P2
    assert result.main_risk is not None and result.main_risk.kr.code == "K1"  # 0.6 < 1.0


def test_objective_falls_back_to_kr_mean() -> None:
    """No headline check-in: the mean over KRs, and no amount claimed in the headline's unit."""
    result = objective_progress(objective=TWO_PATHS, checkins=KR_CHECKINS, cycle=CYCLE, as_of=day(50))
    # completion (0.3 + 0.5)/2 = 0.4; forecast (0.6 + 1.0)/2 = 0.8 -> at risk by the mean, but K1 is off track
    # (0.6) and the objective is no better than its worst KR: off track, K1 its main risk. The headline has no
    # check-in, so there is no forecast of it and no gap in EUR.
    assert_fields(result, dict(completion=0.4, forecast_completion=0.8, gap=None, status=Status.OFF_TRACK))
    assert result.main_risk is not None and result.main_risk.kr.code == "K1"
    assert result.headline is not None and result.headline.points == 0
    assert result.uses_headline is False


def test_objective_headline_use_is_reported() -> None:
    """The digest must know whether the numbers are the headline's, to name it or not."""
    result = objective_progress(
        objective=TWO_PATHS, checkins=[*KR_CHECKINS, ci("O1", 46, revenue=17.5)], cycle=CYCLE, as_of=day(50)
    )
    assert result.uses_headline is True


def test_objective_done_by_headline() -> None:
    """Headline reached and completion >= 100% with every KR on track: done; a KR off track keeps it off track."""
    on_track = [ci("K1", 46, sales=50), ci("K2", 46, leads=50)]
    result = objective_progress(
        objective=TWO_PATHS, checkins=[*on_track, ci("O1", 46, revenue=50)], cycle=CYCLE, as_of=day(50)
    )
    # completion 50/50 = 1.0, headline reached.
    assert_fields(result, dict(completion=1.0, status=Status.DONE, gap=None))
    lagging = objective_progress(
        objective=TWO_PATHS, checkins=[*KR_CHECKINS, ci("O1", 46, revenue=50)], cycle=CYCLE, as_of=day(50)
    )
    assert_fields(lagging, dict(completion=1.0, status=Status.OFF_TRACK, gap=None))  # K1 forecast 60%
    assert lagging.main_risk is not None and lagging.main_risk.kr.code == "K1"


def test_objective_without_data() -> None:
    """Nothing reported anywhere: not reported — no completion, no forecast, no gap, no main risk."""
    result = objective_progress(objective=TWO_PATHS, checkins=[], cycle=CYCLE, as_of=day(50))
    assert_fields(result, dict(completion=None, forecast_completion=None, gap=None, status=Status.NO_DATA))
    assert result.main_risk is None


def test_objective_without_headline() -> None:
    """An objective without measures uses its KRs and has no gap."""
    result = objective_progress(
        objective=objective(*TWO_PATHS.paths, headline=None), checkins=KR_CHECKINS, cycle=CYCLE, as_of=day(50)
    )
    assert result.headline is None
    assert_fields(result, dict(completion=0.4, forecast_completion=0.8, gap=None, status=Status.OFF_TRACK))


def _risk(obj: Objective, checkins: list[Checkin]) -> KrProgress | None:
    return objective_progress(objective=obj, checkins=checkins, cycle=CYCLE, as_of=day(50)).main_risk


def test_main_risk_tie_goes_to_higher_priority_path() -> None:
    """Equal lowest forecasts: the KR of the higher-priority path (earlier in the ordered list)."""
    obj = objective(
        path("PA", 2, kr("KA", SALES)),
        path("PN", None, kr("KN", SALES)),
        path("PB", 1, kr("KB", SALES), kr("KOK", SALES)),
        path("PX", 3, kr("KX", SALES)),  # no check-in: no forecast, never the main risk
    )
    # KA, KN, KB: (46,30) -> 0.6 each; KOK: (46,50) -> 1.0.
    tied = [ci(code, 46, sales=30) for code in ("KA", "KN", "KB")] + [ci("KOK", 46, sales=50)]
    result = objective_progress(objective=obj, checkins=tied, cycle=CYCLE, as_of=day(50))
    assert [k.kr.code for k in result.krs] == ["KB", "KOK", "KA", "KX", "KN"]
    assert result.main_risk is not None and result.main_risk.kr.code == "KB"
    # A strictly lower forecast wins whatever its path: KN (46,20) -> 40 at 92 -> 0.4.
    lower = [c for c in tied if c.code != "KN"] + [ci("KN", 46, sales=20)]
    risk = _risk(obj, lower)
    assert risk is not None and risk.kr.code == "KN"
    assert risk.forecast_completion == approx(0.4)


def test_ordered_paths() -> None:
    """Priority ascending, None last, ties in file order."""
    paths = [path("a", None), path("b", 2), path("c", 1), path("d", 2)]
    obj = objective(*paths)
    assert [p.code for p in ordered_paths(objective=obj)] == ["c", "b", "d", "a"]


# --------------------------------------------------------------------------- the workspace


def _okrs(*objectives: Objective) -> Okrs:
    return Okrs(workspace=Workspace(name="w"), people={}, cycle=CYCLE, objectives=objectives)


def test_okr_progress_in_file_order_with_mixed_checkins() -> None:
    """Objectives in file order; check-ins of any code, including unknown ones, are sorted out inside."""
    second = Objective(
        code="O2",
        title="O2",
        owner="boss",
        measures=(target(name="users"),),
        paths=(),
        deadline=date(2026, 12, 30),
    )
    checkins = [ci("O2", 21, users=20), ci("ZZ", 3, users=99), *reversed(KR_CHECKINS), ci("O2", 7, users=10)]
    first, other = okr_progress(okrs=_okrs(TWO_PATHS, second), checkins=checkins, as_of=day(50))
    assert (first.objective.code, other.objective.code) == ("O1", "O2")
    assert first.forecast_completion == approx(0.8)  # as in test_objective_falls_back_to_kr_mean
    # O2 headline (7,10),(21,20): slope 10/14; deadline 2026-12-30 -> x = 91: 20 + 5/7*70 = 70 -> 0.7, gap 30.
    assert_fields(other, dict(completion=0.2, forecast_completion=0.7, status=Status.OFF_TRACK, gap=30.0))
    assert other.main_risk is None and other.krs == ()


def test_okr_progress_scales_to_a_thousand_krs() -> None:
    """1,000 KRs × 3 measures × 13 weekly check-ins complete (no timing assertion)."""
    measures = (target(name="a"), target(name="b", baseline=100.0, goal=50.0), at_most(name="c"))
    objectives = tuple(
        objective(
            *(path(f"P{o}-{p}", p, *(kr(f"K{o}-{p}-{k}", *measures) for k in range(10))) for p in range(10))
        )
        for o in range(10)
    )
    codes = [k.code for obj in objectives for k in obj.krs()]
    checkins = [
        ci(code, 7 * week, a=5.0 * week, b=100.0 - 3 * week, c=1.0 + week / 10)
        for code in codes
        for week in range(13)
    ]
    result = okr_progress(okrs=_okrs(*objectives), checkins=checkins, as_of=day(91))
    krs = [k for o in result for k in o.krs]
    assert len(krs) == 1000 and len(checkins) == 13_000
    assert all(len(k.measures) == 3 and k.checkins_in_cycle == 13 for k in krs)
