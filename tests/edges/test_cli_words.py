"""The command line's grammar and words (CONTRACT §4, §6): a negative value is a value, not an option."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import EXAMPLE_EN


def _imported(run_cli: Any) -> Any:
    """The English example imported; returns run_cli."""
    code, _, err = run_cli("import", str(EXAMPLE_EN))
    assert code == 0, err
    return run_cli


def _stored(run_cli: Any, *, code: str) -> list[tuple[str, Any]]:
    """The (measure, value) pairs stored for one code."""
    _, out, _ = run_cli("export")
    return [(c["measure"], c["value"]) for c in json.loads(out)["checkins"] if c["code"] == code]


def test_a_negative_value_on_the_command_line_is_a_value(run_cli: Any) -> None:
    _imported(run_cli)
    code, out, err = run_cli("checkin", "--as", "chen", "--at", "2026-10-06T10:00", "KR4", "-5")
    assert code == 0, out + err
    assert "-5" in out
    assert _stored(run_cli, code="KR4") == [("Competitor coverage", -5)]


def test_a_measure_named_like_a_unit_word_works_from_the_command_line(run_cli: Any, tmp_path: Path) -> None:
    """KR1's orders measure named plain "Orders": `KR1 GMV=5000 Orders=20` is two values, not "5000 orders"."""
    path = tmp_path / "okrs.yaml"
    path.write_text(EXAMPLE_EN.read_text(encoding="utf-8").replace("name: New-customer orders", "name: Orders"))
    code, _, err = run_cli("import", str(path))
    assert code == 0, err
    code, out, err = run_cli("checkin", "--as", "zhao", "--at", "2026-10-06T10:00", "KR1 GMV=5000 Orders=20")
    assert code == 0, out + err
    assert sorted(_stored(run_cli, code="KR1")) == [("GMV", 5000), ("Orders", 20)]
