"""Charts: the burn-up SVG of the report and the matrix PNG for platforms that show images."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import pytest

from bot.charts import burnup_svg, chart_font_path, matrix_png
from bot.core.burnup import Burnup

START = datetime(2026, 10, 1, tzinfo=UTC)


def test_burnup_svg_places_target_actual_and_forecast() -> None:
    """The target line runs from baseline (bottom left) to target (top right); the forecast starts at the last point."""
    chart = Burnup(
        code="O1", measure="GMV <b>", unit="EUR", start=START, deadline=START + timedelta(days=92),
        baseline=0.0, target=500_000.0, points=((START + timedelta(days=46), 175_000.0),),
        as_of=START + timedelta(days=50), forecast_value=350_000.0,
    )
    svg = str(burnup_svg(chart=chart, lang="en"))
    assert 'class="target"' in svg and 'class="actual"' in svg and 'class="forecast"' in svg
    assert "€500k" in svg and "€350k" in svg
    assert "GMV <b>" not in svg and "GMV &lt;b&gt;" in svg
    # x of the last point is half-way along the time axis: LEFT + 0.5 × (WIDTH − LEFT − RIGHT) = 64 + 280 = 344
    assert 'cx="344.0"' in svg


@pytest.mark.skipif(chart_font_path() is None, reason="no CJK-capable font here (.ci/run installs fonts-wqy-microhei)")
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_matrix_png_puts_each_kr_in_its_quadrant(lang: str) -> None:
    """High control, high impact top right; low control, high impact top left; the rest below."""
    from PIL import Image

    quadrants = {
        "hh": [{"code": "KR3", "title": "国内仓备货600万件"}],
        "lh": [{"code": "KR1", "title": "TikTok Shop"}],
        "hl": [{"code": "KR2", "title": "SP广告"}],
        "ll": [{"code": "KR4", "title": "动态调价"}],
    }
    result = matrix_png(quadrants=quadrants, lang=lang)
    assert result is not None
    png, boxes = result
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size == (640, 640)
    left, top = boxes["KR3"][:2]
    assert boxes["KR1"][0] < left and boxes["KR1"][1] == top  # same row, to the left
    assert boxes["KR2"][0] == left and boxes["KR2"][1] > top  # same column, below
    assert boxes["KR4"][0] < left and boxes["KR4"][1] > top


def test_burnups_draw_the_daily_points_up_to_the_deadline_with_the_goals_in_force() -> None:
    """The chart's points are the forecast's: a same-day correction replaces the typo, a number reported after the
    deadline is left out (not drawn at the deadline), and a later goal change does not reach back."""
    from bot.core.burnup import burnups
    from bot.core.model import Checkin, Cycle, GoalChange, Measure, MeasureKind, Objective, Okrs, Workspace

    gmv = Measure(name="GMV", kind=MeasureKind.TARGET, baseline=0.0, target=500.0, unit="EUR")
    okrs = Okrs(
        workspace=Workspace(name="w"), people={},
        cycle=Cycle(name="Q4", start=date(2026, 10, 1), end=date(2026, 12, 31)),
        objectives=(
            Objective(code="O1", title="O1", owner="lin", measures=(gmv,), paths=(), deadline=date(2026, 12, 31)),
        ),
    )

    def at(month: int, day: int, hour: int, minute: int = 0, year: int = 2026) -> datetime:
        return datetime(year, month, day, hour, minute, tzinfo=UTC)

    checkins = [
        Checkin(code="O1", person="lin", at=at(10, 10, 9), values={"GMV": 100.0}),
        Checkin(code="O1", person="lin", at=at(10, 20, 9), values={"GMV": 1500.0}),  # the typo
        Checkin(code="O1", person="lin", at=at(10, 20, 9, 2), values={"GMV": 150.0}),  # corrected two minutes later
        Checkin(code="O1", person="lin", at=at(1, 3, 9, year=2027), values={"GMV": 520.0}),  # after the deadline
    ]
    changes = [GoalChange(code="O1", measure="GMV", field="target", old="500", new="600", reason="r", person="lin",
                          at=at(11, 25, 10))]
    stored = replace_target(okrs, 600.0)  # the tree as stored now; the change log says it was 500 until Nov 25
    before, = burnups(okrs=stored, checkins=checkins, as_of=at(11, 20, 12), changes=changes)
    assert [(moment.date(), value) for moment, value in before.points] == [(date(2026, 10, 10), 100.0),
                                                                          (date(2026, 10, 20), 150.0)]
    assert before.target == 500.0
    after, = burnups(okrs=stored, checkins=checkins, as_of=at(1, 5, 12, year=2027), changes=changes)
    assert [moment.date() for moment, _ in after.points] == [date(2026, 10, 10), date(2026, 10, 20)]
    assert after.target == 600.0 and after.final and all(moment < after.deadline for moment, _ in after.points)
    svg = str(burnup_svg(chart=after, lang="en"))
    assert svg.count('class="dot"') == 2 and "2027-01-03" not in svg


def replace_target(okrs: object, target: float) -> object:
    """The tree as stored after the change: the headline's target is the new one."""
    from dataclasses import replace

    objective = okrs.objectives[0]  # type: ignore[attr-defined]
    measure = replace(objective.measures[0], target=target)
    return replace(okrs, objectives=(replace(objective, measures=(measure,)),))
