"""The method behind the goals (issue 7): SMART lint by letter, path ranking, RACI, matrix, goal changes, backward plans."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from bot import services
from bot.app import App
from bot.core.errors import KrbotError
from bot.core.lint import budget_needed, lint_document
from bot.core.method import backward_plan, path_score, quadrant, rank_paths
from bot.core.model import KeyResult, Level, Objective, StrategicPath, Task
from bot.render import render_reply
from tests.conftest import EXAMPLE_EN, EXAMPLE_ZH, IMPORTED_AT

TERMS = services.smart_terms()  # the shipped vocabulary, as `krbot lint` uses it
EXAMPLE = EXAMPLE_ZH.read_text(encoding="utf-8")


def findings_of(text: str) -> list[tuple[str, str, str, str]]:
    """(severity, letter, code, key) of every finding of a file's text."""
    _, found = services.lint_file(text=text, filename="okrs.yaml")
    return [(f.severity, f.letter, f.code, f.key) for f in found]


def edited(**replacements: str) -> str:
    text = EXAMPLE
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


# ---------------------------------------------------------------- SMART, letter by letter


def test_the_shipped_examples_pass() -> None:
    """Both example files lint without a failure (and the A check is exactly at budget)."""
    for path in (EXAMPLE_ZH, EXAMPLE_EN):
        _, found = services.lint_file(text=path.read_text(encoding="utf-8"), filename=path.name)
        assert [f for f in found if f.fails] == []


def test_a_budget_arithmetic_by_hand() -> None:
    """500,000 ÷ 400 × 20 = 25,000 needed — exactly the example's budget; 20,000 is 5,000 short."""
    assert budget_needed(target=500_000, order_value=400, cost_per_new_customer=20) == 25_000
    _, found = services.lint_file(text=edited(**{"budget: 25000 EUR": "budget: 20000 EUR"}), filename="a.yaml")
    short = [f for f in found if f.letter == "A"]
    assert [(f.severity, f.code) for f in short] == [("fail", "O1")]
    assert short[0].params["needed"] == 25_000 and short[0].params["short"] == 5_000
    from bot.i18n import translate

    assert "2.5万欧" in translate(short[0].key, lang="zh", **short[0].params)
    assert "5000欧" in translate(short[0].key, lang="zh", **short[0].params)
    assert "€25k" in translate(short[0].key, lang="en", **short[0].params)


def test_s_a_vague_title_is_a_warning() -> None:
    """A slogan with no market, channel, product or number is flagged S (warn, not fail)."""
    text = edited(**{"title: 提升德国、法国亚马逊站点Q4新品销售额": "title: 做大做强"})
    assert ("warn", "S", "O1", "lint.s.vague") in findings_of(text)
    assert ("warn", "S", "O1", "lint.s.vague") not in findings_of(EXAMPLE)


def test_m_a_measure_without_target_is_reported_not_a_crash() -> None:
    """What import refuses (a measure with no target) is an M failure in the lint, with the rest still checked."""
    text = edited(**{"                baseline: 1.5\n                target: 2.0\n": "                baseline: 1.5\n"})
    found = findings_of(text)
    assert ("fail", "M", "KR2", "lint.m.missing") in found
    assert ("fail", "M", "KR2", "lint.m.no_target") in found
    with pytest.raises(KrbotError):
        services.import_okrs(uow=None, text=text, filename="m.yaml", at=IMPORTED_AT)  # type: ignore[arg-type]


def test_r_no_strategy_fails() -> None:
    assert ("fail", "R", "O1", "lint.r.no_strategy") in findings_of(edited(**{"strategy: 深耕欧洲品牌化": 'strategy: ""'}))


def test_t_deadlines_inside_the_cycle() -> None:
    """No deadline, a deadline past the cycle, a measure due past the cycle: each a T failure."""
    assert ("fail", "T", "O1", "lint.t.no_deadline") in findings_of(edited(**{"    deadline: 2026-12-31 ": "    # "}))
    assert ("fail", "T", "O1", "lint.t.deadline_late") in findings_of(edited(**{"deadline: 2026-12-31": "deadline: 2027-01-15"}))
    late = edited(**{"                due: 2026-10-31\n              - name: 补货响应": "                due: 2027-02-01\n              - name: 补货响应"})
    assert ("fail", "T", "KR3", "lint.t.measure_late") in findings_of(late)


def test_t_critical_task_buffer() -> None:
    """The example's customs step has 14 days before the stock-in due date: fine; moved 5 days later: a warning."""
    assert not [f for f in findings_of(EXAMPLE) if f[3] == "lint.t.short_buffer"]
    text = edited(**{"                due: 2026-10-17\n                buffer_days: 14": "                due: 2026-10-22\n                buffer_days: 14"})
    _, found = services.lint_file(text=text, filename="t.yaml")
    short = [f for f in found if f.key == "lint.t.short_buffer"]
    assert [(f.severity, f.code, f.params["days"]) for f in short] == [("warn", "KR3", 9)]  # 10-31 − 10-22 = 9


def test_tasks_before_the_cycle_are_preparation() -> None:
    """The factory step due 2026-09-15, before the cycle starts, is not a flaw."""
    assert not [f for f in findings_of(EXAMPLE) if f[1] == "T"]


def test_every_finding_in_one_run(run_cli, tmp_path: Path) -> None:
    """`krbot lint` reports them all at once and exits 1; the CLI prints letter, code and the fix."""
    text = edited(
        **{
            "budget: 25000 EUR": "budget: 20000 EUR",
            "strategy: 深耕欧洲品牌化": 'strategy: ""',
            "deadline: 2026-12-31": "deadline: 2027-01-15",
        }
    )
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    code, out, _ = run_cli("lint", str(path))
    assert code == 1
    assert "A O1" in out and "R O1" in out and "T O1" in out
    assert "3项不通过" in out


# ---------------------------------------------------------------- paths, RACI, matrix


def _path(code: str, priority: int | None = None, **scores: str) -> StrategicPath:
    return StrategicPath(code=code, title=code, priority=priority, krs=(), scores=scores)


def test_paths_rank_by_priority_then_by_score() -> None:
    """Priorities first; the rest by score: ROI high 3, resources low 3, difficulty low 3 (by hand)."""
    cheap = _path("P-cheap", roi="high", resources="low", difficulty="low")  # 3 + 3 + 3 = 9
    costly = _path("P-costly", roi="high", resources="high", difficulty="high")  # 3 + 1 + 1 = 5
    middling = _path("P-mid", roi="medium", resources="medium", difficulty="medium")  # 2 + 2 + 2 = 6
    fixed = _path("P-fixed", priority=1, roi="low", resources="high", difficulty="high")
    assert [path_score(path=p) for p in (cheap, costly, middling)] == [9, 5, 6]
    objective = Objective(code="O1", title="t", owner="x", measures=(), paths=(costly, middling, fixed, cheap))
    ranked = rank_paths(objective=objective)
    assert [(r.rank, r.path.code, r.by_priority) for r in ranked] == [
        (1, "P-fixed", True),
        (2, "P-cheap", False),
        (3, "P-mid", False),
        (4, "P-costly", False),
    ]


def test_paths_command_shows_the_ranking_and_why(example: App) -> None:
    """Without priorities in the file, `/kr paths` ranks by score and says so."""
    text = EXAMPLE
    for n in (1, 2, 3, 4):
        text = text.replace(f"        priority: {n}\n", "", 1)
    services.import_okrs(uow=example.uow, text=text, filename="scores.yaml", at=IMPORTED_AT)
    reply = services.run_command(uow=example.uow, person="chen", text="/kr paths", at=IMPORTED_AT)
    paths = reply.params["objectives"][0]["paths"]
    # P2 roi high, resources low, difficulty low = 9; P3 3+1+2 = 6; P4 2+2+2 = 6; P1 2+1+1 = 4
    assert [(p["code"], p["score"]) for p in paths] == [("P2", 9), ("P3", 6), ("P4", 6), ("P1", 4)]
    from bot.render import render_reply

    assert "评分9" in render_reply(reply=reply)
    digest = services.compose(uow=example.uow, as_of=datetime(2026, 11, 20, 16, tzinfo=UTC))
    assert [k.path_code for k in digest.objectives[0].krs] == ["P2", "P3", "P4", "P1"]


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("            owner: chen\n            accountable: lin\n", "            owner: [chen, zhao]\n            accountable: lin\n", "owner"),
        ("                owner: sun\n                due: 2026-09-15", "                owner: [sun, lin]\n                due: 2026-09-15", "owner"),
        ("                owner: sun\n                due: 2026-09-15", "                due: 2026-09-15", "owner"),
        ("            accountable: lin\n            control: high\n            impact: medium", "            accountable: nobody\n            control: high\n            impact: medium", "accountable"),
    ],
)
def test_raci_one_responsible_known_people(app: App, old: str, new: str, field: str) -> None:
    """Exactly one Responsible per KR and per task, every RACI name a known person: else the import refuses."""
    with pytest.raises(KrbotError) as refused:
        services.import_okrs(uow=app.uow, text=edited(**{old: new}), filename="raci.yaml", at=IMPORTED_AT)
    assert refused.value.params["field"].endswith(field)
    assert services.workspace_language(uow=app.uow, workspace=None) == "en"  # nothing was written


def test_matrix_places_krs_by_control_and_impact(example: App) -> None:
    """KR3 high/high, KR2 high/medium, KR4 medium/medium, KR1 low/high (medium counts as low)."""
    kr = KeyResult(code="K", title="t", owner="x", measures=(), control=Level.HIGH, impact=Level.MEDIUM)
    assert quadrant(kr=kr) == "hl"
    reply = services.run_command(uow=example.uow, person="chen", text="/kr matrix", at=IMPORTED_AT)
    cells = {cell: [k["code"] for k in krs] for cell, krs in reply.params["quadrants"].items()}
    assert cells == {"hh": ["KR3"], "lh": ["KR1"], "hl": ["KR2"], "ll": ["KR4"]}


def test_digest_puts_high_impact_krs_first_within_a_path(example: App) -> None:
    """Two KRs on one path: the high-impact one leads the data section whatever the file order."""
    text = EXAMPLE.replace("        krs:\n          - code: KR2", "        krs:\n          - code: KR2", 1)
    moved = text.replace(
        "      - code: P4\n", "", 1
    ).replace(
        "        title: 动态调价压制竞品，会员复购激活（营销策略）\n        priority: 3\n        scores: {roi: medium, resources: medium, difficulty: medium}\n        krs:\n",
        "",
        1,
    )
    assert moved.count("- code: KR4") == 1
    services.import_okrs(uow=example.uow, text=moved.replace("impact: medium\n            measures:\n              - name: 竞品", "impact: high\n            measures:\n              - name: 竞品"), filename="p.yaml", at=IMPORTED_AT)
    digest = services.compose(uow=example.uow, as_of=datetime(2026, 11, 20, 16, tzinfo=UTC))
    p2 = [k.code for k in digest.objectives[0].krs if k.path_code == "P2"]
    assert p2 == ["KR4", "KR2"]


# ---------------------------------------------------------------- goal changes


def test_goal_change_records_and_shows_its_impact(example: App) -> None:
    """Raising KR1's GMV target logs old, new, reason, who and when, and says how much more a week it needs."""
    at = datetime(2026, 11, 19, 23, 0, tzinfo=UTC)  # 2026-11-20 00:00 Berlin: x = 50 days into the cycle
    services.run_command(uow=example.uow, person="zhao", text="/kr update KR1 GMV=2万欧", at=at)
    reply = services.run_command(
        uow=example.uow, person="lin", text="/kr change KR1 GMV.target=8万欧 reason: 加大TikTok投入", at=at
    )
    assert reply.ok, reply
    # One check-in: the line through (0, 0) and (x, 20,000), read at the end of Dec 31. Clocks went back on
    # Oct 25, so in real hours x = 50 + 1/24 days and the deadline is 92 + 1/24: forecast
    # 20,000 × 92.041667 / 50.041667 = 36,786.0. Gap to the new 80,000: 43,214.0; six weeks left (Nov 20 → Jan 1,
    # both CET): 43,214.0 / 6 = 7,202.3 more a week, shown to two significant digits: 7,200.
    assert reply.params["pace"]["measure"] == "GMV"
    assert reply.params["pace"]["amount"] == 7200
    # KR1 has no forecast of its own (新客订单 is not reported yet), but its overdue milestone (0%) and GMV (74%)
    # are forecast below 80%: at risk, never on track or too early
    assert reply.params["before"]["status"] == "at_risk"
    change = services.export_all(uow=example.uow, at=at)["changes"][-1]
    assert change == {
        "code": "KR1", "measure": "GMV", "field": "target", "old": "50000", "new": "80000",
        "reason": "加大TikTok投入", "person": "lin",
        "at": at.astimezone(ZoneInfo("Europe/Berlin")).isoformat(),  # the workspace's clock (§4)
    }
    told = {n.person for n in reply.notices}
    assert told == {"zhao", "boss"}  # owner and informed; lin (accountable) made the change herself


def test_consulted_are_asked_when_a_kr_drops(example: App) -> None:
    """KR4 names sun as consulted: when its status drops, a notice asks him for advice; a rise says nothing."""
    at = datetime(2026, 11, 1, 9, tzinfo=UTC)
    first = services.run_command(uow=example.uow, person="chen", text="/kr update KR4 竞品监控覆盖率=90% 会员复购率=31%", at=at)
    assert first.notices == ()
    worse = services.run_command(
        uow=example.uow, person="chen", text="/kr update KR4 竞品监控覆盖率=70% 会员复购率=26% 风险：ERP接口未开通",
        at=datetime(2026, 11, 16, 9, tzinfo=UTC),  # 15 days after the first: enough data for a forecast
    )
    assert [(n.person, n.key) for n in worse.notices] == [("sun", "notice.status_dropped")]
    assert worse.notices[0].params["note"] == "ERP接口未开通"


# ---------------------------------------------------------------- backward plans


def test_backward_plan_by_hand() -> None:
    """Customs (critical, 14-day buffer) finishes by Oct 17 for an Oct 31 due; the factory must finish when shipping starts."""
    factory = Task(title="factory", owner="sun", due=date(2026, 9, 15))
    customs = Task(title="customs", owner="sun", due=date(2026, 10, 17), buffer_days=14, critical=True)
    plan = backward_plan(tasks=[customs, factory], due=date(2026, 10, 31))
    assert [p.task.title for p in plan] == ["factory", "customs"]
    # customs: 10-31 − 14 = 10-17 latest finish; it runs from the factory's due (32 days): latest start 09-15
    assert (plan[1].latest_finish, plan[1].latest_start, plan[1].slack_days) == (date(2026, 10, 17), date(2026, 9, 15), 0)
    # factory: must finish by customs' latest start, 09-15; no earlier task, so no duration known
    assert (plan[0].latest_finish, plan[0].slack_days, plan[0].short_buffer) == (date(2026, 9, 15), 0, False)


def test_backward_plan_with_a_buffer_shortfall() -> None:
    """Customs planned for Oct 24 leaves 7 days before Oct 31: the plan is 7 days late and the buffer short."""
    customs = Task(title="customs", owner="sun", due=date(2026, 10, 24), buffer_days=14, critical=True)
    (planned,) = backward_plan(tasks=[customs], due=date(2026, 10, 31))
    assert planned.latest_finish == date(2026, 10, 17)  # 10-31 − 14
    assert planned.slack_days == -7  # due 10-24 is a week after the latest finish
    assert planned.buffer_after == 7 and planned.short_buffer


def test_plan_command_shows_latest_starts(example: App) -> None:
    reply = services.show_plan(uow=example.uow, code="KR3", at=IMPORTED_AT)
    rows = [(t["title"], t["latest_start"], t["latest_finish"]) for t in reply.params["tasks"]]
    assert rows == [("海运到港并清关", date(2026, 9, 15), date(2026, 10, 17)), ("工厂排产完成", date(2026, 9, 15), date(2026, 9, 15))]


def test_plan_does_not_mark_a_done_krs_tasks_overdue(example: App) -> None:
    """KR3's open tasks are past due on Nov 20: overdue while KR3 is short, not once every measure is reached."""
    at = datetime(2026, 11, 20, 16, tzinfo=UTC)
    short = services.show_plan(uow=example.uow, code="KR3", at=at)
    assert [t["overdue"] for t in short.params["tasks"]] == [True, True]
    assert "overdue" in render_reply(reply=short) or "逾期" in render_reply(reply=short)
    say = services.run_command(uow=example.uow, person="sun", text="/kr update KR3 入欧备货=600万件 补货响应=48h",
                               at=datetime(2026, 10, 30, 9, tzinfo=UTC))
    assert say.ok, say.key
    done = services.show_plan(uow=example.uow, code="KR3", at=at)
    assert [t["overdue"] for t in done.params["tasks"]] == [False, False]
    for lang in ("zh", "en"):
        text = render_reply(reply=replace(done, lang=lang))
        assert "overdue" not in text and "逾期" not in text, text


def test_lint_on_raw_data_is_pure() -> None:
    """The core lint reads plain data: a document with no objectives is one M failure, not an exception."""
    assert [f.key for f in lint_document(data={"cycle": {}}, terms=TERMS)] == ["lint.m.no_objectives"]
    assert [f.key for f in lint_document(data=yaml.safe_load("- not a mapping"), terms=TERMS)] == ["lint.m.no_objectives"]


def test_a_task_marked_done_leaves_the_overdue_list_and_survives_reimport(example: App) -> None:
    """`/kr done KR3 1` by the task's owner clears it from the digest's overdue tasks, even after a re-import."""
    at = datetime(2026, 11, 20, 16, tzinfo=UTC)
    assert len(services.compose(uow=example.uow, as_of=at).overdue) == 2
    refused = services.run_command(uow=example.uow, person="chen", text="/kr done KR3 1", at=at)
    assert refused.key == "task.not_owner"
    done = services.run_command(uow=example.uow, person="sun", text="/kr done KR3 工厂", at=at)
    assert done.key == "task.done" and done.params["task"] == "工厂排产完成"
    services.import_okrs(uow=example.uow, text=EXAMPLE, filename="again.yaml", at=at)
    assert [task.title for task in services.compose(uow=example.uow, as_of=at).overdue] == ["海运到港并清关"]
    unknown = services.run_command(uow=example.uow, person="sun", text="/kr done KR3 装船", at=at)
    assert unknown.key == "task.unknown" and "1. 海运到港并清关" in unknown.params["known"]


SHARED = EXAMPLE.replace(
    "    slack: U0ZHAO0001\n", "    slack: U0ZHAO0001\n    department: 新渠道部\n", 1
).replace(
    "    slack: U0SUN00001\n", "    slack: U0SUN00001\n    department: 供应链部\n", 1
).replace(
    "            owner: chen\n            consulted: [sun]\n",
    "            owner: chen\n            consulted: [sun]\n            contributors: {供应链部: sun}\n",
    1,
)


def test_shared_krs_show_up_in_each_departments_view(app: App) -> None:
    """KR4 (chen's) names a contributor from 供应链部: that department's view shows KR3 (its own) and KR4 (shared)."""
    services.import_okrs(uow=app.uow, text=SHARED, filename="shared.yaml", at=IMPORTED_AT)
    at = datetime(2026, 11, 20, 16, tzinfo=UTC)
    supply = services.compose(uow=app.uow, as_of=at, department="供应链部")
    assert [k.code for k in supply.objectives[0].krs] == ["KR3", "KR4"]
    channel = services.compose(uow=app.uow, as_of=at, department="新渠道部")
    assert [k.code for k in channel.objectives[0].krs] == ["KR1"]
    mine = services.run_command(uow=app.uow, person="sun", text="/kr list", at=at)
    assert [(r["code"], r.get("contributing")) for r in mine.params["rows"]] == [("KR3", False), ("KR4", True)]
    with pytest.raises(KrbotError) as unknown:
        services.compose(uow=app.uow, as_of=at, department="财务部")
    assert unknown.value.params["known"] == "新渠道部, 供应链部"
    # contributing is seeing, not reporting: the owner alone updates
    assert services.run_command(uow=app.uow, person="sun", text="/kr update KR4 80%", at=at).key == "checkin.not_owner"


def test_a_contributor_must_be_a_known_person(app: App) -> None:
    with pytest.raises(KrbotError) as refused:
        services.import_okrs(
            uow=app.uow, text=SHARED.replace("{供应链部: sun}", "{供应链部: nobody}"), filename="s.yaml", at=IMPORTED_AT
        )
    assert refused.value.params["field"].endswith("contributors.供应链部")
