"""Turns a Digest or a reply into words: Jinja templates per surface, the catalog per language."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import date, datetime
from functools import cache
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from bot.charts import burnup_svg
from bot.core.burnup import Burnup
from bot.core.digest import Digest
from bot.core.text import clean_text
from bot.i18n import percent_range, translate
from bot.render_lines import DigestLines, day_words, percent_words, value_words
from bot.resources import resource_dir

day_text = day_words  # a date in the language's short form, for the chat surfaces
FORMATS = ("text", "markdown", "html")
_MENTION = re.compile(r"@(channel|here|all|everyone)\b", re.IGNORECASE)
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+|~])")
MAX_USER_TEXT = 280
# The report's second wall behind escaping: no script, no remote load; inline styles and data: images only.
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def inline(text: object, /, limit: int = MAX_USER_TEXT) -> str:
    """User text on one line: newlines folded, mass mentions made inert, long text shortened."""
    folded = " ".join(clean_text(text=str(text or "")).split())  # a lone surrogate would break a card's UTF-8 JSON
    folded = _MENTION.sub(lambda m: "@\u200b" + m.group(1), folded)
    return folded if len(folded) <= limit else folded[: limit - 1] + "…"


def markdown_text(text: object, /, limit: int = MAX_USER_TEXT) -> str:
    """User text made safe for Markdown: one line, specials escaped, mentions inert."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", inline(text, limit))


def _percent_range(low: float, high: float) -> str:
    """A range of completions as whole percents, the sign written once: "85–101%"."""
    return percent_range(low=low, high=high)


@cache
def environment() -> Environment:
    """The one Jinja environment over templates/ (no autoescape: each surface escapes user text itself)."""
    env = Environment(
        loader=FileSystemLoader(str(resource_dir(name="templates"))),
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["inline"] = inline
    env.filters["md"] = markdown_text
    env.globals["percent"] = percent_words
    env.globals["percent_range"] = _percent_range
    env.globals["inline"] = inline
    env.globals["md"] = markdown_text
    return env


def _helpers(lang: str, tz: str | None, locale: str | None = None) -> dict[str, Any]:
    def t(key: str, /, **params: Any) -> str:
        return translate(key, lang=lang, locale=locale, **params)

    def value(number: float | None, unit: str | None, digits: int | None = 3) -> str:
        return value_words(number, unit, lang, digits, locale)

    def percent(ratio: float | None) -> str:
        return percent_words(ratio, locale)

    def range_words(low: float, high: float) -> str:
        return percent_range(low=low, high=high, locale=locale)

    def day(moment: date | datetime | None) -> str:
        return day_words(moment, lang, tz)

    return {"t": t, "value": value, "day": day, "lang": lang, "percent": percent, "percent_range": range_words}


def surface_helpers(
    *, lang: str, tz: str, escape: Callable[[object], str], locale: str | None = None
) -> dict[str, Any]:
    """The digest helpers (t, value, percent, day) of one language and locale, with a surface's own escape."""
    return {**_helpers(lang, tz, locale), "u": escape}


def line_renderer(*, digest: Digest, lang: str, escape: Callable[[object], str]) -> Callable[[str, Any], str]:
    """One digest sentence at a time (conclusion, kr, measure, ask, change), as chat surfaces lay them out."""
    lines = DigestLines(as_of=digest.as_of, lang=lang, tz=digest.timezone, locale=digest.locale)

    def line(what: str, item: Any) -> str:
        return getattr(lines, what)(item, escape).strip()

    return line


def render_digest(*, digest: Digest, fmt: str = "text", lang: str | None = None) -> str:
    """The digest as `text` or `markdown`, in `lang` (default: the workspace language)."""
    language = lang or digest.language
    template = environment().get_template(f"digest.{fmt}.j2")
    lines = DigestLines(as_of=digest.as_of, lang=language, tz=digest.timezone, locale=digest.locale)
    helpers = _helpers(language, digest.timezone, digest.locale)
    return template.render(d=digest, lines=lines, **helpers).rstrip() + "\n"


def render_report(*, digest: Digest, charts: Sequence[Burnup] = (), lang: str | None = None) -> str:
    """The one-page HTML report: title and conclusions first, the rest and the burn-up charts as an appendix."""
    language = lang or digest.language

    def chart_svg(chart: Burnup) -> str:
        return burnup_svg(chart=chart, lang=language)

    template = environment().get_template("digest.html.j2")
    helpers = _helpers(language, digest.timezone, digest.locale)
    # The shared sentences are rendered as plain text (never Markup), so that this autoescaped page escapes them whole.
    line = line_renderer(digest=digest, lang=language, escape=inline)
    return template.render(d=digest, charts=list(charts), chart_svg=chart_svg, line=line, csp=REPORT_CSP, **helpers)


def render_template(*, name: str, lang: str, tz: str | None = None, locale: str | None = None, **data: Any) -> str:
    """Any template under templates/ with the language helpers (numbers in the reader's `locale`)."""
    return environment().get_template(name).render(**_helpers(lang, tz, locale), **data).rstrip()


def render_reply(*, reply: Any, fmt: str = "text") -> str:
    """A service's reply as text for the terminal or a chat message; digests follow their header."""
    head = translate(reply.key, lang=reply.lang, locale=reply.locale, **reply.params)
    if reply.notices:
        names = ", ".join(dict.fromkeys(notice.name or notice.person for notice in reply.notices))
        head += "\n" + translate("reply.told", lang=reply.lang, names=names)
    if reply.digest is None or reply.key == "reply.status_kr":
        return head
    if reply.shows == "digest":
        return head + "\n\n" + render_digest(digest=reply.digest, fmt=fmt, lang=reply.lang)
    only = reply.params["o"].code if reply.key == "reply.status_objective" else None
    locale = reply.locale or reply.digest.locale
    lines = DigestLines(as_of=reply.digest.as_of, lang=reply.lang, tz=reply.digest.timezone, locale=locale)
    body = render_template(
        name="status.text.j2", lang=reply.lang, tz=reply.digest.timezone, locale=locale, d=reply.digest, only=only,
        lines=lines,
    )
    return body if only else head + "\n" + body
