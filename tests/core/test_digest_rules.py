"""CONTRACT §7's digest rules in the pure core: main-risk sentence, this period's words, stale, final report, §8."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from bot.core.digest import compose_digest
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
    Workspace,
)
from bot.core.sentences import first_sentence
from bot.core.timeline import as_of_moment

CYCLE = Cycle(name="Q4", start=date(2026, 10, 1), end=date(2026, 12, 31))
DAY0 = datetime(2026, 10, 1, tzinfo=UTC)
SALES = Measure(name="sales", kind=MeasureKind.TARGET, baseline=0.0, target=100.0)


def day(n: float) -> datetime:
    """n days after the cycle's start."""
    return DAY0 + timedelta(days=n)


def okrs(*krs: KeyResult, objectives: int = 1) -> Okrs:
    """One objective per number with these KRs (codes suffixed from the second on)."""
    items = tuple(
        Objective(
            code=f"O{i + 1}", title=f"O{i + 1}", owner="boss", measures=(),
            paths=(StrategicPath(code="P", title="P", priority=1, krs=tuple(replace(k, code=k.code + ("" if i == 0 else f"-{i}")) for k in krs)),),
        )
        for i in range(objectives)
    )
    people = {"ann": Person(key="ann", name="Ann"), "boss": Person(key="boss", name="Boss")}
    return Okrs(workspace=Workspace(name="w"), people=people, cycle=CYCLE, objectives=items)


K1 = KeyResult(code="K1", title="Open the Berlin store", owner="ann", measures=(SALES,))


def ci(n: float, value: float | None = None, code: str = "K1", **words: str) -> Checkin:
    """A check-in by Ann."""
    return Checkin(code=code, person="ann", at=day(n), values={} if value is None else {"sales": value}, **words)


def digest(tree: Okrs, checkins: list[Checkin], as_of: float) -> object:
    """The digest at day `as_of`."""
    return compose_digest(okrs=tree, checkins=checkins, asks=[], changes=[], as_of=day(as_of))


# ----------------------------------------------------------------- the main-risk sentence

SENTENCE_CASES = [
    ("Supplier late. We lose two weeks.", "Supplier late"),
    ("渠道启动延迟。团队已到位", "渠道启动延迟"),
    ("Conversion 1.8% is below plan! Fix next week", "Conversion 1.8% is below plan"),  # 1.8 is no sentence end
    ("x" * 100, "x" * 79 + "…"),  # 80 characters at most, cut with …
    ("A" * 80, "A" * 80),
    ("line one\nline two. Next", "line one line two"),
]


@pytest.mark.parametrize(("text", "expected"), SENTENCE_CASES)
def test_first_sentence_at_most_80_characters(text: str, expected: str) -> None:
    """The first sentence, on one line, at most 80 characters, cut with "…"."""
    assert first_sentence(text=text) == expected


def test_main_risk_in_the_owners_words_of_this_period_else_the_title() -> None:
    """The latest risk of this period, else the latest note of this period, else the KR's title."""
    tree = okrs(K1)
    base = [ci(0.5, 0.0), ci(20, 5.0)]  # a forecast: (0.5, 0), (20, 5) → far below 100
    cases = [
        ([], "Open the Berlin store"),
        ([ci(1, risk="Old risk from week one.")], "Open the Berlin store"),  # older than the period: not this week's
        ([ci(19, note="Landlord delays. More later.")], "Landlord delays"),
        ([ci(18, risk="Permits missing. Tell the boss."), ci(19, note="A later note")], "Permits missing"),
    ]
    for extra, expected in cases:
        section = digest(tree, base + extra, 21).objectives[0]
        assert section.main_risk is not None and section.main_risk.sentence == expected


def test_a_kr_too_early_is_never_the_main_risk() -> None:
    """No forecast (under 14 days of data): no main risk, and the conclusion says too early."""
    section = digest(okrs(K1), [ci(5, 1.0, risk="Late")], 10).objectives[0]
    assert section.main_risk is None and section.forecast_completion is None and section.data_days == 5


# ----------------------------------------------------------------- this period's next steps, older ones dated


def test_next_steps_of_this_period_and_older_ones_dated() -> None:
    """A next step from this period is current; one older than seven days carries its date."""
    result = digest(okrs(K1), [ci(3, 1.0, next_step="Call the landlord")], 20).objectives[0]
    (step,) = result.next_steps
    assert not step.current and step.at == day(3)
    result = digest(okrs(K1), [ci(15, 1.0, next_step="Sign the lease")], 20).objectives[0]
    assert result.next_steps[0].current


# ----------------------------------------------------------------- stale, from the import day


def test_stale_counts_from_the_import_day_of_a_kr_added_mid_cycle() -> None:
    """Two periods without a check-in: stale; a KR imported on day 30 is not stale on day 40, but is on day 45."""
    added = replace(K1, code="K2", added=day(30))
    tree = okrs(K1, added)
    assert [s.code for s in digest(tree, [], 40).stale] == ["K1"]  # K1: 40 days since the cycle's start
    assert [s.code for s in digest(tree, [], 45).stale] == ["K1", "K2"]  # K2: 15 days since its import
    assert digest(tree, [], 13).stale == ()  # nobody in the first period(s)


# ----------------------------------------------------------------- the final report


def test_after_the_cycle_the_final_report_chases_nobody() -> None:
    """After 12-31: final, no 'not checked in', no stale, no forecast; the KR is met or missed."""
    tree = okrs(K1)
    result = digest(tree, [ci(20, 30.0), ci(80, 90.0)], 95)
    assert result.final and result.missing == () and result.stale == () and result.overdue == ()
    section = result.objectives[0]
    assert section.final and section.main_risk is None
    line = section.krs[0]
    assert line.status is Status.MISSED and line.measures[0].margin == pytest.approx(-10.0)
    assert line.measures[0].forecast_value == pytest.approx(90.0)  # the result, not a line
    before = digest(tree, [ci(20, 30.0), ci(80, 90.0)], 91)
    assert not before.final and before.missing == ("Ann",)


# ----------------------------------------------------------------- one objective's bad data leaves the rest (§8)


def test_a_value_that_breaks_one_objective_leaves_the_others() -> None:
    """An infinite stored value (as the 400-digit number was) makes O1 unavailable; O2 is still composed."""
    tree = okrs(K1, objectives=2)
    checkins = [ci(20, float("inf")), ci(20, 30.0, code="K1-1")]
    result = digest(tree, checkins, 30)
    assert [s.code for s in result.objectives] == ["O2"]
    assert [(u.code, u.title) for u in result.unavailable] == [("O1", "O1")]


# ----------------------------------------------------------------- the as-of day


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-10-20", datetime(2026, 10, 20, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=2)))),
        ("2026-10-20T17:00", datetime(2026, 10, 20, 17, 0, tzinfo=timezone(timedelta(hours=2)))),
        ("2026-10-20T17:00+00:00", datetime(2026, 10, 20, 17, 0, tzinfo=UTC)),
    ],
)
def test_a_date_alone_is_the_end_of_that_day(text: str, expected: datetime) -> None:
    """--as-of 2026-10-20 includes every check-in of that day in the workspace's timezone."""
    assert as_of_moment(text=text, tz=timezone(timedelta(hours=2))) == expected


def test_the_main_risk_in_the_html_report_is_text_not_markup() -> None:
    """Owners' words in the HTML conclusion are escaped once: no script runs, nothing double-escaped."""
    from bot.render import render_report

    tree = okrs(replace(K1, title="<b>Berlin</b>"))
    checkins = [ci(20, 5.0, risk="<script>alert(1)</script> stock & staff")]
    html = render_report(digest=digest(tree, checkins, 21), lang="en")
    assert "<script>alert(1)" not in html and "<b>Berlin" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; stock &amp; staff" in html
