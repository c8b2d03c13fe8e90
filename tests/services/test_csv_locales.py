"""History in and out as CSV (CONTRACT §4): numbers read in each row's person's locale, a value stored with `!`
written so that it re-imports, a row dated in the future refused, exports on the workspace's clock."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import time_machine
from typer.testing import CliRunner

from bot.cli.app import cli
from tests.conftest import EXAMPLE_EN

SHIPPED_EN = EXAMPLE_EN.parent / "q4-europe.checkins.en.csv"
AFTER_THE_CYCLE = "2027-01-10T12:00:00+00:00"  # every shipped row lies in the past


@pytest.fixture
def english(run_cli: Any) -> Iterator[Any]:
    """The English example imported (Lin writes German, Chen French), the clock after the cycle; returns run_cli."""
    with time_machine.travel(AFTER_THE_CYCLE, tick=False):
        code, _, err = run_cli("import", str(EXAMPLE_EN))
        assert code == 0, err
        yield run_cli


def _stored(run_cli: Any) -> list[dict[str, Any]]:
    """Every stored measure value, as `krbot export` lists them."""
    code, out, err = run_cli("export")
    assert code == 0, err
    return [c for c in json.loads(out)["checkins"] if c["measure"] is not None]


def test_the_shipped_english_history_imports_as_shipped(english: Any) -> None:
    code, out, err = english("import-checkins", str(SHIPPED_EN))
    assert code == 0, out + err
    stored = _stored(english)
    rows = list(csv.DictReader(SHIPPED_EN.open(encoding="utf-8")))
    assert len(stored) == len([r for r in rows if r["value"]])
    lin = [c["value"] for c in stored if c["person"] == "lin" and c["measure"] == "New-customer GMV"]
    chen = [c["value"] for c in stored if c["person"] == "chen" and c["measure"] == "New-customer conversion"]
    assert lin[:3] == [18000, 40000, 65000]  # "18.000 €" in Lin's German
    assert chen[0] == 1.52  # "1,52 %" in Chen's French


def test_one_locale_for_every_row_reads_lins_german_as_english_and_refuses_it(english: Any) -> None:
    code, out, err = english("import-checkins", str(SHIPPED_EN), "--locale", "en-US")
    assert code == 2
    assert "18.000" in out + err and "nothing was imported" in out + err
    assert _stored(english) == []


def test_a_row_dated_in_the_future_is_refused_like_a_typed_one(english: Any, tmp_path: Path) -> None:
    path = tmp_path / "future.csv"
    path.write_text(
        "code,measure,value,person,at\nKR2,New-customer conversion,\"1,6 %\",chen,2027-01-05T10:00\n"
        "KR2,New-customer conversion,\"1,7 %\",chen,2027-01-11T10:00\n",
        encoding="utf-8",
    )
    with time_machine.travel(AFTER_THE_CYCLE, tick=False):
        code, out, err = english("import-checkins", str(path))
    assert code == 2
    assert ":3:" in out + err and "future" in out + err and "nothing was imported" in out + err
    assert _stored(english) == []


def test_an_exported_csv_with_a_value_stored_with_bang_re_imports(english: Any, tmp_path: Path) -> None:
    with time_machine.travel(AFTER_THE_CYCLE, tick=False):
        for person, words in (("chen", "KR2 New-customer conversion=20 %!"), ("lin", "O1 18.000,5 €")):
            code, out, err = english("checkin", "--as", person, "--at", "2026-10-05T10:00", words)
            assert code == 0, out + err
        code, exported, err = english("export", "--format", "csv")
    assert code == 0, err
    values = {row["measure"]: row["value"] for row in csv.DictReader(io.StringIO(exported.lstrip("\ufeff")),
                                                                     delimiter=",")}
    assert values["New-customer conversion"] == "20!"  # beyond 1.5 → 2.0's plausible range: written with !
    assert values["New-customer GMV"] == "18000,5"  # in Lin's German, as import-checkins reads her rows
    path = tmp_path / "exported.csv"
    path.write_text(exported, encoding="utf-8")
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    runner = CliRunner()
    with time_machine.travel(AFTER_THE_CYCLE, tick=False):
        assert runner.invoke(cli, ["import", str(EXAMPLE_EN), "--db", fresh]).exit_code == 0
        again = runner.invoke(cli, ["import-checkins", str(path), "--db", fresh])
        assert again.exit_code == 0, again.output
        out = runner.invoke(cli, ["export", "--db", fresh]).stdout
    assert sorted((c["measure"], c["value"]) for c in json.loads(out)["checkins"]) == [
        ("New-customer GMV", 18000.5), ("New-customer conversion", 20)
    ]


def test_the_json_export_writes_times_with_the_workspaces_offset(english: Any) -> None:
    with time_machine.travel(AFTER_THE_CYCLE, tick=False):  # (the YAML export is the OKR file: dates, no times)
        code, out, err = english("checkin", "--as", "chen", "--at", "2026-10-05T10:00", "KR2 1,6 % ask: 5 000 €")
        assert code == 0, out + err
        data = json.loads(english("export", "--format", "json")[1])
    for exported in (data,):
        assert str(exported["checkins"][0]["at"]).startswith("2026-10-05T10:00:00+02:00")  # Berlin, summer time
        assert str(exported["asks"][0]["at"]).startswith("2026-10-05T10:00:00+02:00")
        assert "+00:00" not in json.dumps(exported["checkins"], default=str)
