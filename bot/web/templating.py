"""The web pages' Jinja environment (templates/web, autoescaped) and the one way a route answers with a page."""

from __future__ import annotations

from datetime import date, datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import HTMLResponse

from bot.charts import burnup_svg
from bot.i18n import translate
from bot.render import inline, percent_words, value_words
from bot.render_lines import day_words
from bot.resources import resource_dir
from bot.web.auth import csrf_token

LANGUAGES = ("zh", "en")


@cache
def environment() -> Environment:
    """templates/web with autoescape on every template: user text is escaped wherever it is written."""
    env = Environment(
        loader=FileSystemLoader(str(resource_dir(name="templates") / "web")),
        undefined=StrictUndefined,
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(percent=percent_words, u=inline,
                       chart_svg=lambda chart, lang: burnup_svg(chart=chart, lang=lang))
    return env


def helpers(*, lang: str, tz: str) -> dict[str, Any]:
    """The words and number helpers of one language: t(key), value(number, unit), day(moment), when(moment)."""

    def t(key: str, /, **params: Any) -> str:
        return translate(key, lang=lang, **params)

    def value(number: float | None, unit: str | None, digits: int | None = 3) -> str:
        return value_words(number, unit, lang, digits)

    def day(moment: date | datetime | None) -> str:
        return day_words(moment, lang, tz)

    def when(moment: datetime | None) -> str:
        return "—" if moment is None else day_words(moment, lang, tz) + " " + moment.astimezone(
            ZoneInfo(tz)).strftime("%H:%M")

    return {"t": t, "value": value, "day": day, "when": when, "lang": lang, "languages": LANGUAGES}


def page(
    request: Request, *, template: str, lang: str, tz: str = "UTC", status: int = 200, **data: Any
) -> HTMLResponse:
    """A whole page in the reader's language, with the session's CSRF token and the path for the language switch."""
    body = environment().get_template(template).render(
        **helpers(lang=lang, tz=tz), csrf=csrf_token(request), here=request.url.path, **data
    )
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})
