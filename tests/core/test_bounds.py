"""CONTRACT §7 bounds: `min:`/`max:` hold a forecast and its range (a `%` measure is 0–100 unless it says otherwise);
the OKR file and the lint refuse bounds that do not hold the measure's own numbers, in zh and en."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from pytest import approx

from bot.core.bounds import bounds_problem
from bot.core.lint import lint_document
from bot.core.model import Checkin, Cycle, KeyResult, Measure, MeasureKind
from bot.core.progress import kr_progress, measure_progress
from bot.i18n import translate
from bot.okrfile import MeasureSpec

CYCLE = Cycle(name="2026-Q4", start=date(2026, 10, 1), end=date(2026, 12, 31))
DAY0 = datetime(2026, 10, 1, tzinfo=UTC)


def day(n: float) -> datetime:
    """The moment n days after the cycle's start."""
    return DAY0 + timedelta(days=n)


def read(measure: Measure, points: list[tuple[float, float]], as_of: float) -> Any:
    """The measure of K1 with check-ins (x, value) read at day `as_of`."""
    rows = [Checkin(code="K1", person="ann", at=day(x), values={measure.name: v}) for x, v in points]
    return measure_progress(measure=measure, checkins=rows, code="K1", cycle=CYCLE, objective_deadline=None,
                            as_of=day(as_of))


COVERAGE = Measure(name="coverage", kind=MeasureKind.TARGET, unit="%", baseline=60.0, target=100.0)


def test_a_percent_measure_never_forecasts_past_100() -> None:
    """Coverage already at 100% on a rising line: the line reads 121% at the deadline, the forecast stays 100%."""
    result = read(COVERAGE, [(7, 80.0), (14, 90.0), (21, 100.0)], 22)
    # slope 10/7 per day: at 92 the line reads 100 + 71·10/7 = 201.4%; held at 100% -> completion 100%, not 353%
    assert result.forecast_value == approx(100.0)
    assert result.forecast_completion == approx(1.0)
    assert result.high_value == approx(100.0) and result.high_completion == approx(1.0)
    assert result.gap is None


def test_declared_bounds_hold_the_forecast_and_its_range() -> None:
    """A count with min 0: a falling line never forecasts fewer than 0 orders; its range's low end stops there."""
    orders = Measure(name="orders", kind=MeasureKind.TARGET, unit="orders", baseline=50.0, target=500.0, minimum=0.0)
    result = read(orders, [(7, 60.0), (14, 40.0), (21, 30.0)], 22)
    assert result.forecast_value == approx(0.0)
    assert result.low_value == approx(0.0)
    assert result.forecast_completion == approx(-50 / 450)  # (0 − 50)/450: below the baseline, as it is
    unbounded = read(Measure(name="orders", kind=MeasureKind.TARGET, unit="orders", baseline=50.0, target=500.0),
                     [(7, 60.0), (14, 40.0), (21, 30.0)], 22)
    assert unbounded.forecast_value < 0  # a count without min: no bound is invented


def test_declared_bounds_replace_the_percent_default() -> None:
    """A `%` measure that declares max 300 may be forecast above 100%."""
    roas = Measure(name="roas", kind=MeasureKind.TARGET, unit="%", baseline=100.0, target=250.0, maximum=300.0)
    result = read(roas, [(7, 110.0), (14, 140.0), (21, 170.0)], 22)
    assert result.forecast_value == approx(300.0)  # the line reads 170 + 71·30/7 = 474%: held at 300%


def test_the_kr_of_the_issue_is_not_on_track_while_a_measure_lags() -> None:
    """KR4: coverage at 100% (forecast held at 100%), repeat rate forecast at 72%: the KR is at risk, never
    "on track, forecast 113%"."""
    repeat = Measure(name="repeat", kind=MeasureKind.TARGET, unit="%", baseline=25.0, target=35.0)
    kr = KeyResult(code="K1", title="K1", owner="ann", measures=(COVERAGE, repeat))
    rows = [Checkin(code="K1", person="ann", at=day(x), values={"coverage": c, "repeat": r})
            for x, c, r in ((7, 80.0, 25.5), (14, 90.0, 26.0), (21, 100.0, 26.5))]
    result = kr_progress(kr=kr, checkins=rows, cycle=CYCLE, objective_deadline=None, as_of=day(22))
    coverage, repeat_rate = result.measures
    assert coverage.forecast_completion == approx(1.0)
    assert repeat_rate.forecast_completion < 0.8
    assert result.forecast_completion == approx((1.0 + repeat_rate.forecast_completion) / 2)
    assert result.status.value in ("at_risk", "off_track")


BOUND_CASES = [
    pytest.param(dict(unit="%", minimum=None, maximum=None, numbers={"baseline": 60.0, "target": 100.0}), None,
                 id="percent-within-0-100"),
    pytest.param(dict(unit="%", minimum=None, maximum=None, numbers={"baseline": 100.0, "target": 150.0}),
                 "bounds_outside", id="percent-target-150-needs-bounds"),
    pytest.param(dict(unit="%", minimum=0.0, maximum=300.0, numbers={"baseline": 100.0, "target": 150.0}), None,
                 id="percent-with-declared-max"),
    pytest.param(dict(unit="orders", minimum=10.0, maximum=5.0, numbers={"baseline": 6.0, "target": 8.0}),
                 "bounds_order", id="min-not-below-max"),
    pytest.param(dict(unit="EUR", minimum=0.0, maximum=None, numbers={"at_most": -5.0}), "bounds_outside",
                 id="limit-below-min"),
    pytest.param(dict(unit="orders", minimum=None, maximum=None, numbers={"baseline": -5.0, "target": 8.0}), None,
                 id="no-bounds-nothing-to-hold"),
]


@pytest.mark.parametrize(("args", "problem"), BOUND_CASES)
def test_bounds_hold_the_measures_own_numbers(args: dict[str, Any], problem: str | None) -> None:
    """Bounds that cannot hold the measure's baseline, target or limit are refused, by name."""
    found = bounds_problem(milestone=False, **args)
    assert (found[0] if found else None) == problem


def test_a_milestone_takes_no_bounds() -> None:
    """min/max mean nothing on done-or-not."""
    assert bounds_problem(unit=None, minimum=0.0, maximum=None, numbers={}, milestone=True) == ("bounds_milestone", {})


def test_the_okr_file_reads_min_and_max() -> None:
    """`min:`/`max:` in the file reach the measure; a bad pair is refused with the catalog's words."""
    spec = MeasureSpec.model_validate({"name": "ROAS", "unit": "%", "baseline": 100, "target": 250, "max": 300})
    assert spec.to_domain().bounds == (None, 300.0)
    with pytest.raises(ValidationError) as refused:
        MeasureSpec.model_validate({"name": "ROAS", "unit": "%", "baseline": 100, "target": 250})
    (error,) = refused.value.errors()
    assert error["type"] == "okr_bounds_outside"
    words = error["ctx"]
    en = translate("okrfile.problem." + error["msg"], lang="en", **words)
    zh = translate("okrfile.problem." + error["msg"], lang="zh", **words)
    assert "ROAS" in en and "250%" in en and "0–100%" in en and "max:" in en
    assert "ROAS" in zh and "250%" in zh and "0–100%" in zh and "max:" in zh


def test_the_lint_names_bounds_that_do_not_hold() -> None:
    """`krbot lint` fails an M finding for bounds that cannot hold the target, in zh and en."""
    document = {
        "cycle": {"end": "2026-12-31"},
        "objectives": [{
            "code": "O1", "title": "Germany Amazon GMV", "strategy": "Europe", "deadline": "2026-12-31",
            "measures": [{"name": "GMV", "unit": "EUR", "baseline": 0, "target": 500000, "min": 0, "max": 100000}],
        }],
    }
    (finding,) = [f for f in lint_document(data=document, terms=()) if f.key == "lint.m.bounds"]
    assert finding.fails and finding.letter == "M"
    en = translate(finding.key, lang="en", **finding.params)
    zh = translate(finding.key, lang="zh", **finding.params)
    assert "GMV" in en and "target" in en and "max €100k" in en, en
    assert "GMV" in zh and "target" in zh and "max 10万欧" in zh, zh
