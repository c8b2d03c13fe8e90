"""CONTRACT §6/§7 statuses on every surface (text, Markdown, HTML, Slack blocks, Feishu card), zh and en: nothing
reported reads "not reported" (never a trend or a verdict), a broken guardrail is the objective's main risk, a KR
is not on track while a measure lags, a late milestone says when it was done, a % gap is in percentage points."""

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
SURFACES = ("text", "markdown", "html", "slack", "feishu")


def berlin(month: int, day: int, hour: int = 12, year: int = 2026) -> datetime:
    """A moment on Berlin's wall clock."""
    return datetime(year, month, day, hour, tzinfo=BERLIN)


def say(app: App, person: str, text: str, at: datetime) -> None:
    """One chat command that must be saved."""
    reply = services.run_command(uow=app.uow, person=person, text=text, at=at)
    assert reply.ok, (reply.key, reply.params)


def shown(app: App, as_of: datetime, surface: str, lang: str) -> str:
    """The digest at as_of on one surface in one language, as the reader gets it (JSON for the chat payloads)."""
    digest, charts = services.compose_report(uow=app.uow, as_of=as_of)
    if surface in ("text", "markdown"):
        return render_digest(digest=digest, fmt=surface, lang=lang)
    if surface == "html":
        return render_report(digest=digest, charts=charts, lang=lang)
    if surface == "slack":
        main, thread = slack_blocks.digest_messages(digest=digest, lang=lang)
        return json.dumps([main, *thread], ensure_ascii=False)
    return json.dumps(feishu_cards.digest_cards(digest=digest, lang=lang), ensure_ascii=False)


def _quarter(app: App) -> None:
    """O1's headline racing ahead, KR3's guardrail broken, KR4's coverage full while its repeat rate lags; later
    KR1's shop live twelve days late and KR2 closing at 1.96% of 2.0%."""
    for day, amount in ((8, "10万欧"), (15, "18万欧"), (22, "25万欧")):
        say(app, "lin", f"/kr update O1 {amount}", berlin(10, day))
    say(app, "sun", "/kr update KR3 补货响应=80h", berlin(10, 22))
    for day, coverage, repeat in ((8, "80%", "25.5%"), (15, "90%", "26%"), (22, "100%", "26.5%")):
        say(app, "chen", f"/kr update KR4 竞品监控覆盖率={coverage} 会员复购率={repeat}", berlin(10, day))
    say(app, "zhao", "/kr update KR1 开店并正式运营=完成", berlin(11, 12))
    say(app, "chen", "/kr update KR2 新客转化率=1.6%", berlin(10, 10))
    say(app, "chen", "/kr update KR2 新客转化率=1.96%", berlin(12, 20))


@pytest.mark.parametrize("surface", SURFACES)
def test_nothing_reported_is_said_so_not_forecast_or_judged(example: App, surface: str) -> None:
    """An empty quarter: mid-cycle "not reported yet", never "reaches 0%"; the final report calls no guardrail
    broken and no KR missed."""
    mid_en, mid_zh = (shown(example, berlin(10, 20, 17), surface, lang) for lang in ("en", "zh"))
    assert "not reported yet" in mid_en and "尚未填报" in mid_zh
    assert "reaches 0%" not in mid_en and "on the current trend" not in mid_en and "按当前趋势" not in mid_zh
    final_en, final_zh = (shown(example, berlin(1, 4, 17, year=2027), surface, lang) for lang in ("en", "zh"))
    assert "never reported" in final_en and "从未填报" in final_zh
    for word in ("broken", "missed", "short by"):
        assert word not in final_en, word
    for word in ("已突破", "未达成", "差"):
        assert word not in final_zh.replace("差异", ""), word


@pytest.mark.parametrize("surface", SURFACES)
def test_statuses_cannot_hide_a_miss(example: App, surface: str) -> None:
    """Oct 23: O1's headline is ahead, yet KR3's broken guardrail is its main risk; KR4 is at risk, not on track,
    and its coverage is forecast at 100%, never past it."""
    _quarter(example)
    en, zh = (shown(example, berlin(10, 23, 17), surface, lang) for lang in ("en", "zh"))
    assert re.search(r"reaches \d{3}%", en) and "Main risk: KR3" in en
    assert "主要风险在KR3" in zh
    assert "at risk" in kr_line(en, "KR4", surface) and "有风险" in kr_line(zh, "KR4", surface)
    assert "on track" not in kr_line(en, "KR4", surface)
    assert re.search(r"竞品监控覆盖率: 100% of 100% \(100%\), forecast 100% → 100%", en), en
    if surface == "html":
        assert 'class="conclusion off_track"' in en


def kr_line(page: str, code: str, surface: str) -> str:
    """Where a KR's status stands: its line (chat and text), its table row (HTML)."""
    if surface == "html":
        return next(row for row in page.split("<tr>") if f"<strong>{code}</strong>" in row)
    return next(line for line in re.split(r"\n|\\n", page) if re.search(rf"{code} [^—]*— [^—]+ — ", line))


@pytest.mark.parametrize("surface", SURFACES)
def test_the_final_report_reads_late_milestones_and_points(example: App, surface: str) -> None:
    """KR1's milestone done on Nov 12, due Oct 31; KR2 missed by 0.04 percentage points; ACOS never reported."""
    _quarter(example)
    en, zh = (shown(example, berlin(1, 4, 17, year=2027), surface, lang) for lang in ("en", "zh"))
    assert "开店并正式运营: done Nov 12, 12 days after its Oct 31 due" in en
    assert "开店并正式运营：11月12日完成，比10月31日的期限晚12天" in zh
    assert "missed by 0.04 pp" in en and "差0.04个百分点" in zh
    assert "ACOS: never reported by Dec 31" in en and "ACOS：截至12月31日从未填报" in zh
    assert "not done by Oct 31" not in en and "10月31日前未完成" not in zh
