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
    values += [v for v in (chart.low_value, chart.high_value) if v is not None]
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

    origin = ((chart.start, chart.baseline),) if chart.from_baseline else ()
    actual = " ".join(f"{x(at):.1f},{y(v):.1f}" for at, v in (*origin, *chart.points))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
        f'aria-label="{escape(translate("report.chart_label", lang=lang, code=chart.code, measure=chart.measure))}">',
        f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - RIGHT}" y2="{HEIGHT - BOTTOM}" class="axis"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{HEIGHT - BOTTOM}" class="axis"/>',
        f'<text x="{LEFT - 6}" y="{y(chart.target) + 4:.1f}" text-anchor="end" class="tick">{label(chart.target)}</text>',
        f'<text x="{LEFT - 6}" y="{y(chart.baseline) + 4:.1f}" text-anchor="end" class="tick">{label(chart.baseline)}</text>',
        f'<line x1="{x(chart.start):.1f}" y1="{y(chart.baseline):.1f}" x2="{x(chart.deadline):.1f}" '
        f'y2="{y(chart.target):.1f}" class="target" data-value="{chart.target!r}"/>',
        f'<polyline points="{actual}" class="actual"/>',
    ]
    parts += [  # one dot per day (its latest number), named by its day for readers of the SVG
        f'<circle cx="{x(at):.1f}" cy="{y(v):.1f}" r="3" class="dot" data-day="{at.date().isoformat()}" '
        f'data-value="{v!r}"/>'
        for at, v in chart.points
    ]
    if chart.final and chart.forecast_value is not None:  # after the deadline: the result, no forecast line
        parts.append(
            f'<circle cx="{x(chart.deadline):.1f}" cy="{y(chart.forecast_value):.1f}" r="5" class="result"/>'
            f'<text x="{x(chart.deadline) - 8:.1f}" y="{y(chart.forecast_value) - 8:.1f}" text-anchor="end" '
            f'class="tick">{label(chart.forecast_value)}</text>'
        )
    elif chart.forecast_value is not None and chart.points:
        last_at, last_value = chart.points[-1]
        if chart.low_value is not None and chart.high_value is not None:
            parts.append(
                f'<polygon points="{x(last_at):.1f},{y(last_value):.1f} {x(chart.deadline):.1f},{y(chart.high_value):.1f} '
                f'{x(chart.deadline):.1f},{y(chart.low_value):.1f}" class="band"/>'
            )
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


FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc",
)
QUADRANTS = ("lh", "hh", "ll", "hl")  # reading order on the chart: top-left, top-right, bottom-left, bottom-right


def chart_font_path() -> str | None:
    """A font that draws both Chinese and Latin text, when this machine has one (Debian: fonts-wqy-microhei)."""
    from pathlib import Path

    return next((path for path in FONT_CANDIDATES if Path(path).exists()), None)


def matrix_png(*, quadrants: dict[str, list[dict[str, str]]], lang: str, size: int = 640) -> tuple[bytes, dict[str, tuple[int, int, int, int]]] | None:
    """The control × impact matrix as a PNG, and each KR code's box on it; None where no CJK-capable font exists."""
    import io

    from PIL import Image, ImageDraw, ImageFont

    font_path = chart_font_path()
    if font_path is None:
        return None
    margin, cell = 48, (size - 48 - 16) // 2
    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)
    title = ImageFont.truetype(font_path, 15)
    body = ImageFont.truetype(font_path, 14)
    fills = {"hh": "#e6f4ea", "lh": "#fff4e5", "hl": "#e8f0fe", "ll": "#f1f3f4"}
    boxes: dict[str, tuple[int, int, int, int]] = {}
    for index, cell_key in enumerate(QUADRANTS):
        left = margin + (index % 2) * cell
        top = 16 + (index // 2) * cell
        draw.rectangle((left, top, left + cell - 4, top + cell - 4), fill=fills[cell_key], outline="#c0c6cf")
        draw.text((left + 10, top + 8), translate(f"matrix.{cell_key}", lang=lang), font=title, fill="#1d2430")
        for row, kr in enumerate(quadrants.get(cell_key, [])[:9]):
            y = top + 36 + row * 24
            label = kr["code"] + " " + kr.get("title", "")
            while label and draw.textlength(label, font=body) > cell - 32:
                label = label[:-2] + "…"
            draw.text((left + 14, y), label, font=body, fill="#1f5fbf")
            boxes[kr["code"]] = (left, top, left + cell - 4, top + cell - 4)
    draw.text((margin, size - 28), translate("matrix.x_axis", lang=lang), font=body, fill="#5b6573")
    axis = Image.new("RGBA", (cell * 2, 24), (255, 255, 255, 0))
    ImageDraw.Draw(axis).text((0, 0), translate("matrix.y_axis", lang=lang), font=body, fill="#5b6573")
    image.paste(axis.rotate(90, expand=True), (8, 16), axis.rotate(90, expand=True))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue(), boxes
