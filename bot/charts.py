"""Self-contained SVG charts for the HTML report: numbers become coordinates here, words come from the catalog."""

from __future__ import annotations

from datetime import datetime

from markupsafe import Markup, escape

from bot.core.burnup import Burnup
from bot.core.values import format_value
from bot.i18n import translate

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 36


def burnup_svg(*, chart: Burnup, lang: str) -> Markup:
    """A burn-up chart: the target line from baseline to target, the actual check-ins, the forecast to the deadline."""
    span = (chart.deadline - chart.start).total_seconds() or 1.0
    values = [chart.baseline, chart.target, *(v for _, v in chart.points)]
    if chart.forecast_value is not None:
        values.append(chart.forecast_value)
    low, high = min(values), max(values)
    if high == low:
        high = low + 1.0

    def x(moment: datetime) -> float:
        share = (moment - chart.start).total_seconds() / span
        return LEFT + max(0.0, min(1.0, share)) * (WIDTH - LEFT - RIGHT)

    def y(value: float) -> float:
        return TOP + (1 - (value - low) / (high - low)) * (HEIGHT - TOP - BOTTOM)

    def label(value: float) -> str:
        return str(escape(format_value(number=value, unit=chart.unit, lang=lang, digits=3)))

    actual = " ".join(f"{x(at):.1f},{y(v):.1f}" for at, v in ((chart.start, chart.baseline), *chart.points))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
        f'aria-label="{escape(translate("report.chart_label", lang=lang, code=chart.code, measure=chart.measure))}">',
        f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - RIGHT}" y2="{HEIGHT - BOTTOM}" class="axis"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{HEIGHT - BOTTOM}" class="axis"/>',
        f'<text x="{LEFT - 6}" y="{y(chart.target) + 4:.1f}" text-anchor="end" class="tick">{label(chart.target)}</text>',
        f'<text x="{LEFT - 6}" y="{y(chart.baseline) + 4:.1f}" text-anchor="end" class="tick">{label(chart.baseline)}</text>',
        f'<line x1="{x(chart.start):.1f}" y1="{y(chart.baseline):.1f}" x2="{x(chart.deadline):.1f}" '
        f'y2="{y(chart.target):.1f}" class="target"/>',
        f'<polyline points="{actual}" class="actual"/>',
    ]
    parts += [f'<circle cx="{x(at):.1f}" cy="{y(v):.1f}" r="3" class="dot"/>' for at, v in chart.points]
    if chart.forecast_value is not None and chart.points:
        last_at, last_value = chart.points[-1]
        parts.append(
            f'<line x1="{x(last_at):.1f}" y1="{y(last_value):.1f}" x2="{x(chart.deadline):.1f}" '
            f'y2="{y(chart.forecast_value):.1f}" class="forecast"/>'
        )
        parts.append(
            f'<text x="{x(chart.deadline) - 4:.1f}" y="{y(chart.forecast_value) - 6:.1f}" text-anchor="end" '
            f'class="tick">{label(chart.forecast_value)}</text>'
        )
    parts.append(
        f'<line x1="{x(chart.as_of):.1f}" y1="{TOP}" x2="{x(chart.as_of):.1f}" y2="{HEIGHT - BOTTOM}" class="today"/>'
    )
    legend = [("target", "report.legend_target"), ("actual", "report.legend_actual"), ("forecast", "report.legend_forecast")]
    for index, (css, key) in enumerate(legend):
        left = LEFT + index * 180
        parts.append(f'<line x1="{left}" y1="{HEIGHT - 10}" x2="{left + 24}" y2="{HEIGHT - 10}" class="{css}"/>')
        parts.append(f'<text x="{left + 30}" y="{HEIGHT - 6}" class="tick">{escape(translate(key, lang=lang))}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
