"""The owner's confidence (CONTRACT §6, §7) in the pure core: the grammar, the disagreement with the trend, and the
final report's calibration, and how each reads in zh and en (no database)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from bot import commands
from bot.core.confidence import disagrees, read_confidence
from bot.core.digest import Digest, compose_digest
from bot.core.errors import KrbotError
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
from bot.i18n import error_message
from bot.render import render_digest

CYCLE = Cycle(name="Q4", start=date(2026, 10, 1), end=date(2026, 12, 31))
DAY0 = datetime(2026, 10, 1, tzinfo=UTC)
SALES = Measure(name="sales", kind=MeasureKind.TARGET, baseline=0.0, target=100.0)
K1 = KeyResult(code="K1", title="Berlin store", owner="ann", measures=(SALES,))
K2 = KeyResult(code="K2", title="Paris store", owner="bob", measures=(SALES,))


def day(n: float) -> datetime:
    """n days after the cycle's start."""
    return DAY0 + timedelta(days=n)


def tree(*krs: KeyResult) -> Okrs:
    """One objective with these KRs on one path."""
    objective = Objective(code="O1", title="Grow", owner="boss", measures=(),
                          paths=(StrategicPath(code="P", title="P", priority=1, krs=krs),))
    people = {key: Person(key=key, name=key.title()) for key in ("ann", "bob", "boss")}
    return Okrs(workspace=Workspace(name="w"), people=people, cycle=CYCLE, objectives=(objective,))


def ci(
    n: float, value: float | None, *, code: str = "K1", person: str = "ann", confidence: int | None = None
) -> Checkin:
    """A check-in of `code` on day n."""
    values = {} if value is None else {"sales": value}
    return Checkin(code=code, person=person, at=day(n), values=values, confidence=confidence)


def digest(okrs: Okrs, checkins: list[Checkin], as_of: float) -> Digest:
    """The digest at day `as_of`."""
    return compose_digest(okrs=okrs, checkins=checkins, asks=[], changes=[], as_of=day(as_of))


# ---------------------------------------------------------------- the grammar (§6)


@pytest.mark.parametrize(
    ("typed", "score"),
    [("7", 7), ("7/10", 7), ("７／１０", 7), ("0", 0), ("10", 10), ("10/10", 10), ("on track", 8), ("At Risk", 5),
     ("off-track", 2), ("有把握", 8), ("有风险", 5), ("没把握", 2)],
)
def test_a_confidence_is_read_as_a_score_from_0_to_10(typed: str, score: int) -> None:
    """Numbers 0–10 (with or without /10, full-width too) and the three words, read as 8, 5 and 2."""
    assert read_confidence(text=typed) == score


@pytest.mark.parametrize("typed", ["11", "7.5", "-1", "high", "8/100", "很高"])
def test_anything_else_is_refused_naming_what_would_work(typed: str) -> None:
    """A refusal names the word and says what would work, in both languages."""
    with pytest.raises(KrbotError) as refused:
        read_confidence(text=typed)
    assert refused.value.key == "confidence.unreadable"
    en, zh = (error_message(refused.value, lang=lang) for lang in ("en", "zh"))
    assert typed in en and "0 to 10" in en and "at risk" in en
    assert typed in zh and "有风险" in zh


def test_update_takes_confidence_beside_the_values_and_the_words_in_either_language() -> None:
    """`confidence:` / `信心：` (either colon) after the values, among the other keywords; alone it is a check-in too."""
    update = commands.parse_command(text="/kr update KR2 新客转化率=1.8% confidence: 7/10 note: 素材更新")
    assert isinstance(update, commands.Update)
    assert (update.confidence, update.note, [v.text for v in update.values]) == (7, "素材更新", ["1.8%"])
    update = commands.parse_command(text="/kr update KR2 1.8%，信心：有风险 备注：慢")
    assert isinstance(update, commands.Update) and (update.confidence, update.note) == (5, "慢")
    update = commands.parse_command(text="/kr update KR2 信心:8")
    assert isinstance(update, commands.Update) and update.confidence == 8 and update.values == ()
    assert commands.parse_command(text="/kr update KR2 1.8%").confidence is None  # type: ignore[union-attr]
    with pytest.raises(KrbotError) as refused:
        commands.parse_command(text="/kr update KR2 1.8% confidence: very")
    assert refused.value.key == "confidence.unreadable" and refused.value.params["word"] == "very"


# ---------------------------------------------------------------- owner against trend (§7)


@pytest.mark.parametrize(
    ("score", "status", "expected"),
    [(7, Status.OFF_TRACK, True), (10, Status.OFF_TRACK, True), (6, Status.OFF_TRACK, False),
     (3, Status.ON_TRACK, True), (0, Status.ON_TRACK, True), (4, Status.ON_TRACK, False),
     (8, Status.AT_RISK, False), (2, Status.OFF_TRACK, False), (9, Status.ON_TRACK, False),
     (9, Status.TOO_EARLY, False)],
)
def test_owner_and_trend_disagree_at_7_or_more_off_track_and_3_or_less_on_track(
    score: int, status: Status, expected: bool
) -> None:
    """The two thresholds of §7, and agreement everywhere else."""
    assert disagrees(score=score, status=status) is expected


def test_the_kr_line_shows_the_latest_confidence_kept_until_changed() -> None:
    """A later check-in without a confidence keeps the last one; an agreeing one reads `owner 8/10` / `负责人信心8/10`."""
    checkins = [ci(0, 10, confidence=8), ci(20, 40), ci(25, 45)]  # on track (forecast well over 100%)
    d = digest(tree(K1), checkins, as_of=30)
    line = d.objectives[0].krs[0]
    assert (line.status, line.confidence, line.disagrees) == (Status.ON_TRACK, 8, False)
    assert d.objectives[0].disagreement is None
    assert "K1 Berlin store — Ann — on track" in render_digest(digest=d, lang="en")
    assert "· owner 8/10" in render_digest(digest=d, lang="en")
    assert "· 负责人信心8/10" in render_digest(digest=d, lang="zh")
    no_call = digest(tree(K1), [ci(0, 10), ci(20, 40)], as_of=30)
    assert no_call.objectives[0].krs[0].confidence is None
    plain = render_digest(digest=no_call, lang="en")
    assert "8/10" not in plain and "owner " not in plain


def test_a_disagreement_is_said_on_the_line_and_the_largest_one_in_the_conclusion() -> None:
    """Ann says 8/10 while K1 is off track (28%); Bob says 3/10 while K2 is on track: both lines say so, and the
    conclusion names the larger gap (Ann's: |0.8 − 0.28| against Bob's |0.3 − 1.0|: Bob's; K2's own measure is
    forecast at 148%, capped at 100% in the KR's mean, §7)."""
    checkins = [
        ci(0, 5, confidence=8), ci(20, 10),  # K1: 28% by the deadline
        ci(0, 10, code="K2", person="bob", confidence=3), ci(20, 40, code="K2", person="bob"),  # K2: 148%, 100% as a KR
    ]
    d = digest(tree(K1, K2), checkins, as_of=30)
    k1, k2 = d.objectives[0].krs
    assert (k1.status, k1.disagrees, k2.status, k2.disagrees) == (Status.OFF_TRACK, True, Status.ON_TRACK, True)
    assert d.objectives[0].disagreement is not None and d.objectives[0].disagreement.code == "K2"
    en, zh = render_digest(digest=d, lang="en"), render_digest(digest=d, lang="zh")
    assert "Ann says 8/10; the trend says 28%" in en and "Bob says 3/10; the trend says 100%" in en
    assert "Ann信心8/10，趋势只到28%" in zh and "Bob信心3/10，趋势已到100%" in zh
    conclusion_en = en.split("\n")[2]
    assert conclusion_en.endswith("Owner and trend disagree most on K2: Bob says 3/10; the trend says 100%.")
    assert "负责人与趋势分歧最大的是K2：Bob信心3/10，趋势已到100%。" in zh.split("\n")[2]
    only_k1 = digest(tree(K1, K2), checkins[:2] + [replace(c, confidence=None) for c in checkins[2:]], as_of=30)
    assert only_k1.objectives[0].disagreement is not None and only_k1.objectives[0].disagreement.code == "K1"


# ---------------------------------------------------------------- calibration in the final report (§7)


def test_the_final_report_holds_each_owners_confidence_four_weeks_before_the_deadline_against_the_result() -> None:
    """The deadline is Dec 31 (its end: day 92); four weeks before is day 64: Ann said 9 on day 50 and 3 on day 80 —
    the 9 counts; K1 ended at 40%, missed. Bob gave no confidence by day 64: no calibration for him."""
    checkins = [
        ci(0, 0), ci(50, 30, confidence=9), ci(80, 35, confidence=3), ci(91, 40),
        ci(0, 0, code="K2", person="bob"), ci(70, 80, code="K2", person="bob", confidence=6),
    ]
    d = digest(tree(K1, K2), checkins, as_of=95)
    assert d.final
    assert [(c.owner, [(k.code, k.score, round(k.reached or 0, 2), k.met) for k in c.krs]) for c in d.calibration] == [
        ("Ann", [("K1", 9, 0.4, False)])
    ]
    en, zh = render_digest(digest=d, lang="en"), render_digest(digest=d, lang="zh")
    assert "Calibration" in en and "Ann: K1 said 9/10, reached 40% (missed)" in en
    assert "信心校准" in zh and "Ann：K1信心9/10，结果40%（未达成）" in zh
    assert "Bob" not in en.split("Calibration")[1].split("\n")[1]
    mid = digest(tree(K1, K2), checkins, as_of=60)
    assert mid.calibration == () and "Calibration" not in render_digest(digest=mid, lang="en")
