"""Goal changes (CONTRACT §6 `/kr change`, §7 dated targets): due dates, repeats, reversals and the weekly pace."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from bot import services
from bot.app import App
from bot.core.errors import KrbotError
from bot.core.goals import round_pace
from bot.i18n import error_message, translate
from bot.render import render_reply
from storage.models import GoalChangeRow, MeasureRow
from tests.conftest import EXAMPLE_ZH

AT = "2026-11-10T10:00"


def _say(run_cli: Any, text: str, *, person: str = "lin", at: str = AT) -> tuple[int, str, str]:
    return run_cli("say", "--as", person, "--at", at, text)


def _changes(run_cli: Any) -> list[dict[str, Any]]:
    code, out, err = run_cli("export", "--format", "json")
    assert code == 0, err
    return json.loads(out)["changes"]


@pytest.fixture
def imported(run_cli: Any) -> Any:
    code, _, err = run_cli("import", str(EXAMPLE_ZH))
    assert code == 0, err
    return run_cli


def test_a_due_date_change_is_saved_and_shown_old_to_new(imported: Any) -> None:
    """`due=` on a KR (its first measure) and `deadline=` on an objective: saved, dated, and shown as old → new.

    Before, the KR's due change printed a traceback (a date shown as a number) after the change was committed."""
    code, out, err = _say(imported, "/kr change KR2 due=2026-12-15 reason: 提前到圣诞前")
    assert code == 0, err
    # the measure had no due of its own: the one in force was O1's deadline
    assert "新客转化率截止日期 2026-12-31 → 2026-12-15（原因：提前到圣诞前）" in out, out
    code, out, err = _say(imported, "/kr change O1 deadline=2026-12-20 reason: 提前")
    assert code == 0, err
    assert "截止日期 2026-12-31 → 2026-12-20" in out, out
    assert [(c["code"], c["measure"], c["field"], c["old"], c["new"], c["person"], c["at"]) for c in _changes(imported)] == [
        ("KR2", "新客转化率", "due", None, "2026-12-15", "lin", "2026-11-10T10:00:00+01:00"),  # the workspace's clock (§4)
        ("O1", None, "deadline", "2026-12-31", "2026-12-20", "lin", "2026-11-10T10:00:00+01:00"),
    ]


def test_a_failing_edit_leaves_nothing_written(app: App, imported: Any) -> None:
    """A good target and a bad due in one command: refused as a whole, the target stays 2.0, nothing is logged."""
    code, _, err = _say(imported, "/kr change KR2 target=2.2% due=2026-13-01 reason: 旺季")
    assert code == 2 and "2026-13-01" in err, err
    with app.uow.begin() as session:
        target = session.scalar(select(MeasureRow.target).where(MeasureRow.code == "KR2", MeasureRow.name == "新客转化率"))
        logged = session.scalar(select(func.count()).select_from(GoalChangeRow))
    assert (target, logged) == (2.0, 0)


def test_a_change_to_the_value_in_force_is_refused(imported: Any) -> None:
    """2% → 2.2% is saved and shown so; the same again is refused ("already 2.2%"), never announced as 2.2% → 2.2%."""
    code, out, err = _say(imported, "/kr change KR2 target=2.2% reason: 旺季")
    assert code == 0 and "目标 2% → 2.2%" in out, (out, err)
    code, out, err = _say(imported, "/kr change KR2 target=2.2% reason: 旺季")
    assert code == 2 and out == ""
    assert "指标“新客转化率”的目标已经是2.2%——未做修改" in err, err
    code, _, err = _say(imported, "/kr change KR2 due=2026-12-31 reason: 同上")  # O1's deadline is already in force
    assert code == 2 and "截止日期已经是2026-12-31" in err, err
    code, _, err = _say(imported, "/kr change KR3 补货响应.at_most=72h reason: 同上")
    assert code == 2 and "上限已经是72小时" in err, err
    assert len(_changes(imported)) == 1


def test_already_is_said_in_english_too() -> None:
    error = KrbotError("change.same", measure="CVR", field="target", current=2.2, unit="%")
    assert error_message(error, lang="en") == (
        "measure “CVR”: the target is already 2.2% — nothing changed; write the new value"
    )


def test_a_target_across_the_baseline_needs_a_reason_and_a_final_bang(app: App, imported: Any) -> None:
    """KR2 goes up from 1.5%: a target of 1.2% would turn it into a goal to go down. Refused, with what to do;
    with a reason and `!` at the end it is saved and logged like any change."""
    code, _, err = _say(imported, "/kr change KR2 target=1.2% reason: 新规限制投放")
    assert code == 2, err
    assert "目标改为1.2%会让目标低于基线（1.5% → 1.2%）" in err and "以 ! 结尾" in err, err
    code, _, err = _say(imported, "/kr change KR2 baseline=2.5% reason: 重新统计")  # the baseline crossing the target
    assert code == 2 and "基线改为2.5%会让目标低于基线（2.5% → 2%）" in err, err
    code, _, err = _say(imported, "/kr change KR2 target=1.2% !")
    assert code == 2 and "原因" in err, err
    assert _changes(imported) == []
    code, out, err = _say(imported, "/kr change KR2 target=1.2% reason: 新规限制投放，只求守住 !")
    assert code == 0, err
    assert "目标 2% → 1.2%" in out, out
    (change,) = _changes(imported)
    assert (change["field"], change["old"], change["new"], change["reason"]) == ("target", "2", "1.2", "新规限制投放，只求守住")


def test_a_reversal_is_explained_in_english() -> None:
    error = KrbotError(
        "change.reverses", measure="CVR", field="target", baseline=1.5, target=1.2, old_baseline=1.5,
        old_target=2.0, unit="%", was_up=True,
    )
    text = error_message(error, lang="en")
    assert text.startswith("measure “CVR”: a target of 1.2% puts the target below the baseline (1.5% → 1.2%)"), text
    assert "say why in reason: … and end the command with !" in text


def test_the_pace_is_written_in_points_for_a_percent_measure(example: App) -> None:
    """Three check-ins on a straight line, then KR2's target is raised to 2.2%: the reply says how many percentage
    points more a week it needs, rounded to what the goal's numbers can tell (0.04, not 0.0430907…)."""
    at = datetime(2026, 11, 5, 10, tzinfo=UTC)
    for moment, value in ((datetime(2026, 10, 8, 10, tzinfo=UTC), "1.55%"), (datetime(2026, 10, 22, 10, tzinfo=UTC), "1.6%"),
                          (at, "1.65%")):
        reply = services.run_command(uow=example.uow, person="chen", text=f"/kr update KR2 {value}", at=moment)
        assert reply.ok, reply
    reply = services.run_command(uow=example.uow, person="lin", text="/kr change KR2 target=2.2% reason: 旺季", at=at)
    assert reply.ok, reply
    # x in days since 00:00 Berlin on Oct 1 (= Sep 30 22:00 UTC): the points are (7.5, 1.55), (21.5, 1.6), (35.5, 1.65),
    # a straight line of 0.05 per 14 days. The deadline, the end of Dec 31 in Berlin (Dec 31 23:00 UTC), is
    # x0 = 92 + 1/24 = 92.0417: forecast 1.55 + (92.0417 − 7.5) × 0.05 / 14 = 1.851935; short of 2.2 by 0.348065.
    # From Nov 5 10:00 UTC to the deadline: 56 days 13 h = 8.07738 weeks; 0.348065 / 8.07738 = 0.0430907 a week,
    # two significant digits 0.043, no finer than one decimal beyond the goal's (1.5, 2.2: one decimal): 0.04.
    assert reply.params["pace"] == {"measure": "新客转化率", "amount": 0.04, "unit": "%", "down": False}
    assert "新客转化率每周需比当前趋势多增0.04个百分点" in render_reply(reply=reply)
    english = translate(reply.key, lang="en", **reply.params)
    assert "新客转化率 needs 0.04 points more a week than its trend" in english, english


@pytest.mark.parametrize(
    ("amount", "baseline", "target", "shown"),
    [
        (0.0430907, 1.5, 2.2, 0.04),  # two digits 0.043; the goal has one decimal, so at most two: 0.04
        (7202.3, 0, 80000, 7200),  # two significant digits
        (0.3489, 1.5, 2.0, 0.35),  # two digits, within two decimals
        (0.003, 1.5, 2.0, 0.003),  # would round to 0.00: one significant digit is kept
        (12.5, 0, 500, 13),  # half away from zero
        (0.0456, 25, 35, 0.05),  # whole-number goal: one decimal at most gives 0.0, which says nothing: one digit
        (-3.14, 10, 2, -3.1),  # the sign is kept
    ],
)
def test_round_pace(amount: float, baseline: float, target: float, shown: float) -> None:
    assert round_pace(amount=amount, baseline=baseline, target=target) == shown


@pytest.mark.parametrize(("locale", "typed", "stored"), [("de-DE", "80.000 €", 80000.0), ("en-US", "€80,000", 80000.0)])
def test_a_goal_change_is_read_in_the_writers_locale(
    app: App, run_cli: Any, tmp_path: Any, locale: str, typed: str, stored: float
) -> None:
    """The new target goes through the one number reader: `80.000 €` is eighty thousand for a de-DE writer,
    and the same `80.000` from an en-US writer is refused as ambiguous, leaving the goal as it was."""
    text = EXAMPLE_ZH.read_text(encoding="utf-8").replace(
        "  timezone: Europe/Berlin", f"  timezone: Europe/Berlin\n  locale: {locale}", 1
    )
    path = tmp_path / "locale.yaml"
    path.write_text(text, encoding="utf-8")
    assert run_cli("import", str(path))[0] == 0
    code, _, err = _say(run_cli, f"/kr change KR1 GMV.target={typed} reason: 加大投入")
    assert code == 0, err
    (change,) = _changes(run_cli)
    assert (change["field"], change["old"], float(change["new"])) == ("target", "50000", stored)
    if locale == "en-US":
        code, _, err = _say(run_cli, "/kr change KR1 GMV.target=90.000 reason: 再加")
        assert code == 2 and "90.000" in err, err
        assert len(_changes(run_cli)) == 1
