"""The boss digest end to end (CONTRACT §7 and §8's last bullet) on the example workspace.

Everything goes through `bot.services` on a real database (SQLite file and PostgreSQL schema);
the numbers are read from `services.compose` (the Digest as data) and the words from
`bot.render.render_digest`. Every expected number is worked out by hand in a comment.

Time axis (bot/core/progress.py): x = days since 2026-10-01 00:00 Europe/Berlin (CEST, UTC+2);
a deadline date is read at its END (00:00 of the next day). Clocks go back on 2026-10-25, so a
moment after that is one hour further from the cycle's start than the calendar says:
- O1's deadline 2026-12-31 → 2027-01-01 00:00 CET → x = 92 + 1/24 (31 + 30 + 31 days + 1 hour);
- KR3's 入欧备货 is due 2026-10-31 → 2026-11-01 00:00 CET → x = 31 + 1/24;
- HALF = 2026-11-15 23:30 CET → x = 45 days + 23.5 h + 1 h = 46 + 1/48, exactly half of 92 + 1/24;
- KR3_HALF = 2026-10-16 12:30 CEST → x = 15 + 12.5/24 = 15 + 25/48, exactly half of 31 + 1/24.
With one check-in the baseline at the cycle's start is the other point, so one check-in of value
v at the half-way point gives the line through (0, b) and (x, v), read at 2x: b + 2·(v − b), i.e.
the forecast completion is twice the completion.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from pytest import approx

from bot import services
from bot.app import App
from bot.core.digest import Digest, KrLine, ObjectiveSection
from bot.core.errors import KrbotError
from bot.core.model import AskKind, Status
from bot.render import render_digest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_ZH = ROOT / "examples" / "q4-europe.zh.yaml"
BERLIN = ZoneInfo("Europe/Berlin")

START = datetime(2026, 10, 1, tzinfo=BERLIN)
DEADLINE_END = datetime(2027, 1, 1, tzinfo=BERLIN)
DEADLINE_X = 92 + 1 / 24
HALF = datetime(2026, 11, 15, 23, 30, tzinfo=BERLIN)
KR3_DUE_END = datetime(2026, 11, 1, tzinfo=BERLIN)
KR3_HALF = datetime(2026, 10, 16, 12, 30, tzinfo=BERLIN)

KR1_TITLE = "Q4首月开通TikTok Shop德国站，组建专业团队并正式运营"
KR4_TITLE = "竞品监控覆盖率100%，价格响应≤2小时，会员复购率提升至35%"


def berlin(month: int, day: int, hour: int = 12, minute: int = 0) -> datetime:
    """A moment of 2026 on Berlin's wall clock."""
    return datetime(2026, month, day, hour, minute, tzinfo=BERLIN)


def x_of(moment: datetime) -> float:
    """Days since the cycle's start, by the absolute clock (DST hour included)."""
    return (moment.timestamp() - START.timestamp()) / 86400


def say(app: App, person: str, text: str, at: datetime, key: str = "checkin.saved") -> services.Reply:
    """Run one chat command and insist it did what it should."""
    reply = services.run_command(uow=app.uow, person=person, text=text, at=at)
    assert reply.ok and reply.key == key, (reply.key, reply.params)
    return reply


def compose(app: App, as_of: datetime) -> Digest:
    """The digest data at as_of."""
    return services.compose(uow=app.uow, as_of=as_of)


def render(digest: Digest, fmt: str = "text", lang: str = "zh") -> str:
    """The digest's words."""
    return render_digest(digest=digest, fmt=fmt, lang=lang)


def o1(digest: Digest) -> ObjectiveSection:
    """The example's only objective."""
    (section,) = digest.objectives
    assert section.code == "O1"
    return section


def kr(digest: Digest, code: str) -> KrLine:
    """One KR line of O1."""
    return next(line for line in o1(digest).krs if line.code == code)


def conclusion(text: str) -> str:
    """The conclusion line of a rendered text digest (the one starting with ■)."""
    return next(line for line in text.splitlines() if line.startswith("■"))


def seen(text: str, *parts: str) -> None:
    """Some line of text holds every part, in this order (robust to the catalog's punctuation)."""
    for line in text.splitlines():
        at = 0
        for part in parts:
            found = line.find(part, at)
            if found < 0:
                break
            at = found + len(part)
        else:
            return
    raise AssertionError(f"no line holds {parts!r} in order:\n{text}")


def test_the_hand_arithmetic_of_the_time_axis_holds() -> None:
    # The half-way points the other tests lean on, checked once against the absolute clock.
    assert x_of(DEADLINE_END) == approx(DEADLINE_X)
    assert x_of(HALF) == approx(46 + 1 / 48)
    assert 2 * x_of(HALF) == approx(x_of(DEADLINE_END))
    assert x_of(KR3_DUE_END) == approx(31 + 1 / 24)
    assert 2 * x_of(KR3_HALF) == approx(x_of(KR3_DUE_END))


# ---------------------------------------------------------------- value and completion


def test_value_is_the_latest_checkin_at_or_before_as_of_else_the_baseline(example: App) -> None:
    say(example, "chen", "/kr update KR2 1.6%", berlin(10, 5))  # x = 4.5
    say(example, "chen", "/kr update KR2 1.7%", berlin(10, 20))  # x = 19.5
    say(example, "chen", "/kr update KR2 1.9%", berlin(11, 20))  # after every as_of below

    # Before any check-in: the baseline 1.5% → (1.5 − 1.5)/(2.0 − 1.5) = 0%.
    before = kr(compose(example, berlin(10, 4)), "KR2").measures[0]
    assert before.value == approx(1.5)
    assert before.completion == approx(0.0)
    assert before.forecast_value is None

    # One minute before the second check-in: 1.6% → 0.1/0.5 = 20%.
    early = kr(compose(example, berlin(10, 20, 11, 59)), "KR2").measures[0]
    assert early.value == approx(1.6)
    assert early.completion == approx(0.2)

    # Exactly at the second check-in ("at or before"): 1.7% → 0.2/0.5 = 40%; the 1.9% of 11-20 is ignored,
    # in the value and in the line: through (4.5, 1.6) and (19.5, 1.7) (15 days of data), slope 0.1/15 per day,
    # read at x = 92 + 1/24: 1.7 + (0.1/15)·(92 + 1/24 − 19.5) = 1.7 + 0.1·72.541667/15 = 2.183611 → (2.183611 − 1.5)/0.5 = 137%.
    digest = compose(example, berlin(10, 20))
    line = kr(digest, "KR2")
    measure = line.measures[0]
    assert measure.value == approx(1.7)
    assert measure.completion == approx(0.4)
    assert measure.forecast_value == approx(1.7 + 0.1 / 15 * (DEADLINE_X - 19.5))
    assert line.completion == approx(0.4)
    assert measure.forecast_completion == approx((1.7 + 0.1 / 15 * (DEADLINE_X - 19.5) - 1.5) / 0.5)
    assert line.forecast_completion == approx(1.0)  # the KR's mean caps each measure at 100%
    text = render(digest)
    seen(text, "新客转化率", "1.7%", "目标2%", "40%", "137%")
    seen(text, "KR2 ", "陈静", "40%", "100%")
    assert "1.9%" not in text

    # A KR nobody checked in stands at its baselines (60% of 60→100, 25% of 25→35), but it is not reported:
    # no completion, no trend, no verdict.
    kr4 = kr(digest, "KR4")
    assert [m.value for m in kr4.measures if m.baseline is not None] == [approx(60.0), approx(25.0)]
    assert kr4.completion is None and kr4.status is Status.NO_DATA
    seen(text, "KR4 ", "未填报")
    seen(text, "竞品监控覆盖率", "未填报", "目标100%")
    seen(render(digest, lang="en"), "Competitor" if False else "竞品监控覆盖率", "not reported", "target 100%")


def test_completion_is_a_whole_percent_and_not_capped(example: App) -> None:
    # KR3: 7,200,000 of 0 → 6,000,000: 7.2/6 = 1.2 → 120%, shown as 120% (not 100%).
    say(example, "sun", "/kr update KR3 入欧备货=720万件 补货响应=48h", berlin(10, 28))
    # O1: 123,400 of 0 → 500,000 = 24.68% → 25% (whole percent, rounded).
    say(example, "lin", "/kr update O1 12.34万欧", berlin(10, 28))
    digest = compose(example, berlin(10, 29))
    line = kr(digest, "KR3")
    assert line.measures[0].completion == approx(1.2)
    assert line.completion == approx(1.0)  # capped at 100% in the KR's mean; the measure's line shows 120%
    # every measure reached: 7.2M ≥ 6M, and 48h ≤ 72h → done
    assert line.status is Status.DONE
    assert o1(digest).completion == approx(0.2468)
    zh, en = render(digest), render(digest, lang="en")
    seen(zh, "入欧备货", "720万件", "600万件", "120%")
    seen(zh, "KR3 ", "孙浩", "已完成", "100%")
    seen(conclusion(zh), "完成度25%")
    seen(en, "入欧备货", "7,200,000", "6,000,000", "(120%)")
    seen(en, "KR3 ", "孙浩", "done", "100%")
    seen(conclusion(en), "25% complete")


# ---------------------------------------------------------------- forecast and gap


def test_one_checkin_counts_the_baseline_at_the_cycle_start_as_a_point(example: App) -> None:
    # O1 新客GMV 100,000 € at HALF: line through (0, 0) and (46 + 1/48, 100,000), read at 92 + 1/24 = twice
    # as far → 200,000 € → 200,000/500,000 = 40%; gap 500,000 − 200,000 = 300,000 € = 30万欧.
    # (Without the baseline point the lone check-in would give a flat 100,000 → 20%.)
    say(example, "lin", "/kr update O1 10万欧", HALF)
    # KR2 1.6% at HALF: 1.5 + 2·0.1 = 1.7% → (1.7 − 1.5)/0.5 = 40%.
    say(example, "chen", "/kr update KR2 1.6%", HALF)
    digest = compose(example, berlin(11, 16, 9))
    section = o1(digest)
    assert section.completion == approx(0.2)  # 100,000/500,000
    assert section.forecast_completion == approx(0.4)
    assert section.gap == approx(300_000)
    kr2 = kr(digest, "KR2").measures[0]
    assert kr2.forecast_value == approx(1.7)
    assert kr2.forecast_completion == approx(0.4)
    seen(conclusion(render(digest)), "完成度20%", "预计", "可完成40%", "缺口30万欧")
    seen(render(digest), "新客转化率", "1.6%", "预计1.7%", "40%")


def test_without_checkins_there_is_no_forecast_and_none_is_invented(example: App) -> None:
    digest = compose(example, berlin(10, 20))
    section = o1(digest)
    assert section.forecast_completion is None
    assert section.gap is None
    assert all(line.forecast_completion is None for line in section.krs)
    assert all(m.forecast_value is None for line in section.krs for m in line.measures)
    # nothing is reported: no completion, no trend, no verdict — "not reported", never "reaches 0%"
    assert section.completion is None and section.status is Status.NO_DATA
    assert all(line.status is Status.NO_DATA for line in section.krs)
    zh, en = render(digest), render(digest, lang="en")
    assert "尚未填报" in conclusion(zh)
    for word in ("按当前趋势", "预计", "缺口", "趋势", "完成0%", "完成度0%", "偏离", "已突破"):
        assert word not in zh
    assert "not reported yet" in conclusion(en)
    for word in ("on the current trend", "short by", "no gap", "forecast 0", "trend ", "reaches 0%", "0% complete",
                 "broken", "off track"):
        assert word not in en


def test_gap_is_target_minus_forecast_in_the_headline_unit(example: App) -> None:
    say(example, "lin", "/kr update O1 5万欧", berlin(10, 15))  # x1 = 14.5 (CEST)
    say(example, "lin", "/kr update O1 17.5万欧", berlin(11, 12))  # x2 = 42.5 + 1/24 (CET: one hour more)
    # Two check-ins, so no baseline point: slope = 125,000/(x2 − x1) = 125,000/(28 + 1/24) per day, read at
    # 92 + 1/24, i.e. 49.5 days after x2: 175,000 + 125,000·49.5/28.041667 = 175,000 + 220,653.8 = 395,653.8 €.
    # Completion 175,000/500,000 = 35%; forecast 395,653.8/500,000 = 79.13% → 79%;
    # gap 500,000 − 395,653.8 = 104,346.2 € → 10.4万欧 (en €104k).
    forecast = 175_000 + 125_000 * 49.5 / (28 + 1 / 24)
    digest = compose(example, berlin(11, 13, 17))
    section = o1(digest)
    assert section.completion == approx(0.35)
    assert section.forecast_completion == approx(forecast / 500_000)
    assert section.gap == approx(500_000 - forecast)
    assert section.headline_unit == "EUR"
    zh, en = conclusion(render(digest)), conclusion(render(digest, lang="en"))
    seen(zh, "截至11月13日", "新客GMV", "完成度35%", "按当前趋势", "可完成79%", "缺口10.4万欧")
    seen(en, "Nov 13", "35% complete", "79%", "Dec 31", "short by €104k")


def test_no_gap_when_the_forecast_reaches_the_target(example: App) -> None:
    say(example, "lin", "/kr update O1 30万欧", berlin(10, 15))
    say(example, "lin", "/kr update O1 45万欧", berlin(11, 12))
    # 450,000 + 150,000·49.5/28.041667 = 450,000 + 264,784.5 = 714,784.5 € ≥ 500,000 → no gap;
    # completion 450,000/500,000 = 90%, forecast 714,784.5/500,000 = 142.96% → 143%.
    forecast = 450_000 + 150_000 * 49.5 / (28 + 1 / 24)
    digest = compose(example, berlin(11, 13, 17))
    section = o1(digest)
    assert section.gap is None
    assert section.completion == approx(0.9)
    assert section.forecast_completion == approx(forecast / 500_000)
    zh, en = conclusion(render(digest)), conclusion(render(digest, lang="en"))
    seen(zh, "完成度90%", "可完成143%", "无缺口")
    assert "缺口" not in zh.replace("无缺口", "")
    seen(en, "90% complete", "143%", "no gap")
    assert "short by" not in en


# ---------------------------------------------------------------- KR means and guardrails


def test_kr_completion_is_the_mean_over_targets_and_milestones(example: App) -> None:
    say(example, "zhao", "/kr update KR1 开店并正式运营=done 新客订单=100单 GMV=2万欧", HALF)
    say(example, "chen", "/kr update KR4 竞品监控覆盖率=70% 价格响应=1h 会员复购率=27.5%", HALF)
    digest = compose(example, berlin(11, 16, 9))
    kr1 = kr(digest, "KR1")
    # completion: milestone done 100%, orders 100/500 = 20%, GMV 20,000/50,000 = 40% → (100 + 20 + 40)/3 = 53.33%
    assert [m.completion for m in kr1.measures] == [approx(1.0), approx(0.2), approx(0.4)]
    assert kr1.completion == approx(1.6 / 3)
    # The milestone was due 10-31 and done only on 11-15: done late still counts 100% in the forecast as in the
    # completion. Forecast at twice the distance: 200 orders = 40%, 40,000 € = 80% → (100 + 40 + 80)/3 = 73% (< 80%)
    assert [m.forecast_completion for m in kr1.measures] == [approx(1.0), approx(0.4), approx(0.8)]
    assert kr1.forecast_completion == approx(2.2 / 3)
    assert kr1.status is Status.OFF_TRACK
    assert kr1.measures[0].days_late == 15
    # KR4: (70 − 60)/40 = 25% and (27.5 − 25)/10 = 25% → 25%; forecast 80% and 30% → 50% each → 50%.
    # Its guardrail 价格响应 (1h ≤ 2h, holding) is not in the mean: counted as 100% it would give (25+25+100)/3 = 50%.
    kr4 = kr(digest, "KR4")
    assert kr4.completion == approx(0.25)
    assert kr4.forecast_completion == approx(0.5)
    zh = render(digest)
    seen(zh, "KR1 ", "赵磊", "偏离", "53%", "73%")
    seen(zh, "开店并正式运营", "11月15日完成，比10月31日的期限晚15天")
    seen(render(digest, lang="en"), "开店并正式运营", "done Nov 15, 15 days after its Oct 31 due")
    seen(zh, "KR4 ", "陈静", "25%", "50%")
    seen(zh, "价格响应", "1小时", "上限2小时")


def test_a_guardrail_value_does_not_change_the_kr_mean(example: App) -> None:
    say(example, "chen", "/kr update KR2 新客转化率=1.6%", berlin(10, 15, 0))  # x = 14
    # (0, 1.5), (14, 1.6): 1.5 + (0.1/14)·(92 + 1/24) = 2.1574 → (2.1574 − 1.5)/0.5 = 131.5%; completion 20%.
    expected_forecast = 0.1 / 14 * DEADLINE_X / 0.5
    first = kr(compose(example, berlin(10, 16, 0)), "KR2")
    say(example, "chen", "/kr update KR2 ACOS=24%", berlin(10, 16, 12))
    second = kr(compose(example, berlin(10, 17, 0)), "KR2")
    for line in (first, second):
        assert line.completion == approx(0.2)
        assert line.measures[0].forecast_completion == approx(expected_forecast)
        assert line.forecast_completion == approx(1.0)  # capped at 100% in the KR's mean
        assert line.status is Status.ON_TRACK
    assert second.measures[1].value == approx(24.0)
    assert not second.measures[1].broken


# ---------------------------------------------------------------- status


@pytest.mark.parametrize(
    ("value", "forecast", "status", "zh_word", "en_word"),
    [
        # one check-in v at HALF: forecast completion = 2·(v − 1.5)/0.5 = 4·(v − 1.5)
        ("1.75%", 1.0, Status.ON_TRACK, "正常", "on track"),  # 4·0.25 = 100% → on track (≥ 100)
        ("1.74%", 0.96, Status.AT_RISK, "有风险", "at risk"),  # 4·0.24 = 96%
        ("1.7%", 0.8, Status.AT_RISK, "有风险", "at risk"),  # 4·0.20 = 80% → at risk (80 to < 100)
        ("1.69%", 0.76, Status.OFF_TRACK, "偏离", "off track"),  # 4·0.19 = 76% → off track (< 80)
    ],
)
def test_status_thresholds(
    example: App, value: str, forecast: float, status: Status, zh_word: str, en_word: str
) -> None:
    say(example, "chen", f"/kr update KR2 {value}", HALF)
    digest = compose(example, berlin(11, 16, 9))
    line = kr(digest, "KR2")
    assert line.forecast_completion == approx(forecast)
    assert line.status is status
    percent = round(forecast * 100)
    seen(render(digest), "KR2 ", "陈静", zh_word, f"{percent}%")
    seen(render(digest, lang="en"), "KR2 ", "陈静", en_word, f"{percent}%")


def test_done_when_every_measure_reached_its_target(example: App) -> None:
    # 720万 ≥ 600万, 48h ≤ 72h
    say(example, "sun", "/kr update KR3 入欧备货=720万件 补货响应=48h", berlin(10, 28))
    assert kr(compose(example, berlin(10, 29)), "KR3").status is Status.DONE
    # the guardrail broken later (80h > 72h): not every measure holds → not done; broken → off track
    say(example, "sun", "/kr update KR3 补货响应=80h", berlin(10, 30))
    digest = compose(example, berlin(10, 31))
    assert kr(digest, "KR3").status is Status.OFF_TRACK
    seen(render(digest), "补货响应", "80小时", "72小时", "已突破")


def test_a_guardrail_broken_now_makes_the_kr_off_track(example: App) -> None:
    # 1.75% at HALF forecasts exactly 100% (see test_status_thresholds), but ACOS 27% > 25% now
    say(example, "chen", "/kr update KR2 新客转化率=1.75% ACOS=27%", HALF)
    digest = compose(example, berlin(11, 16, 9))
    line = kr(digest, "KR2")
    assert line.forecast_completion == approx(1.0)
    assert line.measures[1].broken
    assert line.status is Status.OFF_TRACK
    zh, en = render(digest), render(digest, lang="en")
    seen(zh, "KR2 ", "陈静", "偏离", "50%", "100%")
    seen(zh, "ACOS", "27%", "上限25%", "已突破")
    seen(en, "ACOS", "27%", "25%", "broken")


def test_a_guardrail_trending_to_break_makes_the_kr_at_risk(example: App) -> None:
    say(example, "chen", "/kr update KR2 新客转化率=1.75% ACOS=20%", berlin(10, 7, 0))  # x = 6
    say(example, "chen", "/kr update KR2 新客转化率=1.9% ACOS=22%", berlin(10, 21, 0))  # x = 20
    # ACOS: (6, 20), (20, 22): slope 1/7 per day → at 92 + 1/24: 22 + 72.041667/7 = 32.29% > 25%, yet 22% holds now.
    # 新客转化率: (6, 1.75), (20, 1.9) → 1.9 + (0.15/14)·72.041667 = 2.672 → 234% → on track, so the trend makes it at risk.
    digest = compose(example, berlin(10, 22))
    line = kr(digest, "KR2")
    acos = line.measures[1]
    assert acos.forecast_value == approx(22 + (DEADLINE_X - 20) / 7)
    assert not acos.broken and acos.trend_broken
    assert line.measures[0].forecast_completion == approx((1.9 + 0.15 / 14 * (DEADLINE_X - 20) - 1.5) / 0.5)
    assert line.forecast_completion == approx(1.0)
    assert line.status is Status.AT_RISK
    zh, en = render(digest), render(digest, lang="en")
    seen(zh, "ACOS", "22%", "上限25%", "趋势将突破")
    seen(zh, "KR2 ", "陈静", "有风险")
    seen(en, "ACOS", "22%", "25%", "trending")


# ---------------------------------------------------------------- objective and main risk


def _every_kr_half_way(app: App) -> None:
    """One check-in per KR at its half-way point (forecast completion = 2 × completion)."""
    # KR3 (due 10-31): 1.5M of 6M = 25%, forecast read at ITS due: 3M = 50%
    say(app, "sun", "/kr update KR3 入欧备货=150万件 补货响应=48h", KR3_HALF)
    # KR2: 1.75% → 50%, forecast 2.0% = 100%
    say(app, "chen", "/kr update KR2 1.75%", HALF)
    # KR4: 70% and 27.5% → 25% each, forecast 80% and 30% → 50% each
    say(app, "chen", "/kr update KR4 竞品监控覆盖率=70% 会员复购率=27.5%", HALF)
    # KR1: the shop went live on 10-20 (before its due 10-31, so its result is done);
    # (100 + 20 + 40)/3 = 53.33%, forecast (100 + 40 + 80)/3 = 73.33%
    say(app, "zhao", "/kr update KR1 开店并正式运营=完成", berlin(10, 20))
    say(app, "zhao", "/kr update KR1 新客订单=100单 GMV=2万欧", HALF)


def test_objective_is_the_mean_over_krs_until_the_headline_has_checkins(example: App) -> None:
    _every_kr_half_way(example)
    digest = compose(example, berlin(11, 16, 9))
    section = o1(digest)
    kr3 = kr(digest, "KR3")
    # KR3's 入欧备货 was due 10-31: after that its forecast is its result, 1.5M of 6M = 25% (not a line to 12-31)
    assert kr3.forecast_completion == approx(0.25)
    # completion (25 + 50 + 25 + 53.33)/4 = 38.33% → 38%; forecast (25 + 100 + 50 + 73.33)/4 = 62.08% → 62%
    assert section.completion == approx((0.25 + 0.5 + 0.25 + 1.6 / 3) / 4)
    assert section.forecast_completion == approx((0.25 + 1.0 + 0.5 + 2.2 / 3) / 4)
    assert section.gap is None  # no amount in the headline's unit is claimed from the KRs' mean
    assert section.status is Status.OFF_TRACK
    seen(conclusion(render(digest)), "完成度38%", "可完成62%")
    # main risk: KR3 at 25%, the lowest
    assert section.main_risk is not None and section.main_risk.code == "KR3"

    # Now the headline has a check-in: O1 100,000 € at HALF → 20%, forecast 200,000 € = 40%, gap 30万欧.
    say(example, "lin", "/kr update O1 10万欧", HALF)
    digest = compose(example, berlin(11, 16, 9))
    section = o1(digest)
    assert section.completion == approx(0.2)
    assert section.forecast_completion == approx(0.4)
    assert section.gap == approx(300_000)
    assert [line.completion for line in section.krs] == [
        approx(0.25), approx(0.5), approx(0.25), approx(1.6 / 3)
    ]
    seen(conclusion(render(digest)), "新客GMV", "完成度20%", "可完成40%", "缺口30万欧")


def test_the_conclusion_does_not_credit_the_kr_mean_to_the_headline(example: App) -> None:
    # 新客GMV has no check-in: it stands at its baseline, 0 of 50万欧; the 38% is the mean over KRs.
    _every_kr_half_way(example)
    digest = compose(example, berlin(11, 16, 9))
    assert o1(digest).completion == approx((0.25 + 0.5 + 0.25 + 1.6 / 3) / 4)
    zh, en = conclusion(render(digest)), conclusion(render(digest, lang="en"))
    assert "38%" in zh and "新客GMV完成度38%" not in zh
    assert "38%" in en and "38% complete on 新客GMV" not in en


def test_no_gap_is_claimed_while_the_forecast_falls_short(example: App) -> None:
    """With no headline check-in the KRs' mean falls short: the conclusion must not say 'no gap'."""
    _every_kr_half_way(example)
    digest = compose(example, berlin(11, 16, 9))
    # (25 + 100 + 50 + 73.33)/4 = 62.08% < 100%: the forecast falls short of the target
    assert o1(digest).forecast_completion == approx((0.25 + 1.0 + 0.5 + 2.2 / 3) / 4)
    zh, en = conclusion(render(digest)), conclusion(render(digest, lang="en"))
    assert "无缺口" not in zh, zh
    assert "no gap" not in en, en


def test_main_risk_is_the_lowest_forecast_ties_to_the_higher_priority_path(example: App) -> None:
    # Zero progress forecasts exactly 0%: the line through (0, b) and (x, b) stays at b (x ≥ 14 days, so a
    # forecast exists; a KR with fewer days of data is too early and is never the main risk). Before 11-01
    # KR1's milestone (due 10-31) is not late, so a KR without check-ins has no forecast and can't be the risk.
    def risk(at: datetime) -> tuple[str, str | None]:
        main = o1(compose(example, at)).main_risk
        assert main is not None
        return main.code, main.words

    say(example, "zhao", "/kr update KR1 新客订单=0单 GMV=0欧", berlin(10, 15))
    assert risk(berlin(10, 15, 13)) == ("KR1", None)  # no words yet: the title is shown
    digest = compose(example, berlin(10, 15, 13))
    seen(conclusion(render(digest)), "主要风险在KR1", KR1_TITLE, "赵磊")
    seen(conclusion(render(digest, lang="en")), "Main risk", "KR1", KR1_TITLE, "赵磊")

    say(example, "zhao", "/kr update KR1 备注：招聘进度慢", berlin(10, 16))
    assert risk(berlin(10, 16, 13)) == ("KR1", "招聘进度慢")  # the latest note
    say(example, "zhao", "/kr update KR1 风险：TikTok Shop新渠道启动延迟", berlin(10, 17))
    assert risk(berlin(10, 17, 13)) == ("KR1", "TikTok Shop新渠道启动延迟")  # a risk beats a note
    say(example, "zhao", "/kr update KR1 备注：团队已到位", berlin(10, 18))
    assert risk(berlin(10, 18, 13)) == ("KR1", "TikTok Shop新渠道启动延迟")  # even a later note
    seen(conclusion(render(compose(example, berlin(10, 18, 13)))), "主要风险在KR1", "TikTok Shop新渠道启动延迟", "赵磊")

    say(example, "chen", "/kr update KR4 竞品监控覆盖率=60% 会员复购率=25%", berlin(10, 19))
    assert risk(berlin(10, 19, 13))[0] == "KR4"  # 0% = 0%: P4 (priority 3) before P1 (4)
    say(example, "chen", "/kr update KR2 1.5%", berlin(10, 20))
    assert risk(berlin(10, 20, 13))[0] == "KR2"  # P2 (2) before P4
    say(example, "sun", "/kr update KR3 0件", berlin(10, 21))
    assert risk(berlin(10, 21, 13))[0] == "KR3"  # P3 (1) before P2

    # KR4 slips below its baseline: 覆盖率 (18.5, 60), (x2, 59) with x2 = 32.5 + 1/24 (11-02 noon, CET):
    # 59 − (92 + 1/24 − x2)/(x2 − 18.5) → about 54.8% → (54.8 − 60)/40 = −13%; 复购率 stays 0% → KR4 −6.5%, the lowest,
    # whatever its priority (KR1's milestone is late by then: it enters with 0%).
    x2 = 32.5 + 1 / 24
    say(example, "chen", "/kr update KR4 竞品监控覆盖率=59%", berlin(11, 2))
    digest = compose(example, berlin(11, 2, 13))
    main = o1(digest).main_risk
    assert main is not None and main.code == "KR4"
    assert main.forecast_completion == approx((59 - (DEADLINE_X - x2) / (x2 - 18.5) - 60) / 40 / 2)
    assert main.words is None
    seen(conclusion(render(digest)), "主要风险在KR4", KR4_TITLE, "陈静")


# ---------------------------------------------------------------- missing, away, stale, overdue


def test_missing_away_and_stale(example: App) -> None:
    say(example, "lin", "/kr update O1 10万欧", berlin(11, 10))
    say(example, "sun", "/kr update KR3 入欧备货=300万件", berlin(11, 12))
    say(example, "chen", "/kr update KR2 1.6%", berlin(10, 30))  # 14 d 5 h before the as-of time
    say(example, "chen", "/kr update KR4 竞品监控覆盖率=70%", berlin(11, 5))  # 8 d 5 h before
    say(example, "zhao", "/kr away 2026-11-09..2026-11-20", berlin(11, 8), key="reply.away")
    as_of = berlin(11, 13, 17)
    digest = compose(example, as_of)
    # the period is (11-06 17:00, 11-13 17:00]: 林雪 and 孙浩 reported, 陈静 did not, 赵磊 is away; 王总 owns nothing
    assert digest.missing == ("陈静",)
    assert digest.away == ("赵磊",)
    # stale = no check-in for 14 days or more: KR2 (last 10-30 12:00 → 14 d 5 h → 14) and KR1, never
    # (10-01 00:00 CEST → 11-13 17:00 CET = 43 d 17 h + the DST hour → 43); KR4 (8 days) and KR3 (1 day) are not
    stale = {s.code: (s.days, s.last_at) for s in digest.stale}
    assert set(stale) == {"KR2", "KR1"}
    assert stale["KR2"][0] == 14 and stale["KR2"][1] == berlin(10, 30)
    assert stale["KR1"] == (43, None)
    zh, en = render(digest), render(digest, lang="en")
    seen(zh, "本周未填报", "陈静")
    seen(zh, "休假", "赵磊")
    assert zh.index("停滞") < zh.index("KR2 亚马逊SP广告新客转化率从1.5%提升至2.0%，ACOS控制在25%以内——陈静")
    seen(zh, "KR2 亚马逊SP广告", "陈静", "10月30日", "14天")
    seen(zh, f"KR1 {KR1_TITLE}", "赵磊", "从未填报", "43天")
    seen(en, "Not checked in this week", "陈静")
    seen(en, "Away", "赵磊")
    seen(en, "KR2 ", "陈静", "Oct 30", "14 days")

    # Six hours earlier KR2's last check-in is 13 d 23 h old: not stale yet.
    assert {s.code for s in compose(example, berlin(11, 13, 11)).stale} == {"KR1"}
    # Once 赵磊 is back (after 11-20) and silent, he is missing again.
    later = compose(example, berlin(11, 23, 17))
    assert "赵磊" in later.missing and later.away == ()


def test_overdue_tasks(example: App) -> None:
    # KR3's tasks: 工厂排产完成 due 09-15, 海运到港并清关 due 10-17.
    # 10-17 itself: only the first, 15 (rest of Sep) + 17 = 32 days late.
    on_due_day = compose(example, berlin(10, 17, 17))
    assert [(t.title, t.days_late) for t in on_due_day.overdue] == [("工厂排产完成", 32)]
    # 10-18: the second is 1 day late.
    next_day = compose(example, berlin(10, 18, 9))
    assert [(t.title, t.days_late) for t in next_day.overdue] == [("工厂排产完成", 33), ("海运到港并清关", 1)]
    # 11-13: 15 + 31 + 13 = 59 and 14 + 13 = 27 days late.
    digest = compose(example, berlin(11, 13, 17))
    assert [(t.code, t.title, t.owner, str(t.due), t.days_late) for t in digest.overdue] == [
        ("KR3", "工厂排产完成", "孙浩", "2026-09-15", 59),
        ("KR3", "海运到港并清关", "孙浩", "2026-10-17", 27),
    ]
    zh, en = render(digest), render(digest, lang="en")
    assert "逾期任务" in zh
    seen(zh, "KR3", "工厂排产完成", "孙浩", "9月15日", "逾期59天")
    seen(zh, "KR3", "海运到港并清关", "孙浩", "10月17日", "逾期27天")
    assert "Overdue tasks" in en
    seen(en, "KR3", "海运到港并清关", "孙浩", "Oct 17", "27 days late")


def test_the_digest_job_reads_and_composes_once(example: App) -> None:
    """What the weekly job sends — digest, escalations, overdue tasks — comes from one load and one composition:
    the statements of one digest plus the one read of the week's failed sends (before: two digests, two trees)."""
    from sqlalchemy import event

    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        statements.append(statement)

    as_of = berlin(11, 13, 17)
    event.listen(example.uow.engine, "before_cursor_execute", count)
    try:
        compose(example, as_of)
        one_digest = len(statements)
        statements.clear()
        run = services.digest_run(uow=example.uow, as_of=as_of)
    finally:
        event.remove(example.uow.engine, "before_cursor_execute", count)
    assert len(statements) == one_digest + 1
    assert [(kr.code, task.title) for _, kr, task in run.overdue] == [("KR3", "工厂排产完成"), ("KR3", "海运到港并清关")]
    assert run.digest.overdue == compose(example, as_of).overdue


def test_goal_changes_since_the_last_period(example: App) -> None:
    # 陈静 owns KR2 but is not its accountable: refused, nothing logged
    refused = services.run_command(
        uow=example.uow, person="chen", text="/kr change KR2 target=1.8% reason: 太难", at=berlin(11, 9)
    )
    assert not refused.ok
    say(example, "lin", "/kr change KR2 target=2.2% reason: 旺季提前", berlin(11, 10), key="change.saved")
    say(example, "chen", "/kr update KR2 1.6%", berlin(11, 12))
    digest = compose(example, berlin(11, 13, 17))
    (change,) = digest.changes
    assert (change.code, change.measure, change.field) == ("KR2", "新客转化率", "target")
    assert (change.old, change.new, change.reason, change.person) == ("2", "2.2", "旺季提前", "林雪")
    # the completion follows the new target: (1.6 − 1.5)/(2.2 − 1.5) = 14.29% → 14%
    line = kr(digest, "KR2")
    assert line.completion == approx(0.1 / 0.7)
    zh, en = render(digest), render(digest, lang="en")
    assert "目标变更" in zh
    seen(zh, "KR2", "新客转化率", "目标", "2", " → ", "2.2", "林雪", "旺季提前")
    seen(zh, "新客转化率", "1.6%", "目标2.2%", "14%")
    assert "Goal changes" in en
    seen(en, "KR2", "新客转化率", "target", "2", " → ", "2.2", "林雪", "reason", "旺季提前")
    # a week later it was reported in the last digest: no longer listed
    assert compose(example, berlin(11, 20, 17)).changes == ()
    assert "目标变更" not in render(compose(example, berlin(11, 20, 17)))


def test_open_asks_are_quantified_with_their_deciders_until_decided(example: App) -> None:
    say(example, "chen", "/kr update KR2 1.6% 需求：追加5000欧预算", berlin(11, 10))
    say(example, "zhao", "/kr update KR1 需求：3名剪辑师", berlin(11, 11))
    say(example, "zhao", "/kr update KR1 需求：TikTok店铺权限", berlin(11, 11, 13))
    digest = compose(example, berlin(11, 13, 17))
    asks = {a.text: a for a in o1(digest).asks}
    assert set(asks) == {"追加5000欧预算", "3名剪辑师", "TikTok店铺权限"}
    money, people, permission = asks["追加5000欧预算"], asks["3名剪辑师"], asks["TikTok店铺权限"]
    assert (money.kind, money.amount, money.unit, money.code, money.person) == (
        AskKind.MONEY, approx(5000), "EUR", "KR2", "陈静"
    )
    assert (people.kind, people.amount, people.code) == (AskKind.PEOPLE, approx(3), "KR1")
    assert (permission.kind, permission.amount) == (AskKind.PERMISSION, None)
    assert all(a.deciders == ("王总",) for a in asks.values())
    assert digest.open_asks == 3
    zh, en = render(digest), render(digest, lang="en")
    seen(zh, f"#{money.id} ", "资金", "5000欧", "追加5000欧预算", "陈静", "KR2", "王总")
    seen(zh, f"#{people.id} ", "人力", "3", "3名剪辑师", "赵磊", "KR1", "王总")
    seen(zh, f"#{permission.id} ", "权限", "TikTok店铺权限", "赵磊", "KR1", "王总")
    seen(en, f"#{money.id} ", "money", "€5,000", "追加5000欧预算", "陈静", "KR2", "王总", "decide")

    # a member can't decide; the boss approves one and declines another: those leave the digest
    with pytest.raises(KrbotError):
        services.decide_ask(uow=example.uow, person="chen", ask_id=money.id, approve=True, at=berlin(11, 14))
    assert services.decide_ask(uow=example.uow, person="boss", ask_id=money.id, approve=True, at=berlin(11, 14)).ok
    assert services.decide_ask(
        uow=example.uow, person="boss", ask_id=permission.id, approve=False, at=berlin(11, 14)
    ).ok
    after = compose(example, berlin(11, 14, 17))
    assert [a.text for a in o1(after).asks] == ["3名剪辑师"]
    assert after.open_asks == 1
    text = render(after)
    assert "追加5000欧预算" not in text and "TikTok店铺权限" not in text
    assert "3名剪辑师" in text


# ---------------------------------------------------------------- the words


def _busy_quarter(app: App) -> Digest:
    """A digest with every part filled: conclusion, data, next steps, asks, missing, away, changes, overdue, stale."""
    say(app, "lin", "/kr update O1 5万欧", berlin(10, 15))
    say(app, "lin", "/kr update O1 17.5万欧 备注：旺季前预热", berlin(11, 12))
    say(app, "sun", "/kr update KR3 入欧备货=300万件 补货响应=48h 备注：海运提前到港", berlin(10, 28))
    say(
        app,
        "chen",
        "/kr update KR2 新客转化率=1.6% ACOS=27% 备注：素材更新后转化回升 下一步：扩大精准词 需求：追加5000欧预算",
        berlin(11, 12),
    )
    say(app, "chen", "/kr update KR4 竞品监控覆盖率=70% 风险：竞品降价频繁", berlin(10, 20))
    say(app, "zhao", "/kr update KR1 新客订单=20单 风险：TikTok Shop新渠道启动延迟 需求：TikTok店铺权限", berlin(10, 20))
    say(app, "lin", "/kr change KR2 target=2.2% reason: 旺季提前", berlin(11, 10), key="change.saved")
    say(app, "zhao", "/kr away 2026-11-09..2026-11-20", berlin(11, 8), key="reply.away")
    digest = compose(app, berlin(11, 13, 17))
    assert digest.changes and digest.overdue and digest.stale and digest.missing and digest.away
    assert o1(digest).asks and o1(digest).next_steps and o1(digest).main_risk
    return digest


def test_pyramid_order_conclusion_then_data_then_next_steps_and_asks(example: App) -> None:
    digest = _busy_quarter(example)
    for fmt in ("text", "markdown"):
        for lang, head, data, nxt, asks in (
            ("zh", "截至11月13日，O1", "关键数据", "下一步", "待决策需求"),
            ("en", "As of Nov 13, O1", "Key data", "Next steps", "Asks for decision"),
        ):
            text = render(digest, fmt=fmt, lang=lang)
            positions = [text.find(word) for word in (head, data, nxt, asks)]
            assert -1 not in positions, (fmt, lang, positions)
            assert positions == sorted(positions), (fmt, lang, positions)
    # the conclusion is one sentence with the as-of date, completion, forecast, gap and main risk
    zh = conclusion(render(digest))
    assert zh.count("。") == 1 and zh.endswith("。")
    # KR2's ACOS is broken (27% > 25%): off track, the worst status, so the main risk (KR1 is at risk: its
    # GMV is not reported, so it has no forecast, and its orders are forecast below 80%)
    for part in ("截至11月13日", "完成度35%", "可完成79%", "缺口10.4万欧", "主要风险在KR2"):
        assert part in zh


_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_CODE = re.compile(r"(?:O|KR|P)\d+")
_ALLOWED = {"EUR", "USD", "CNY", "h", "d", "OKR", "KR"}  # units and the product's own acronyms


def _example_words() -> set[str]:
    """ASCII words of the example file's own titles, names and strategy (ACOS, GMV, SP, Q4, TikTok, Shop…)."""
    data = yaml.safe_load(EXAMPLE_ZH.read_text(encoding="utf-8"))
    found: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("name", "title", "strategy") and isinstance(value, str):
                    found.update(_WORD.findall(value))
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(data)
    return found


def _english_words(text: str) -> list[str]:
    allowed = _example_words() | _ALLOWED
    return [w for w in _WORD.findall(text) if w not in allowed and not _CODE.fullmatch(w)]


def test_the_zh_digest_has_no_english_words(example: App) -> None:
    digest = _busy_quarter(example)
    assert {"ACOS", "GMV", "SP", "TikTok", "Shop", "Q4"} <= _example_words()
    for fmt in ("text", "markdown"):
        assert _english_words(render(digest, fmt=fmt, lang="zh")) == [], fmt


def test_a_people_ask_in_the_zh_digest_has_no_english_word(example: App) -> None:
    say(example, "zhao", "/kr update KR1 需求：3名剪辑师", berlin(11, 11))
    text = render(compose(example, berlin(11, 13, 17)))
    line = next(line for line in text.splitlines() if "3名剪辑师" in line)
    assert _english_words(line) == [], line


_CJK = re.compile(r"[\u4e00-\u9fff]+")
_ZH_LABELS = (
    "截至", "完成度", "按当前趋势", "缺口", "主要风险", "关键数据", "下一步", "待决策需求", "本周未填报", "休假",
    "目标变更", "逾期任务", "停滞", "路径", "负责人归因", "尚未填报", "正常", "有风险", "偏离", "已完成", "无数据",
    "已突破", "趋势将突破", "资金", "权限", "待王总决定", "修改", "原因", "最近填报", "从未填报", "月",
)


def test_the_en_digest_has_english_labels(example: App) -> None:
    digest = _busy_quarter(example)
    typed = "旺季前预热 海运提前到港 素材更新后转化回升 扩大精准词 追加5000欧预算 竞品降价频繁 新渠道启动延迟 店铺权限 旺季提前"
    source = EXAMPLE_ZH.read_text(encoding="utf-8") + typed
    for fmt in ("text", "markdown"):
        en = render(digest, fmt=fmt, lang="en")
        for label in (
            "Nov 13", "complete", "short by", "Main risk", "Key data", "Next steps", "Asks for decision",
            "Not checked in this week", "Away", "Goal changes", "Overdue tasks", "Stale", "off track", "money",
        ):
            assert label in en, (fmt, label)
        # every Chinese run comes from the users' own data (titles, names, units, what they typed) …
        assert [run for run in _CJK.findall(en) if run not in source] == [], fmt
        # … and none is one of the zh catalog's words
        stripped = en
        for data in sorted(set(_CJK.findall(source)), key=len, reverse=True):
            stripped = stripped.replace(data, " ")
        assert [label for label in _ZH_LABELS if label in stripped] == [], fmt


# ---------------------------------------------------------------- user text shown as text

EVIL = "@channel @here <!channel> {{ 7*7 }} {% for %}\n第二行 **bold** | table |"


def test_user_text_is_shown_literally_on_one_line_without_pings(example: App) -> None:
    # a plain check-in first, to compare the layout
    say(example, "chen", "/kr update KR2 1.6% 备注：普通 下一步：普通 风险：普通", berlin(10, 20))
    plain = compose(example, berlin(10, 20, 13))
    say(example, "chen", f"/kr update KR2 1.6% 备注：{EVIL} 下一步：{EVIL} 风险：{EVIL}", berlin(10, 20, 15))
    digest = compose(example, berlin(10, 20, 16))
    assert o1(digest).main_risk is not None and o1(digest).main_risk.code == "KR2"
    for lang in ("zh", "en"):
        text = render(digest, fmt="text", lang=lang)
        shown = [line for line in text.splitlines() if "{{ 7*7 }}" in line]
        assert len(shown) == 3, text  # conclusion (main risk), owner's cause, next step
        for line in shown:
            assert "{% for %}" in line and "第二行 **bold** | table |" in line  # literal, newline folded
        assert "49" not in text
        assert not any(line.lstrip().startswith("第二行") for line in text.splitlines())
        assert "@channel" not in text and "@here" not in text
        assert not re.search(r"(?<![\w\u200b])@(channel|here)\b", text)
        # the same layout as with plain words: not one line more
        assert len(text.splitlines()) == len(render(plain, fmt="text", lang=lang).splitlines())

        md = render(digest, fmt="markdown", lang=lang)
        md_shown = [line for line in md.splitlines() if "7\\*7" in line]
        assert len(md_shown) == 3, md
        for line in md_shown:
            assert "\\{\\{ 7\\*7 \\}\\}" in line
            assert "\\*\\*bold\\*\\*" in line and "\\| table \\|" in line
            assert "\\<!channel\\>" in line
            assert "**bold**" not in line and "| table |" not in line
        assert "49" not in md
        assert "@channel" not in md and "@here" not in md
        assert len(md.splitlines()) == len(render(plain, fmt="markdown", lang=lang).splitlines())


def test_a_very_long_note_is_shortened(example: App) -> None:
    note = "很长的备注" * 1000  # 5,000 characters
    say(example, "chen", f"/kr update KR2 1.6% 备注：{note}", berlin(10, 11))
    digest = compose(example, berlin(10, 11, 13))
    assert kr(digest, "KR2").cause == note  # the data keeps it …
    for fmt in ("text", "markdown"):
        for lang in ("zh", "en"):
            text = render(digest, fmt=fmt, lang=lang)
            lines = [line for line in text.splitlines() if "很长的备注" in line]
            assert lines  # … the words shorten it (cause and main risk)
            for line in lines:
                assert len(line) < 600 and "…" in line, (fmt, lang, len(line))
            assert len(text) < 5000


def test_a_past_digest_reads_the_target_then_in_force(example: App) -> None:
    """A digest of a week before a target change shows the old target, as it read then."""
    say(example, "chen", "/kr update KR2 1.6%", berlin(11, 5))
    say(example, "lin", "/kr change KR2 target=2.2% reason: 旺季提前", berlin(11, 10), key="change.saved")
    # as of 11-06 the target was 2.0%: (1.6 − 1.5)/(2.0 − 1.5) = 20%; today it reads 2.2%: 0.1/0.7 = 14%
    then = kr(compose(example, berlin(11, 6)), "KR2").measures[0]
    assert then.target == approx(2.0) and then.completion == approx(0.2)
    now = kr(compose(example, berlin(11, 11)), "KR2").measures[0]
    assert now.target == approx(2.2) and now.completion == approx(0.1 / 0.7)
    seen(render(compose(example, berlin(11, 6))), "新客转化率", "1.6%", "目标2%", "20%")


def test_a_kr_added_mid_cycle_is_stale_only_two_periods_after_its_import(example: App) -> None:
    """KR9 imported on 10-31: on 11-13 (13 days later) it is not stale; on 11-15 (15 days) it is."""
    document = yaml.safe_load(EXAMPLE_ZH.read_text(encoding="utf-8"))
    path = document["objectives"][0]["paths"][0]
    added = {**path["krs"][0], "code": "KR9", "title": "新增KR", "tasks": []}
    path["krs"].append(added)
    services.import_okrs(
        uow=example.uow, text=yaml.safe_dump(document, allow_unicode=True), filename="q4.yaml", at=berlin(10, 31)
    )
    assert "KR9" not in {s.code for s in compose(example, berlin(11, 13)).stale}
    stale = {s.code: s.days for s in compose(example, berlin(11, 15)).stale}
    assert stale["KR9"] == 15  # counted from its import, not from the cycle's start (45 days)
