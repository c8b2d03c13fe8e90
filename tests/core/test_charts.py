"""Charts: the burn-up SVG of the report and the matrix PNG for platforms that show images."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

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
