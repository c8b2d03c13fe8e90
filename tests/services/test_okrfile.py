"""The OKR file (CONTRACT §5) through `krbot import` and `krbot lint` (§4), on SQLite and PostgreSQL.

Bad files are made by editing one line of the shipped example, so every line number is a real one,
computed here from the text.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, inspect, select, table

from bot.app import App

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_ZH = ROOT / "examples" / "q4-europe.zh.yaml"
EXAMPLE_EN = ROOT / "examples" / "q4-europe.en.yaml"
TABLES = (
    "workspaces",
    "people",
    "cycles",
    "objectives",
    "paths",
    "krs",
    "measures",
    "tasks",
    "checkins",
    "checkin_values",
    "asks",
    "goal_changes",
)
WORKSPACE = "欧洲事业部"


# ---------------------------------------------------------------- helpers


def _text() -> str:
    return EXAMPLE_ZH.read_text(encoding="utf-8")


def _edit(text: str, old: str, new: str) -> str:
    """Replace exactly one occurrence, so the edit lands where the test means it to."""
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in the example"
    return text.replace(old, new)


def _line(text: str, needle: str, *, after: str | None = None) -> int:
    """1-based number of the first line containing `needle` (after the first line containing `after`)."""
    lines = text.splitlines()
    start = 0
    if after is not None:
        start = next(i for i, line in enumerate(lines) if after in line)
    return next(i for i, line in enumerate(lines) if i >= start and needle in line) + 1


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _rows(app: App) -> dict[str, int]:
    """Rows per table, read straight from the database."""
    names = set(inspect(app.uow.engine).get_table_names())
    with app.uow.engine.connect() as connection:
        return {
            name: connection.execute(select(func.count()).select_from(table(name))).scalar_one() if name in names else 0
            for name in TABLES
        }


def _export(run_cli: Any) -> dict[str, Any]:
    code, out, err = run_cli("export", "--format", "json")
    assert code == 0, err
    return json.loads(out)


def _krs(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {kr["code"]: kr for o in data["objectives"] for p in o["paths"] for kr in p["krs"]}


def _file_counts(text: str) -> Counter[str]:
    spec = yaml.safe_load(text)
    counts: Counter[str] = Counter(people=len(spec["people"]))
    for objective in spec["objectives"]:
        counts["objectives"] += 1
        counts["measures"] += len(objective.get("measures", []))
        for path in objective.get("paths", []):
            counts["paths"] += 1
            for kr in path.get("krs", []):
                counts["krs"] += 1
                counts["measures"] += len(kr["measures"])
                counts["tasks"] += len(kr.get("tasks", []))
    return counts


def _export_counts(data: dict[str, Any]) -> Counter[str]:
    counts: Counter[str] = Counter(people=len(data["people"]))
    for objective in data["objectives"]:
        counts["objectives"] += 1
        counts["measures"] += len(objective["measures"])
        for path in objective["paths"]:
            counts["paths"] += 1
            for kr in path["krs"]:
                counts["krs"] += 1
                counts["measures"] += len(kr["measures"])
                counts["tasks"] += len(kr["tasks"])
    return counts


# ---------------------------------------------------------------- the shipped example


def test_example_imports_everything_in_the_file(run_cli: Any) -> None:
    code, out, err = run_cli("import", str(EXAMPLE_ZH))
    assert code == 0, err
    expected = _file_counts(_text())
    assert expected == Counter(people=5, objectives=1, paths=4, krs=4, measures=12, tasks=2)
    assert _export_counts(_export(run_cli)) == expected
    # the summary the user reads says the same numbers
    summary = out.splitlines()[0]
    assert WORKSPACE in summary
    assert "新增" in summary, summary
    for word in (
        f"{expected['people']}个人员",
        f"{expected['objectives']}个目标",
        f"{expected['paths']}个路径",
        f"{expected['krs']}个KR",
        f"{expected['measures']}个指标",
        f"{expected['tasks']}个任务",
    ):
        assert word in summary, summary
    assert "SMART检查通过" in out


def test_example_keeps_its_structure(run_cli: Any) -> None:
    assert run_cli("import", str(EXAMPLE_ZH))[0] == 0
    data = _export(run_cli)
    assert data["workspace"]["name"] == WORKSPACE
    assert data["workspace"]["timezone"] == "Europe/Berlin"
    assert data["cycle"] == {"name": "2026-Q4", "start": "2026-10-01", "end": "2026-12-31"}
    objective = data["objectives"][0]
    assert objective["code"] == "O1" and objective["owner"] == "lin"
    assert [p["code"] for p in objective["paths"]] == ["P3", "P2", "P4", "P1"]
    krs = _krs(data)
    assert {code: kr["owner"] for code, kr in krs.items()} == {"KR3": "sun", "KR2": "chen", "KR4": "chen", "KR1": "zhao"}
    kr2 = {m["name"]: m for m in krs["KR2"]["measures"]}
    assert kr2["新客转化率"]["baseline"] == 1.5 and kr2["新客转化率"]["target"] == 2.0
    assert kr2["ACOS"]["at_most"] == 25
    assert [t["title"] for t in krs["KR3"]["tasks"]] == ["工厂排产完成", "海运到港并清关"]


# ---------------------------------------------------------------- bad files


def _case_indent(text: str) -> tuple[str, int, list[str]]:
    line = "    title: 提升德国、法国亚马逊站点Q4新品销售额"
    bad = _edit(text, line, line[1:])  # one space short: no longer inside the objective
    return bad, _line(bad, line[1:]), ["indentation"]


def _case_unknown_owner(text: str) -> tuple[str, int, list[str]]:
    bad = _edit(text, "            owner: chen\n            accountable: lin\n            control: high",
                "            owner: chenn\n            accountable: lin\n            control: high")
    return bad, _line(bad, "owner: chenn"), [
        "objectives[0].paths[1].krs[0].owner", "chenn", "boss、lin、zhao、chen、sun"
    ]


def _case_no_target(text: str) -> tuple[str, int, list[str]]:
    bad = _edit(text, "                baseline: 1.5\n                target: 2.0\n", "                baseline: 1.5\n")
    return bad, _line(bad, "- name: 新客转化率"), [
        "objectives[0].paths[1].krs[0].measures[0]", "新客转化率", "target", "baseline 和 target"
    ]


def _case_two_kinds(text: str) -> tuple[str, int, list[str]]:
    bad = _edit(text, "                at_most: 25\n", "                at_most: 25\n                at_least: 10\n")
    return bad, _line(bad, "- name: ACOS"), [
        "objectives[0].paths[1].krs[0].measures[1]", "ACOS", "at_most, at_least", "milestone"
    ]


def _case_duplicate_code(text: str) -> tuple[str, int, list[str]]:
    bad = _edit(text, "          - code: KR4", "          - code: KR2")
    return bad, _line(bad, "- code: KR2", after="- code: P4"), [
        "objectives[0].paths[2].krs[0].code", "KR2", "objectives[0].paths[1].krs[0].code"
    ]


def _case_unknown_field(text: str) -> tuple[str, int, list[str]]:
    bad = _edit(text, "                target: 2.0", "                tragets: 2.0")
    return bad, _line(bad, "tragets:"), ["objectives[0].paths[1].krs[0].measures[0].tragets", "拼写"]


def _case_bad_date(text: str) -> tuple[str, int, list[str]]:
    bad = _edit(text, "    deadline: 2026-12-31 ", "    deadline: 31.12.2026 ")
    return bad, _line(bad, "deadline: 31.12.2026"), ["objectives[0].deadline", "31.12.2026", "YYYY-MM-DD"]


def _case_impossible_date(text: str) -> tuple[str, int, list[str]]:
    bad = _edit(text, "    deadline: 2026-12-31 ", "    deadline: 2026-13-45 ")
    return bad, _line(bad, "deadline: 2026-13-45"), ["objectives[0].deadline", "2026-13-45", "YYYY-MM-DD"]


def _case_unknown_timezone(text: str) -> tuple[str, int, list[str]]:
    bad = _edit(text, "  timezone: Europe/Berlin ", "  timezone: Europe/Berlinn ")
    return bad, _line(bad, "Europe/Berlinn"), ["workspace.timezone", "Europe/Berlinn", "IANA"]


def _case_owner_list(text: str) -> tuple[str, int, list[str]]:
    bad = _edit(text, "            owner: zhao\n", "            owner: [zhao, chen]\n")
    return bad, _line(bad, "owner: [zhao, chen]"), ["objectives[0].paths[3].krs[0].owner", "consulted"]


def _case_slack_team(text: str) -> tuple[str, int, list[str]]:
    bad = _edit(text, "workspace:\n", "workspace:\n  slack_team: krbot-team\n")
    return bad, _line(bad, "slack_team: krbot-team"), ["workspace.slack_team", "krbot-team", "T0123ABCD"]


BAD_FILES = {
    "malformed_yaml": _case_indent,
    "unknown_owner": _case_unknown_owner,
    "baseline_without_target": _case_no_target,
    "two_measure_kinds": _case_two_kinds,
    "duplicate_code": _case_duplicate_code,
    "unknown_field": _case_unknown_field,
    "bad_date": _case_bad_date,
    "impossible_date": _case_impossible_date,
    "unknown_timezone": _case_unknown_timezone,
    "list_of_owners": _case_owner_list,
    "slack_team": _case_slack_team,
}


def _refused(case: str, app: App, run_cli: Any, tmp_path: Path) -> None:
    bad, line, words = BAD_FILES[case](_text())
    path = _write(tmp_path, f"{case}.yaml", bad)
    code, out, err = run_cli("import", str(path))
    assert code == 2, (out, err)
    message = err.strip()
    assert "\n" not in message, message
    assert f"{path}:{line}" in message, message
    for word in words:
        assert word in message, (word, message)
    assert "Traceback" not in out + err
    assert all(n == 0 for n in _rows(app).values()), _rows(app)


def test_bad_files_are_refused_with_their_place_and_nothing_is_written(
    app: App, run_cli: Any, tmp_path: Path
) -> None:
    """Each bad file: exit 2, one line naming file:line, field path and word, and no row in any table."""
    failures = []
    for case in BAD_FILES:
        try:
            _refused(case, app, run_cli, tmp_path)
        except AssertionError as error:
            failures.append(f"{case}: {error}")
    assert not failures, "\n".join(failures)
    code, _, err = run_cli("export")
    assert code == 2 and "no workspace" in err


def test_missing_file_is_bad_input(run_cli: Any, tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    for command in ("import", "lint"):
        code, _, err = run_cli(command, str(missing))
        assert code == 2, (command, err)
        assert str(missing) in err


def test_bad_file_changes_nothing_already_imported(app: App, run_cli: Any, tmp_path: Path) -> None:
    assert run_cli("import", str(EXAMPLE_ZH))[0] == 0
    before = _rows(app)
    # a valid-looking target change in the same file as an error: none of it may land
    bad = _edit(_case_unknown_owner(_text())[0], "                target: 2.0", "                target: 2.2")
    code, _, err = run_cli("import", str(_write(tmp_path, "bad.yaml", bad)))
    assert code == 2 and "chenn" in err
    assert _rows(app) == before
    kr2 = {m["name"]: m for m in _krs(_export(run_cli))["KR2"]["measures"]}
    assert kr2["新客转化率"]["target"] == 2.0


def test_unknown_field_names_what_would_work(run_cli: Any, tmp_path: Path) -> None:
    bad, _, _ = _case_unknown_field(_text())
    code, _, err = run_cli("import", str(_write(tmp_path, "typo.yaml", bad)))
    assert code == 2
    assert "target" in err.replace("tragets", "")


# ---------------------------------------------------------------- idempotent import, goal changes, archive


def test_importing_twice_changes_nothing(app: App, run_cli: Any) -> None:
    assert run_cli("import", str(EXAMPLE_ZH))[0] == 0
    before = _rows(app)
    first = _export(run_cli)
    code, out, err = run_cli("import", str(EXAMPLE_ZH))
    assert code == 0, err
    assert "没有变化" in out.splitlines()[0], out
    assert _rows(app) == before
    second = _export(run_cli)
    assert second["changes"] == []
    assert second["objectives"] == first["objectives"]


def test_changed_target_is_one_goal_change(app: App, run_cli: Any, tmp_path: Path) -> None:
    assert run_cli("import", str(EXAMPLE_ZH))[0] == 0
    raised = _edit(_text(), "                target: 2.0", "                target: 2.2")
    path = _write(tmp_path, "raised.yaml", raised)
    code, out, err = run_cli("import", str(path))
    assert code == 0, err
    summary = out.splitlines()[0]
    assert "更新" in summary and "1个指标" in summary and "新增" not in summary, summary
    assert "：；" not in summary, summary
    assert "2 → 2.2" in out
    data = _export(run_cli)
    assert [(c["code"], c["measure"], c["field"], c["old"], c["new"]) for c in data["changes"]] == [
        ("KR2", "新客转化率", "target", "2", "2.2")
    ]
    kr2 = {m["name"]: m for m in _krs(data)["KR2"]["measures"]}
    assert kr2["新客转化率"]["target"] == 2.2
    code, digest, err = run_cli("digest")  # now: after the re-import
    assert code == 0, err
    assert "目标2.2%" in digest and "目标2%" not in digest
    # a past digest reads the target then in force: the re-import is dated, the old digest is not recomputed
    code, digest, err = run_cli("digest", "--as-of", "2026-10-21T10:00")
    assert code == 0, err
    assert "目标2%" in digest and "目标2.2%" not in digest
    # importing the same file again records nothing more
    assert run_cli("import", str(path))[0] == 0
    assert len(_export(run_cli)["changes"]) == 1


def _without_kr4(text: str) -> str:
    start = text.index("          - code: KR4")
    end = text.index("      - code: P1")
    without = text[:start] + text[end:]
    return _edit(without, "difficulty: medium}\n        krs:\n      - code: P1",
                 "difficulty: medium}\n        krs: []\n      - code: P1")


def test_removed_kr_is_archived_and_comes_back_with_its_checkins(run_cli: Any, tmp_path: Path) -> None:
    assert run_cli("import", str(EXAMPLE_ZH))[0] == 0
    code, _, err = run_cli("checkin", "--as", "chen", "--at", "2026-10-20T10:00", "KR4", "70%")
    assert code == 0, err

    code, out, err = run_cli("import", str(_write(tmp_path, "without.yaml", _without_kr4(_text()))))
    assert code == 0, err
    assert "归档" in out
    data = _export(run_cli)
    assert "KR4" not in _krs(data)
    code, digest, _ = run_cli("digest", "--as-of", "2026-10-21T10:00")
    assert code == 0 and "KR4" not in digest and "竞品监控覆盖率" not in digest
    code, _, err = run_cli("say", "--as", "chen", "/kr update KR4 80%")
    assert code == 2 and "KR4" in err

    code, _, err = run_cli("import", str(EXAMPLE_ZH))
    assert code == 0, err
    data = _export(run_cli)
    kr4 = {m["name"]: m for m in _krs(data)["KR4"]["measures"]}
    assert kr4["竞品监控覆盖率"]["value"] == 70
    assert [(c["code"], c["value"]) for c in data["checkins"]] == [("KR4", 70)]
    assert data["changes"] == []
    code, digest, _ = run_cli("digest", "--as-of", "2026-10-21T10:00")
    assert code == 0 and "竞品监控覆盖率：70%" in digest


# ---------------------------------------------------------------- dry run


def test_dry_run_shows_and_writes_nothing(app: App, run_cli: Any) -> None:
    code, out, err = run_cli("import", str(EXAMPLE_ZH), "--dry-run")
    assert code == 0, err
    assert "试运行" in out and "4个KR" in out
    assert all(n == 0 for n in _rows(app).values())
    code, _, err = run_cli("export")
    assert code == 2 and "no workspace" in err


def test_dry_run_of_a_change_shows_it_and_keeps_the_old_goal(app: App, run_cli: Any, tmp_path: Path) -> None:
    assert run_cli("import", str(EXAMPLE_ZH))[0] == 0
    before = _rows(app)
    raised = _edit(_text(), "                target: 2.0", "                target: 2.2")
    code, out, err = run_cli("import", str(_write(tmp_path, "raised.yaml", raised)), "--dry-run")
    assert code == 0, err
    assert "试运行" in out and "2 → 2.2" in out
    assert _rows(app) == before
    data = _export(run_cli)
    assert data["changes"] == []
    assert {m["name"]: m for m in _krs(data)["KR2"]["measures"]}["新客转化率"]["target"] == 2.0


# ---------------------------------------------------------------- lint


def test_lint_of_the_example_passes(run_cli: Any) -> None:
    code, out, err = run_cli("lint", str(EXAMPLE_ZH))
    assert code == 0, (out, err)
    assert "SMART检查通过" in out
    assert "不通过 " not in out


def test_lint_budget_short_shows_the_arithmetic(run_cli: Any, tmp_path: Path) -> None:
    low = _edit(_text(), "budget: 25000 EUR", "budget: 20000 EUR")
    code, out, _ = run_cli("lint", str(_write(tmp_path, "low.yaml", low)))
    assert code == 1
    finding = next(line for line in out.splitlines() if " A O1" in line)
    assert finding.startswith("不通过")
    # needed 500000 / 400 * 20 = 25,000 vs 20,000: short 5,000, written the way the file's language writes money
    assert "2.5万欧" in finding and "2万欧" in finding and "5000欧" in finding, finding
    assert "SMART检查不通过" in out


def test_lint_without_strategy_fails_r(run_cli: Any, tmp_path: Path) -> None:
    text = _text()
    line = next(line for line in text.splitlines(keepends=True) if line.lstrip().startswith("strategy:"))
    code, out, _ = run_cli("lint", str(_write(tmp_path, "nostrategy.yaml", _edit(text, line, ""))))
    assert code == 1
    assert any(line.startswith("不通过 R O1") for line in out.splitlines()), out


def test_lint_deadline_after_cycle_fails_t(run_cli: Any, tmp_path: Path) -> None:
    late = _edit(_text(), "    deadline: 2026-12-31 ", "    deadline: 2027-01-15 ")
    code, out, _ = run_cli("lint", str(_write(tmp_path, "late.yaml", late)))
    assert code == 1
    finding = next(line for line in out.splitlines() if line.startswith("不通过 T O1"))
    assert "2027-01-15" in finding and "2026-12-31" in finding


def test_import_prints_the_lint_but_still_imports(run_cli: Any, tmp_path: Path) -> None:
    low = _edit(_text(), "budget: 25000 EUR", "budget: 20000 EUR")
    code, out, err = run_cli("import", str(_write(tmp_path, "low.yaml", low)))
    assert code == 0, err
    assert any(" A O1" in line and "5000欧" in line for line in out.splitlines()), out
    assert _export(run_cli)["workspace"]["name"] == WORKSPACE


def test_lint_of_an_unreadable_file_is_bad_input(run_cli: Any, tmp_path: Path) -> None:
    bad, line, _ = _case_indent(_text())
    path = _write(tmp_path, "indent.yaml", bad)
    code, _, err = run_cli("lint", str(path))
    assert code == 2
    assert f"{path}:{line}" in err


# ---------------------------------------------------------------- the English twin


def _english() -> str:
    if not EXAMPLE_EN.exists():
        pytest.skip("examples/q4-europe.en.yaml is not there yet")
    return EXAMPLE_EN.read_text(encoding="utf-8")


_CJK = re.compile(r"[\u4e00-\u9fff]")


def test_english_example_imports_and_lints_clean_in_english(run_cli: Any) -> None:
    text = _english()
    assert yaml.safe_load(text)["workspace"]["language"] == "en"
    code, out, err = run_cli("lint", str(EXAMPLE_EN))
    assert code == 0, (out, err)
    assert "SMART check passed" in out
    code, out, err = run_cli("import", str(EXAMPLE_EN))
    assert code == 0, err
    assert out.startswith("Imported ") and "SMART check passed" in out
    assert "已导入" not in out and "SMART检查" not in out
    assert _export_counts(_export(run_cli)) == _file_counts(text)


def test_english_example_errors_are_english(run_cli: Any, tmp_path: Path) -> None:
    text = _english()
    zone = re.search(r"^  timezone: *(\S+)", text, flags=re.MULTILINE)
    assert zone is not None
    bad = text[: zone.start(1)] + "Mars/Olympus" + text[zone.end(1):]
    path = _write(tmp_path, "en-bad.yaml", bad)
    code, _, err = run_cli("import", str(path))
    assert code == 2
    assert f"{path}:{_line(bad, 'Mars/Olympus')}" in err
    assert "unknown timezone" in err and "Mars/Olympus" in err
    assert not _CJK.search(err), err
