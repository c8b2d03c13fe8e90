"""CONTRACT §9 on every surface: each digest number says typed or synced, its age when older than the week, and
"last pull failed: …" beside a failing source — in text, Markdown, HTML, Slack and Feishu, zh and en."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from bot import services
from bot.app import App
from bot.platforms import feishu_cards as cards
from bot.platforms import slack_blocks as blocks
from bot.render import render_digest, render_report
from tests.fakes.hostile import HOSTILE, active_html, evaluated, live_mentions, strings_of, valid_json
from tests.fakes.pulls import AT, synced_with_pull, typed
from tests.fakes.surfaces import said


def _surfaces(app: App) -> dict[str, str]:
    """The digest at AT as every surface shows it, as the text a reader sees, by surface and language."""
    digest, charts = services.compose_report(uow=app.uow, as_of=AT)
    shown: dict[str, str] = {}
    for lang in ("zh", "en"):
        shown[f"text.{lang}"] = render_digest(digest=digest, fmt="text", lang=lang)
        shown[f"markdown.{lang}"] = render_digest(digest=digest, fmt="markdown", lang=lang)
        shown[f"html.{lang}"] = render_report(digest=digest, charts=charts, lang=lang)
        main, thread = blocks.digest_messages(digest=digest, lang=lang)
        shown[f"slack.{lang}"] = "\n".join(strings_of([main, *thread]))
        shown[f"feishu.{lang}"] = "\n".join(strings_of(cards.digest_cards(digest=digest, lang=lang)))
    return shown


def _line(text: str, name: str) -> str:
    """The measure's line on a surface: from its name to the line's end (a newline, or <br> in HTML)."""
    match = re.search(re.escape(name) + r"[:：][^\n]*?(?=<br>|\n|$)", text)
    assert match is not None, f"{name} not shown"
    return match.group(0)


MARKS = {
    "en": {"typed": "· typed", "old": "· typed 10 days ago", "failing": "· synced 3 days ago — last pull failed: ",
           "conclusion": "新客GMV: typed 9 days ago. Source down: 新客转化率 (last pull failed)."},
    "zh": {"typed": "· 手填", "old": "· 10 天前手填", "failing": "· 3 天前同步——最近一次拉取失败：",
           "conclusion": "新客GMV：9 天前手填。数据源异常：新客转化率（最近一次拉取失败）。"},
}


def test_every_surface_says_typed_or_synced_its_age_and_the_failed_pull(example: App) -> None:
    """A fresh typed number says typed (no age), an old one its age, a failing source its age and error — everywhere."""
    typed(example)
    synced_with_pull(example, error="connection refused by the BI database")
    assert said(example, person="lin", text="/kr update O1 新客GMV=5万欧", at=AT - timedelta(days=9)).ok  # the headline
    shown = _surfaces(example)
    for surface, text in shown.items():
        marks = MARKS[surface.rsplit(".", 1)[1]]
        fresh = _line(text, "竞品监控覆盖率")
        assert fresh.endswith(marks["typed"]), (surface, fresh)  # inside the week: no age
        assert _line(text, "ACOS").endswith(marks["old"]), surface
        failing = _line(text, "新客转化率")
        assert marks["failing"] in failing and "connection refused by the BI database" in failing, (surface, failing)
        assert marks["conclusion"] in text, surface  # the headline's age and the failing source, in the conclusion
        # a measure nobody has given a number yet carries no mark
        assert not re.search(r"(typed|synced|手填|同步)", _line(text, "价格响应")), surface


def test_a_source_that_pulls_again_shows_synced_without_age_or_failure(example: App) -> None:
    """Synced 3 days ago with no failure since: "synced", no age (inside the week), no failure, no conclusion note."""
    synced_with_pull(example, error=None, failed=False)
    for surface, text in _surfaces(example).items():
        lang = surface.rsplit(".", 1)[1]
        line = _line(text, "新客转化率")
        assert line.endswith("· synced" if lang == "en" else "· 自动同步"), (surface, line)
        assert "failed" not in text and "拉取失败" not in text and "数据源异常" not in text, surface
        assert "新客GMV: " not in text and "新客GMV：" not in text, surface  # a headline without check-ins: no age


# (NUL and lone surrogates cannot be stored at all: the writer of `source_pulls` cleans them, as for typed text.)
HOSTILE_ERRORS = [pytest.param(text, id=name) for name, text in HOSTILE if name in {
    "script", "img-onerror", "attr-break", "at-channel", "slack-here", "slack-subteam", "feishu-all", "jinja-expr",
    "md-link", "json-quotes", "rtl", "long",
}]


@pytest.mark.parametrize("error", HOSTILE_ERRORS)
def test_a_hostile_error_from_a_source_is_shown_inert(example: App, error: str) -> None:
    """A source's error text (a remote server's words) never runs as script, pings, runs as a template or breaks JSON."""
    synced_with_pull(example, error=error)
    digest, charts = services.compose_report(uow=example.uow, as_of=AT)
    problems: list[str] = []
    for lang in ("zh", "en"):
        html = render_report(digest=digest, charts=charts, lang=lang)
        problems += [f"html active {a}" for a in active_html(html) if a != "svg"]
        main, thread = blocks.digest_messages(digest=digest, lang=lang)
        card_list = cards.digest_cards(digest=digest, lang=lang)
        payloads: dict[str, Any] = {"slack": [main, *thread], "feishu": card_list}
        for name, payload in payloads.items():
            valid_json(payload)
            text = "\n".join(strings_of(payload))
            problems += [f"{name} live {m}" for m in live_mentions(text)]
            problems += [f"{name} evaluated {s}" for s in evaluated(text)]
        for fmt in ("text", "markdown"):
            problems += [f"{fmt} evaluated {s}" for s in evaluated(render_digest(digest=digest, fmt=fmt, lang=lang))]
        failing = _line(render_digest(digest=digest, fmt="text", lang=lang), "新客转化率")
        assert len(failing) < 400, "a long error is shortened beside the number"
    assert problems == [], "\n".join(problems)
