"""Renames in the OKR file (CONTRACT §5): `was:` keeps history; an import that archives history says so, by name and count."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.app import App
from tests.services.test_okrfile import EXAMPLE_ZH, _edit, _export, _krs, _line, _rows, _text, _write

RENAMED = "新客转化率(SP)"


def _checkins(run_cli: Any) -> None:
    for at, text in (("2026-10-12T10:00", "KR2 新客转化率=1.6%"), ("2026-10-19T10:00", "KR2 新客转化率=1.7%")):
        code, _, err = run_cli("checkin", "--as", "chen", "--at", at, text)
        assert code == 0, err


def _renamed_measure(*, was: bool) -> str:
    tail = "                was: 新客转化率\n" if was else ""
    return _edit(
        _text(),
        "              - name: 新客转化率\n                unit: \"%\"",
        f"              - name: {RENAMED}\n{tail}                unit: \"%\"",
    )


def _values(data: dict[str, Any], code: str) -> list[tuple[str, float]]:
    return [(c["measure"], c["value"]) for c in data["checkins"] if c["code"] == code]


def test_a_measure_renamed_with_was_keeps_its_history(app: App, run_cli: Any, tmp_path: Path) -> None:
    """`{name: 新客转化率(SP), was: 新客转化率}`: the two check-ins now belong to the new name; nothing is archived."""
    assert run_cli("import", str(EXAMPLE_ZH))[0] == 0
    _checkins(run_cli)
    path = _write(tmp_path, "renamed.yaml", _renamed_measure(was=True))
    code, out, err = run_cli("import", str(path))
    assert code == 0, err
    assert "归档" not in out and "注意" not in err, (out, err)
    data = _export(run_cli)
    assert _values(data, "KR2") == [(RENAMED, 1.6), (RENAMED, 1.7)]
    measure = {m["name"]: m for m in _krs(data)["KR2"]["measures"]}[RENAMED]
    assert measure["value"] == 1.7
    assert [(c["code"], c["measure"], c["field"], c["old"], c["new"]) for c in data["changes"]] == [
        ("KR2", RENAMED, "name", "新客转化率", RENAMED)
    ]
    code, digest, _ = run_cli("digest", "--as-of", "2026-10-20T10:00")
    assert code == 0 and f"{RENAMED}：1.7%" in digest, digest
    # the same file again: nothing more happens
    before = _rows(app)
    code, out, err = run_cli("import", str(path))
    assert code == 0 and "没有变化" in out, (out, err)
    assert _rows(app) == before


def test_a_rename_without_was_warns_by_name_and_count_and_was_brings_the_history_back(
    app: App, run_cli: Any, tmp_path: Path
) -> None:
    """Renamed without `was:`: the import (and its dry run) names the measure, its 2 check-ins and the fix;
    importing again with `was:` moves those check-ins onto the new measure."""
    assert run_cli("import", str(EXAMPLE_ZH))[0] == 0
    _checkins(run_cli)
    bare = _write(tmp_path, "bare.yaml", _renamed_measure(was=False))
    before = _rows(app)
    code, out, err = run_cli("import", str(bare), "--dry-run")
    assert code == 0, err
    assert "此次导入将归档" in err and "KR2的指标“新客转化率”（2次打卡）" in err and "was:" in err, err
    assert _rows(app) == before
    code, out, err = run_cli("import", str(bare))
    assert code == 0, err
    assert "已归档1项" in err and "KR2的指标“新客转化率”（2次打卡）" in err, err
    archived = {m["name"]: m for m in _krs(_export(run_cli))["KR2"]["measures"]}
    assert archived[RENAMED]["value"] != 1.7  # the history is archived with the old measure

    code, out, err = run_cli("import", str(_write(tmp_path, "was.yaml", _renamed_measure(was=True))))
    assert code == 0, err
    assert "注意" not in err, err
    data = _export(run_cli)
    assert _values(data, "KR2") == [(RENAMED, 1.6), (RENAMED, 1.7)]
    assert [(m["name"], m["value"]) for m in _krs(data)["KR2"]["measures"]][0] == (RENAMED, 1.7)


def test_an_english_import_warns_in_english(run_cli: Any, tmp_path: Path) -> None:
    english = (EXAMPLE_ZH.parent / "q4-europe.en.yaml").read_text(encoding="utf-8")
    assert run_cli("import", str(_write(tmp_path, "en.yaml", english)))[0] == 0
    code, out, err = run_cli("export", "--format", "json")
    kr2 = _krs(json.loads(out))["KR2"]["measures"][0]["name"]
    code, _, err = run_cli("checkin", "--as", "chen", "--at", "2026-10-12T10:00", f"KR2 {kr2}=1.6%")
    assert code == 0, err
    code, _, err = run_cli("import", str(_write(tmp_path, "bare.en.yaml", english.replace(f"name: {kr2}", "name: CVR"))))
    assert code == 0, err
    assert "archived 1 entry with check-ins" in err and f"measure “{kr2}” of KR2 (1 check-in)" in err, err
    assert "{name: New name, was: Old name}" in err


def test_a_kr_and_an_objective_renamed_with_was_keep_their_check_ins(run_cli: Any, tmp_path: Path) -> None:
    """KR2 becomes KR20 (`was: KR2`) and O1 becomes O9 (`was: O1`): check-ins, values and asks follow the new codes."""
    assert run_cli("import", str(EXAMPLE_ZH))[0] == 0
    _checkins(run_cli)
    code, _, err = run_cli("checkin", "--as", "lin", "--at", "2026-10-19T11:00", "O1 新客GMV=5万欧 需求：追加5000欧预算")
    assert code == 0, err
    text = _edit(_text(), "          - code: KR2\n", "          - code: KR20\n            was: KR2\n")
    text = _edit(text, "  - code: O1\n", "  - code: O9\n    was: O1\n")
    code, out, err = run_cli("import", str(_write(tmp_path, "codes.yaml", text)))
    assert code == 0, err
    assert "注意" not in err, err
    data = _export(run_cli)
    assert _values(data, "KR20") == [("新客转化率", 1.6), ("新客转化率", 1.7)]
    assert _values(data, "O9") == [("新客GMV", 50000)]
    assert [a["code"] for a in data["asks"]] == ["O9"]
    assert {(c["code"], c["field"], c["old"], c["new"]) for c in data["changes"]} == {
        ("KR20", "code", "KR2", "KR20"), ("O9", "code", "O1", "O9")
    }
    code, out, err = run_cli("say", "--as", "chen", "--at", "2026-10-20T10:00", "/kr update KR20 1.8%")
    assert code == 0, err
    code, digest, _ = run_cli("digest", "--as-of", "2026-10-20T12:00")
    assert code == 0 and "O9" in digest and "KR20" in digest and "新客转化率：1.8%" in digest, digest


def test_a_removed_kr_with_check_ins_is_named_with_its_count(run_cli: Any, tmp_path: Path) -> None:
    """Dropping KR2 (2 check-ins) from the file archives it and says so; KR4 without check-ins goes unmentioned."""
    assert run_cli("import", str(EXAMPLE_ZH))[0] == 0
    _checkins(run_cli)
    text = _text()
    start, end = text.index("          - code: KR2"), text.index("      - code: P4")
    without = text[:start] + text[end:]
    without = _edit(without, "difficulty: low}\n        krs:\n      - code: P4", "difficulty: low}\n        krs: []\n      - code: P4")
    code, out, err = run_cli("import", str(_write(tmp_path, "without.yaml", without)))
    assert code == 0, err
    assert "已归档1项" in err and "KR2“亚马逊SP广告新客转化率" in err and "（2次打卡）" in err, err
    assert "新客转化率”（" not in err  # its measures go with the KR: named once, as the KR


def test_was_naming_a_code_still_in_the_file_is_refused_with_its_line(app: App, run_cli: Any, tmp_path: Path) -> None:
    text = _edit(_text(), "          - code: KR2\n", "          - code: KR20\n            was: KR3\n")
    code, out, err = run_cli("import", str(_write(tmp_path, "clash.yaml", text)))
    assert code == 2
    line = _line(text, "was: KR3")
    assert f"clash.yaml:{line}" in err and "KR3" in err and "仍在文件中" in err, err
    assert all(n == 0 for n in _rows(app).values())


def test_a_reimport_logs_its_goal_changes_by_the_importer_for_import(run_cli: Any, tmp_path: Path) -> None:
    """A target raised in the file is a dated goal change: reason `import`, person the `--as` importer."""
    assert run_cli("import", str(EXAMPLE_ZH))[0] == 0
    raised = _write(tmp_path, "raised.yaml", _edit(_text(), "                target: 2.0", "                target: 2.2"))
    code, _, err = run_cli("import", str(raised), "--as", "nobody")
    assert code == 2 and "nobody" in err, err
    code, _, err = run_cli("import", str(raised), "--as", "lin")
    assert code == 0, err
    (change,) = _export(run_cli)["changes"]
    assert (change["code"], change["field"], change["old"], change["new"]) == ("KR2", "target", "2", "2.2")
    assert (change["person"], change["reason"]) == ("lin", "import")
    assert change["at"]
    code, digest, err = run_cli("digest")
    assert code == 0, err
    assert "KR2 新客转化率 目标：2% → 2.2%，林雪修改，原因：重新导入OKR文件" in digest, digest
