"""CONTRACT §7 as amended by issue 21, rule by rule, on a digest composed and written without a database: statuses no
better than their weakest part, milestones counted alike, dates named as read, the result from the end of the deadline
day, percents that never cross a status threshold, the writer's digits, gaps below precision, percentage points."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from bot.core.digest import Digest, compose_digest
from bot.core.measures import AT_RISK_FROM, ON_TRACK_FROM
from bot.core.model import (
    Checkin,
    Cycle,
    KeyResult,
    Measure,
    MeasureKind,
    Objective,
    Okrs,
    Person,
    Status,
    StrategicPath,
    Task,
    Workspace,
)
from bot.core.timeline import as_of_moment
from bot.core.writing import STATUS_THRESHOLDS, format_percent
from bot.platforms import feishu_cards, slack_blocks
from bot.render import render_digest, render_report

CYCLE = Cycle(name="2026-Q4", start=date(2026, 10, 1), end=date(2026, 12, 31))
DAY0 = datetime(2026, 10, 1, tzinfo=UTC)


def day(n: float) -> datetime:
    """The moment n days after the cycle's start (UTC)."""
    return DAY0 + timedelta(days=n)


def target(name: str, baseline: float, goal: float, unit: str | None = None, **kw: Any) -> Measure:
    """A baseline -> target measure."""
    return Measure(name=name, kind=MeasureKind.TARGET, unit=unit, baseline=baseline, target=goal, **kw)


def kr(code: str, *measures: Measure) -> KeyResult:
    """A KR owned by Ann."""
    return KeyResult(code=code, title=f"{code} title", owner="ann", measures=measures)


def objective(*krs: KeyResult, headline: Measure | None = None, deadline: date | None = None) -> Objective:
    """O1 with one path holding these KRs."""
    paths = (StrategicPath(code="P1", title="path", priority=1, krs=krs),) if krs else ()
    return Objective(code="O1", title="Germany GMV", owner="ann", measures=(headline,) if headline else (),
                     paths=paths, deadline=deadline)


def compose(obj: Objective, rows: list[tuple[str, float, dict[str, float]]], as_of: datetime) -> Digest:
    """The digest of one objective with check-ins (code, day, values) at as_of."""
    okrs = Okrs(workspace=Workspace(name="w", language="en", timezone="UTC"),
                people={"ann": Person(key="ann", name="Ann")}, cycle=CYCLE, objectives=(obj,))
    checkins = [Checkin(code=code, person="ann", at=day(x), values=values) for code, x, values in rows]
    return compose_digest(okrs=okrs, checkins=checkins, asks=(), changes=(), as_of=as_of)


def text(digest: Digest, lang: str = "en") -> str:
    """The text digest in one language."""
    return render_digest(digest=digest, fmt="text", lang=lang)


# ---------------------------------------------------------------- 1. statuses no better than their weakest part


def test_an_objective_is_no_better_than_its_worst_kr_and_that_kr_is_its_main_risk() -> None:
    """The headline reaches 168%, KR3's guardrail is broken: off track, KR3 the main risk (never 'on track')."""
    gmv = target("GMV", 0, 500_000, "EUR")
    k2 = kr("K2", target("sales", 0, 100))
    k3 = kr("K3", target("stock", 0, 100), Measure(name="restock", kind=MeasureKind.AT_MOST, unit="h", limit=72.0))
    rows = [("O1", 14, {"GMV": 127_500.0}), ("K2", 14, {"sales": 16.0}), ("K3", 14, {"stock": 30.0, "restock": 80.0})]
    section = compose(objective(k2, k3, headline=gmv), rows, day(20)).objectives[0]
    assert section.forecast_completion == pytest.approx(127_500 / 14 * 92.0 / 500_000)  # 1.675…
    assert section.status is Status.OFF_TRACK
    assert section.main_risk is not None and section.main_risk.code == "K3"
    words = text(compose(objective(k2, k3, headline=gmv), rows, day(20)))
    assert "reaches 168%" in words and "Main risk: K3" in words


def test_the_main_risk_is_named_only_when_a_kr_is_at_risk_or_off_track() -> None:
    """Every KR on track: no main risk, however low one forecast is among them."""
    k1, k2 = kr("K1", target("a", 0, 100)), kr("K2", target("b", 0, 100))
    rows = [("K1", 14, {"a": 16.0}), ("K2", 14, {"b": 30.0})]
    section = compose(objective(k1, k2), rows, day(20)).objectives[0]
    assert section.status is Status.ON_TRACK and section.main_risk is None


# ---------------------------------------------------------------- 2. milestones counted alike


LAUNCH = Measure(name="launch", kind=MeasureKind.MILESTONE, due=date(2026, 12, 15))


def test_marking_a_milestone_done_before_its_due_never_lowers_the_forecast() -> None:
    """Sales forecast 156%, launch due Dec 15: before it is done it is left out; done, it counts 100% in both."""
    k1 = kr("K1", target("sales", 0, 100), LAUNCH)
    before = compose(objective(k1), [("K1", 30, {"sales": 50.85})], day(35)).objectives[0].krs[0]
    after = compose(objective(k1), [("K1", 30, {"sales": 50.85}), ("K1", 31, {"launch": 1.0})],
                    day(35)).objectives[0].krs[0]
    assert before.measures[0].forecast_completion == pytest.approx(50.85 / 30 * 92 / 100)  # 1.5594
    assert before.forecast_completion == pytest.approx(1.0)
    assert after.forecast_completion is not None and after.forecast_completion >= before.forecast_completion


def test_one_done_milestone_does_not_make_an_objective_reach_100() -> None:
    """A launch-only KR done, the other KR too early: the objective is too early, with no 'no gap'."""
    launch = kr("K1", Measure(name="launch", kind=MeasureKind.MILESTONE, due=date(2026, 10, 31)))
    sales = kr("K2", target("sales", 0, 100))
    digest = compose(objective(launch, sales), [("K1", 10, {"launch": 1.0}), ("K2", 5, {"sales": 25.0})], day(10))
    section = digest.objectives[0]
    assert section.forecast_completion is None and section.status is Status.TOO_EARLY
    words = text(digest)
    assert "too early to forecast" in words and "no gap" not in words and "reaches 100%" not in words


def test_a_kr_met_by_its_deadline_lists_no_overdue_task() -> None:
    """KR3's stock was due Oct 31 and met: its open task due Oct 20 is not overdue in November's digest."""
    stock = target("stock", 0, 100, due=date(2026, 10, 31))
    k3 = KeyResult(code="K3", title="K3 title", owner="ann", measures=(stock,),
                   tasks=(Task(title="customs", owner="ann", due=date(2026, 10, 20)),))
    met = compose(objective(k3), [("K3", 25, {"stock": 100.0})], day(40))
    assert met.objectives[0].krs[0].status is Status.MET and met.overdue == ()
    short = compose(objective(k3), [("K3", 25, {"stock": 60.0})], day(40))
    assert short.objectives[0].krs[0].status is Status.MISSED and [t.title for t in short.overdue] == ["customs"]


# ---------------------------------------------------------------- 5. the result from the end of the deadline day


def test_at_the_end_of_the_deadline_day_the_result_is_read() -> None:
    """A date alone as-of (Dec 31, 23:59:59.999999) is already the final report; a second before, still a trend."""
    gmv = target("GMV", 0, 500_000, "EUR")
    rows = [("O1", 30, {"GMV": 100_000.0}), ("O1", 60, {"GMV": 250_000.0}), ("O1", 90, {"GMV": 420_000.0})]
    at_end = compose(objective(headline=gmv), rows, as_of_moment(text="2026-12-31", tz=UTC))
    assert at_end.final and at_end.objectives[0].final
    assert "Final: O1" in text(at_end) and "short by €80k" in text(at_end)
    before = compose(objective(headline=gmv), rows, datetime(2026, 12, 31, 23, 59, 58, tzinfo=UTC))
    assert not before.final and "on the current trend" in text(before)


def test_the_headline_sentence_names_the_date_it_is_read_at() -> None:
    """The headline is due Nov 30 while O1's deadline is Dec 20: its forecast is 'by Nov 30'; after Nov 30 its
    result is 'by Nov 30', never 'missed its goal by Dec 20'."""
    gmv = target("GMV", 0, 500_000, "EUR", due=date(2026, 11, 30))
    obj = objective(headline=gmv, deadline=date(2026, 12, 20))
    rows = [("O1", 7, {"GMV": 50_000.0}), ("O1", 14, {"GMV": 100_000.0}), ("O1", 21, {"GMV": 150_000.0})]
    mid_en, mid_zh = text(compose(obj, rows, day(22)), "en"), text(compose(obj, rows, day(22)), "zh")
    assert "by Nov 30" in mid_en and "Dec 20" not in mid_en
    assert "预计11月30日可完成" in mid_zh
    late = compose(obj, rows, day(70))  # Dec 10: past the headline's due, before O1's deadline
    assert "missed its goal by Nov 30" in text(late) and "Dec 20" not in text(late)
    assert "截至11月30日未达成" in text(late, "zh")


# ---------------------------------------------------------------- 6. percents, digits, gaps, points


def test_the_threshold_rounding_matches_the_status_thresholds() -> None:
    """The percent writer's thresholds are the status rule's."""
    assert STATUS_THRESHOLDS == (AT_RISK_FROM, ON_TRACK_FROM)


@pytest.mark.parametrize(
    ("ratio", "shown"),
    [(0.996, "99%"), (0.9975, "99%"), (0.7996, "79%"), (0.795, "79%"), (1.0, "100%"), (0.8, "80%"),
     (0.805, "81%"), (1.004, "100%"), (0.354, "35%"), (1.2, "120%")],
)
def test_a_percent_never_rounds_up_across_a_status_threshold(ratio: float, shown: str) -> None:
    """99.6% is at risk and prints 99%; 79.6% is off track and prints 79%; elsewhere half away from zero."""
    assert format_percent(ratio=ratio) == shown


@pytest.mark.parametrize(("typed", "status", "word"), [(49.8, Status.AT_RISK, "at risk"),
                                                       (39.8, Status.OFF_TRACK, "off track")])
def test_the_kr_line_never_contradicts_its_status(typed: float, status: Status, word: str) -> None:
    """One check-in at day 46 forecasts twice as much at 92: 99.6% at risk reads 99%, 79.6% off track reads 79%."""
    digest = compose(objective(kr("K1", target("sales", 0, 100))), [("K1", 46, {"sales": typed})], day(50))
    line = digest.objectives[0].krs[0]
    assert line.status is status
    assert f"{word}, " in text(digest) and f"forecast {round(typed * 2) - 1}%" in text(digest)


def test_values_keep_their_writers_digits() -> None:
    """A typed 1,995 of 2,000 orders is 1,995 (99%), never 2,000 (100%); €2,165 stays €2,165; 2.5% stays 2.5%."""
    k1 = kr("K1", target("orders", 0, 2000, "orders"), target("GMV", 0, 5000, "EUR"), target("rate", 0, 5, "%"))
    digest = compose(objective(k1), [("K1", 5, {"orders": 1995.0, "GMV": 2165.0, "rate": 2.5})], day(6))
    for lang, words in (("en", ("1,995 orders of 2,000 orders (99%)", "€2,165 of €5,000", "2.5% of 5%")),
                        ("zh", ("1995 orders / 目标2000 orders（99%）", "2165欧 / 目标5000欧", "2.5% / 目标5%"))):
        shown = text(digest, lang)
        for word in words:
            assert word in shown, (lang, word, shown)


def test_a_gap_below_the_values_precision_is_none() -> None:
    """A forecast short of €92M by half a cent has no gap (never 'short by €0.0056')."""
    gmv = target("GMV", 0, 92_000_000, "EUR")
    rows = [("O1", 14, {"GMV": 14_000_000.0}), ("O1", 28, {"GMV": 27_999_999.999})]
    section = compose(objective(headline=gmv), rows, day(30)).objectives[0]
    assert section.gap is None
    assert "short by" not in text(compose(objective(headline=gmv), rows, day(30)))


def test_a_percent_measures_miss_is_in_percentage_points() -> None:
    """1.96% of 2.0% at the deadline: missed by 0.04 pp (差0.04个百分点), never 0.04%."""
    k2 = kr("K2", target("conversion", 1.5, 2.0, "%"))
    digest = compose(objective(k2), [("K2", 80, {"conversion": 1.96})], day(95))
    assert digest.objectives[0].krs[0].measures[0].margin == -0.04  # exact: the two numbers as typed
    assert "missed by 0.04 pp" in text(digest, "en") and "差0.04个百分点" in text(digest, "zh")


def test_a_number_reported_after_the_deadline_is_told_beside_the_result() -> None:
    """1.96% by Dec 31, 1.99% on Jan 3: the result stays 1.96%, the later number is mentioned beside it."""
    k2 = kr("K2", target("conversion", 1.5, 2.0, "%"))
    digest = compose(objective(k2), [("K2", 80, {"conversion": 1.96}), ("K2", 94, {"conversion": 1.99})], day(96))
    line = digest.objectives[0].krs[0].measures[0]
    assert (line.forecast_value, line.late_value) == (1.96, 1.99)
    assert "result 1.96% by Dec 31, missed by 0.04 pp; reported 1.99% on Jan 3, after the deadline" in text(digest)
    assert "1月3日在期限后填报1.99%" in text(digest, "zh")


def test_a_zero_width_range_is_not_printed() -> None:
    """Points on one straight line: the range is the forecast itself, so none is shown."""
    k1 = kr("K1", target("sales", 0, 100))
    digest = compose(objective(k1), [("K1", 7, {"sales": 7.0}), ("K1", 14, {"sales": 14.0}),
                                     ("K1", 21, {"sales": 21.0})], day(22))
    words = text(digest)
    assert "forecast 92 → 92%" in words and "(92–92%)" not in words


def test_a_down_measure_reads_its_value_and_target() -> None:
    """Lower is better: "26% (target 22%)", never "26% of 22%"."""
    digest = compose(objective(kr("K1", target("ACoS", 30, 22, "%"))), [("K1", 5, {"ACoS": 26.0})], day(6))
    assert "ACoS: 26% (target 22%)" in text(digest, "en")
    assert "ACoS：26%（目标22%）" in text(digest, "zh")
    assert "of 22%" not in text(digest, "en")


# ---------------------------------------------------------------- an objective with only a headline


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_an_objective_with_only_a_headline_shows_its_data_line(lang: str) -> None:
    """No KRs: the key data holds the headline's line on every surface."""
    gmv = target("GMV", 0, 500_000, "EUR")
    digest = compose(objective(headline=gmv), [("O1", 10, {"GMV": 100_000.0})], day(12))
    main, thread = slack_blocks.digest_messages(digest=digest, lang=lang)
    surfaces = {
        "text": text(digest, lang),
        "markdown": render_digest(digest=digest, fmt="markdown", lang=lang),
        "html": render_report(digest=digest, lang=lang),
        "slack": json.dumps([main, *thread], ensure_ascii=False),
        "feishu": json.dumps(feishu_cards.digest_cards(digest=digest, lang=lang), ensure_ascii=False),
    }
    line = "GMV: €100k of €500k (20%)" if lang == "en" else "GMV：10万欧 / 目标50万欧（20%）"
    for surface, shown in surfaces.items():
        assert line in shown, (surface, shown)
