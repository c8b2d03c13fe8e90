"""Numbers read in each writer's locale and written back in it, end to end through `krbot` (CONTRACT §5, §6)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from bot.app import App
from tests.conftest import EXAMPLE_EN

LOCALES = {"lin": "de-DE", "chen": "fr-FR", "zhao": "zh-CN", "sun": "en-US"}


def locale_file(*, workspace_locale: str | None = None, extra: str = "") -> str:
    """The English example with a German, a French, a Chinese and an American owner."""
    text = EXAMPLE_EN.read_text(encoding="utf-8")
    for key, locale in LOCALES.items():
        text = re.sub(rf"(  - id: {key}\n    name: [^\n]+\n)", rf"\g<1>    locale: {locale}\n", text)
    if workspace_locale:
        text = text.replace("  language: en ", f"  locale: {workspace_locale}\n  language: en ", 1)
    return text + extra


@pytest.fixture
def locales(app: App, run_cli: Any, tmp_path: Path) -> Any:
    """The app with the four-locale OKR file imported; returns run_cli."""
    path = tmp_path / "okrs.yaml"
    path.write_text(locale_file(), encoding="utf-8")
    code, _, err = run_cli("import", str(path))
    assert code == 0, err
    return run_cli


def stored(run_cli: Any, *, code: str, measure: str) -> list[Any]:
    """The values stored for one measure, oldest first."""
    _, out, _ = run_cli("export")
    return [c["value"] for c in json.loads(out)["checkins"] if c["code"] == code and c["measure"] == measure]


def checkin(run_cli: Any, person: str, text: str, at: str = "2026-11-02T10:00") -> tuple[int, str]:
    """`krbot checkin --as PERSON --at AT TEXT`: exit code and what it printed."""
    code, out, err = run_cli("checkin", "--as", person, "--at", at, text)
    return code, out + err


def test_a_german_owner_types_euro_5000_and_sees_it_echoed_the_german_way(locales: Any) -> None:
    code, said = checkin(locales, "lin", "O1 €5.000")
    assert code == 0, said
    assert "5.000,00\u00a0€" in said
    assert stored(locales, code="O1", measure="New-customer GMV") == [5000]


def test_a_german_owner_types_1200_orders_the_german_way(locales: Any) -> None:
    code, said = checkin(locales, "lin", "O1 New-product orders=1.200")
    assert code == 0, said
    assert stored(locales, code="O1", measure="New-product orders") == [1200]


def test_an_american_owner_typing_5000_with_a_dot_is_refused_with_both_readings(locales: Any) -> None:
    code, said = checkin(locales, "sun", "KR3 1.200 units")
    assert code == 2
    assert "1200 or 1.2" in said and "nothing was saved" in said
    assert stored(locales, code="KR3", measure="Stock landed in EU") == []


def test_a_french_owner_types_a_decimal_comma_and_sees_it_echoed_the_french_way(locales: Any) -> None:
    code, said = checkin(locales, "chen", "KR2 New-customer conversion=1,8 %, ACOS=23,5 %")
    assert code == 0, said
    assert "1,8\u00a0%" in said and "23,5\u00a0%" in said
    assert stored(locales, code="KR2", measure="New-customer conversion") == [1.8]
    assert stored(locales, code="KR2", measure="ACOS") == [23.5]


def test_a_chinese_owner_types_with_the_ime(locales: Any) -> None:
    code, said = checkin(locales, "zhao", "ＫＲ１ New－customer orders：２５０")
    assert code == 0, said
    assert stored(locales, code="KR1", measure="New-customer orders") == [250]


def test_ninety_minutes_on_an_hours_measure(locales: Any) -> None:
    code, said = checkin(locales, "sun", "KR3 Restock response=90m")
    assert code == 0, said
    assert "1.5 h" in said
    assert stored(locales, code="KR3", measure="Restock response") == [1.5]


def test_a_400_digit_number_is_refused_and_the_digest_still_works(locales: Any) -> None:
    code, said = checkin(locales, "chen", "KR2 " + "9" * 400 + "%")
    assert code == 2 and "more than 15 digits" in said
    code, out, err = locales("digest", "--as-of", "2026-11-06")
    assert code == 0, err


def test_an_implausible_value_needs_a_bang(locales: Any) -> None:
    code, said = checkin(locales, "chen", "KR2 2000%")
    assert code == 2 and "2000%!" in said
    code, said = checkin(locales, "chen", "KR2 2000%!")
    assert code == 0, said
    assert stored(locales, code="KR2", measure="New-customer conversion") == [2000]


def test_a_change_instead_of_a_value_is_refused(locales: Any) -> None:
    code, said = checkin(locales, "chen", "KR2 +0.2%")
    assert code == 2 and "write the new value" in said


@pytest.mark.parametrize(("at", "words"), [("2026-09-20", "before"), ("2027-01-20", "after"), ("2026-12-30", "future")])
def test_a_check_in_dated_outside_the_cycle_or_in_the_future_is_refused(locales: Any, at: str, words: str) -> None:
    code, said = checkin(locales, "chen", "KR2 1.8%", at=at)
    assert code == 2 and words in said
    assert stored(locales, code="KR2", measure="New-customer conversion") == []


def test_a_late_number_within_the_grace_is_taken(locales: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import time_machine

    with time_machine.travel("2027-01-10T12:00:00+00:00", tick=False):
        code, said = checkin(locales, "chen", "KR2 1.9%", at="2027-01-05T10:00")
    assert code == 0, said


def test_a_near_miss_gets_did_you_mean(locales: Any) -> None:
    code, said = checkin(locales, "chen", "KR2 ACSO=20%")
    assert code == 2 and "did you mean ACOS" in said
    code, said = checkin(locales, "chen", "KR2 new customer conversion=1.9%")  # case, spaces, hyphens
    assert code == 0, said
    code, out, err = locales("say", "--as", "chen", "/kr udpate KR2 1.8%")
    assert code == 2 and "did you mean /kr update" in out + err


def test_an_ask_read_by_the_same_rules(locales: Any) -> None:
    code, said = checkin(locales, "chen", "KR2 1,8 % ask: 5 000 € for creators; 5000 budget and 2 people")
    assert code == 0, said
    _, out, _ = locales("export")
    asks = [(a["kind"], a["amount"], a["unit"]) for a in json.loads(out)["asks"]]
    assert asks == [("money", 5000, "EUR"), ("money", 5000, None), ("people", 2, "people")]
    code, said = checkin(locales, "sun", "KR3 ask: €5.000 extra budget")
    assert code == 2 and "5000 or 5" in said


# ---------------------------------------------------------------- the OKR file


@pytest.mark.parametrize("written", ['"200.000"', "200.000", '"200 000"'])
def test_a_german_workspace_reads_a_separated_target_as_two_hundred_thousand(
    app: App, run_cli: Any, tmp_path: Path, written: str
) -> None:
    text = locale_file(workspace_locale="de-DE").replace("target: 500000", f"target: {written}", 1)
    path = tmp_path / "okrs.yaml"
    path.write_text(text, encoding="utf-8")
    code, _, err = run_cli("import", str(path))
    assert code == 0, err
    _, out, _ = run_cli("export")
    assert json.loads(out)["objectives"][0]["measures"][0]["target"] == 200_000


def test_an_english_workspace_refuses_an_ambiguous_target_naming_its_line(app: App, run_cli: Any, tmp_path: Path) -> None:
    text = locale_file().replace("target: 500000", 'target: "200.000"', 1)
    line = text.splitlines().index('        target: "200.000"') + 1
    path = tmp_path / "okrs.yaml"
    path.write_text(text, encoding="utf-8")
    code, out, err = run_cli("import", str(path))
    assert code == 2
    assert f"okrs.yaml:{line}" in out + err and "200000 or 200" in out + err


def test_an_unknown_locale_is_refused(app: App, run_cli: Any, tmp_path: Path) -> None:
    path = tmp_path / "okrs.yaml"
    path.write_text(locale_file().replace("locale: fr-FR", "locale: fr-XX-nonsense"), encoding="utf-8")
    code, out, err = run_cli("import", str(path))
    assert code == 2 and "fr-XX-nonsense" in out + err


# ---------------------------------------------------------------- spreadsheets


def test_a_german_excel_csv_is_read(locales: Any, tmp_path: Path) -> None:
    path = tmp_path / "de.csv"
    path.write_text(
        "\ufeffcode;measure;value;person;at\r\n"
        "KR2;New-customer conversion;1,8;chen;2026-10-12T10:00\r\n"
        "KR2;ACOS;23,5;chen;2026-10-12T10:00\r\n",
        encoding="utf-8",
    )
    code, out, err = locales("import-checkins", str(path), "--locale", "de-DE")
    assert code == 0, out + err
    assert stored(locales, code="KR2", measure="New-customer conversion") == [1.8]
    assert stored(locales, code="KR2", measure="ACOS") == [23.5]


def test_a_tab_separated_csv_in_the_workspace_locale(locales: Any, tmp_path: Path) -> None:
    path = tmp_path / "tab.csv"
    path.write_text("code\tmeasure\tvalue\tperson\tat\nKR3\tStock landed in EU\t1,480\tsun\t2026-10-12\n", encoding="utf-8")
    code, out, err = locales("import-checkins", str(path))
    assert code == 0, out + err
    assert stored(locales, code="KR3", measure="Stock landed in EU") == [1480]


def test_a_repeated_row_is_refused_naming_both_lines(locales: Any, tmp_path: Path) -> None:
    path = tmp_path / "twice.csv"
    path.write_text(
        "code,measure,value,person,at\n"
        "KR2,ACOS,20%,chen,2026-10-12T10:00\n"
        "KR2,New-customer conversion,1.6%,chen,2026-10-12T10:00\n"
        "KR2,ACOS,21%,chen,2026-10-12T10:00\n",
        encoding="utf-8",
    )
    code, out, err = locales("import-checkins", str(path))
    assert code == 2
    assert "twice.csv:4" in out + err and "line 2" in out + err
    assert stored(locales, code="KR2", measure="ACOS") == []


def test_the_csv_export_reads_back_in_whole(locales: Any, app: App, tmp_path: Path, run_cli: Any) -> None:
    for person, text, at in [
        ("chen", "KR2 New-customer conversion=1,65 %, ACOS=23 % ask: 5 000 € for creators", "2026-10-12T09:00"),
        ("lin", "O1 €5.000", "2026-10-13T09:00"),
        ("sun", "KR3 Restock response=90m", "2026-10-14T18:30"),
    ]:
        assert checkin(locales, person, text, at)[0] == 0
    code, exported, _ = locales("export", "--format", "csv")
    assert exported.startswith("\ufeff") and "2026-10-14T18:30:00+02:00" in exported
    assert "5 000 € for creators" in exported
    _, before, _ = locales("export")
    wipe = tmp_path / "okrs2.yaml"
    wipe.write_text(locale_file().replace("name: Europe Division", "name: Copy"), encoding="utf-8")
    assert locales("import", str(wipe))[0] == 0
    path = tmp_path / "export.csv"
    path.write_text(exported, encoding="utf-8")
    code, out, err = locales("import-checkins", str(path), "--workspace", "Copy")
    assert code == 0, out + err
    _, after, _ = locales("export", "--workspace", "Copy")

    def facts(data: str) -> list[tuple[Any, ...]]:
        loaded = json.loads(data)
        return sorted(
            [(c["code"], c["measure"], c["value"], c["at"]) for c in loaded["checkins"] if c["measure"]]
            + [(a["code"], a["kind"], a["amount"], a["text"]) for a in loaded["asks"]]
        )

    assert facts(after) == facts(before)
