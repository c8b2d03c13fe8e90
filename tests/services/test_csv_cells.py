"""CSV export: no text cell is a live formula (OWASP), numbers stay numbers, and import-checkins reads it all back."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from bot import services
from bot.__main__ import cli
from bot.app import App, build_app
from bot.core.cells import FORMULA_STARTS, escape_cell, escaped_row, unescape_cell
from tests.conftest import EXAMPLE_ZH, IMPORTED_AT

AT = datetime(2026, 10, 15, 8, 0, tzinfo=UTC)
FORMULAS = {
    "note": '=HYPERLINK("https://evil.example","x")',
    "next": "+1+cmd|' /C calc'!A0",
    "risk": "@SUM(1+1)*cmd|' /C calc'!A0",
}


@given(st.text(alphabet=st.sampled_from(list(FORMULA_STARTS + "'a=1 ")) | st.characters(), max_size=12))
def test_escaping_is_exact_both_ways(text: str) -> None:
    """Whatever the text, the written cell never starts a formula and reads back to the same text."""
    written = escape_cell(value=text)
    assert not written or written[0] not in FORMULA_STARTS
    assert unescape_cell(text=written) == text


def test_numbers_are_values_not_text() -> None:
    """A negative value is written as the number it is; only text cells get the quote."""
    row = escaped_row(row={"value": -2.5, "done": True, "note": "-2.5 below plan", "risk": None})
    assert row == {"value": -2.5, "done": True, "note": "'-2.5 below plan", "risk": None}


def _export(db_url: str) -> str:
    result = CliRunner().invoke(cli, ["export", "--format", "csv", "--db", db_url])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_formulas_typed_in_a_checkin_are_inert_in_the_export_and_read_back(
    example: App, db_url: str, tmp_path: Path
) -> None:
    """Note, next step and risk starting with = + @ and -: quoted in the CSV, and the same text after import-checkins."""
    text = f"/kr update KR2 1.7% 备注：{FORMULAS['note']} 下一步：{FORMULAS['next']} 风险：{FORMULAS['risk']}"
    assert services.run_command(uow=example.uow, person="chen", text=text, at=AT).key == "checkin.saved"
    assert services.run_command(uow=example.uow, person="chen", text="/kr update KR2 1.75% 备注：-3 orders vs plan",
                                at=AT.replace(hour=9)).key == "checkin.saved"
    exported = _export(db_url)
    rows = list(csv.DictReader(io.StringIO(exported.lstrip("\ufeff"))))
    cells = [cell for row in rows for cell in row.values() if cell]
    assert cells and not [cell for cell in cells if cell[0] in FORMULA_STARTS]
    mine = [row for row in rows if row["person"] in ("chen", "陈静") and row["note"]]
    assert {row["note"] for row in mine} == {"'" + FORMULAS["note"], "'-3 orders vs plan"}
    fresh = build_app(database_url=f"sqlite:///{tmp_path / 'copy.db'}")
    services.import_okrs(uow=fresh.uow, text=EXAMPLE_ZH.read_text(encoding="utf-8"), filename="q4.yaml", at=IMPORTED_AT)
    services.import_checkins(uow=fresh.uow, text=exported, filename="export.csv", now=AT)

    def texts(app: App) -> set[tuple[str | None, ...]]:
        return {(c["note"], c["next"], c["risk"]) for c in services.export_all(uow=app.uow, at=AT)["checkins"]}

    assert texts(fresh) == texts(example)
    assert (FORMULAS["note"], FORMULAS["next"], FORMULAS["risk"]) in texts(fresh)
