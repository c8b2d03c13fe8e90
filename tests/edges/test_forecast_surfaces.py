"""Too early, the 80% range and the final report on every surface: text, Markdown, HTML, Slack blocks, Feishu card."""

from __future__ import annotations

import json
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot import services
from bot.app import App
from bot.platforms import feishu_cards, slack_blocks
from bot.render import render_digest, render_report

BERLIN = ZoneInfo("Europe/Berlin")


def berlin(month: int, day: int, hour: int = 12, year: int = 2026) -> datetime:
    """A moment on Berlin's wall clock."""
    return datetime(year, month, day, hour, tzinfo=BERLIN)


def say(app: App, person: str, text: str, at: datetime) -> None:
    """One chat command that must be saved."""
    reply = services.run_command(uow=app.uow, person=person, text=text, at=at)
    assert reply.ok, (reply.key, reply.params)


def surfaces(app: App, as_of: datetime) -> dict[str, str]:
    """The digest at as_of in English on each surface, as the text a reader sees (JSON for the chat payloads)."""
    digest, charts = services.compose_report(uow=app.uow, as_of=as_of)
    main, thread = slack_blocks.digest_messages(digest=digest, lang="en")
    return {
        "text": render_digest(digest=digest, fmt="text", lang="en"),
        "markdown": render_digest(digest=digest, fmt="markdown", lang="en"),
        "html": render_report(digest=digest, charts=charts, lang="en"),
        "slack": json.dumps([main, *thread], ensure_ascii=False),
        "feishu": json.dumps(feishu_cards.digest_cards(digest=digest, lang="en"), ensure_ascii=False),
    }


SURFACES = ("text", "markdown", "html", "slack", "feishu")


@pytest.fixture
def quarter(example: App) -> App:
    """O1's headline on three weekly days (a range), KR2 checked in once five days ago (too early)."""
    for day, amount in ((1, "5万欧"), (8, "9万欧"), (15, "14万欧"), (22, "18万欧")):
        say(example, "lin", f"/kr update O1 {amount}", berlin(10, day))
    say(example, "chen", "/kr update KR2 新客转化率=1.6%", berlin(10, 1))
    return example


@pytest.mark.parametrize("surface", SURFACES)
def test_too_early_and_the_range_are_on_every_surface(quarter: App, surface: str) -> None:
    """Week 1: too early (0 days of data); week 4: the headline's forecast with its 80% range."""
    week_one = surfaces(quarter, berlin(10, 2, 17))[surface]
    assert "too early to forecast (0 days of data)" in week_one
    week_four = surfaces(quarter, berlin(10, 23, 17))[surface]
    assert re.search(r"reaches \d+% \(\d+–\d+%\) by Dec 31", week_four), surface
    if surface == "html":
        assert 'class="band"' in week_four  # the burn-up chart draws the range as a band


@pytest.mark.parametrize("surface", SURFACES)
def test_the_final_report_on_every_surface(quarter: App, surface: str) -> None:
    """After the cycle's end: the final report, met or missed by how much; no forecast, nobody chased."""
    shown = surfaces(quarter, berlin(1, 4, 17, year=2027))[surface]
    assert "final OKR report" in shown
    assert re.search(r"Final: O1 .* missed its goal by Dec 31", shown), surface
    assert "short by €320k" in shown  # 500,000 − 180,000 (the result at the end of Dec 31)
    assert "Not checked in" not in shown and "on the current trend" not in shown
    if surface == "html":
        assert 'class="result"' in shown and 'class="band"' not in shown
