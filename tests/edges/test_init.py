"""`krbot init` and the README's first session: the example team moved to the current quarter, so the session works
on any day (the first session broke after 2027-01-14 while it imported the example's fixed 2026-Q4)."""

from __future__ import annotations

import calendar
import re
import shlex
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import time_machine
import yaml
from typer.testing import CliRunner

from bot.__main__ import cli
from bot.okrfile.starter import starter_okrs
from tests.conftest import EXAMPLE_EN, EXAMPLE_ZH, ROOT, sqlite_only

# The day the first session used to break, a leap day, a quarter's last day, and a day years on.
DAYS = ["2026-12-08T10:00", "2027-01-15T10:00", "2028-02-29T10:00", "2029-09-30T21:00", "2034-05-17T10:00"]


def _first_session() -> list[list[str]]:
    """The README's first session, one argument list per command (comments dropped)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## A first session\n\n```sh\n(.*?)```", readme, re.S)
    assert block, "the README has no first session"
    return [shlex.split(line, comments=True)[1:] for line in block.group(1).splitlines() if line.strip()]


@sqlite_only
@pytest.mark.parametrize("day", DAYS)
def test_the_readmes_first_session_works_on_any_day(day: str, db_url: str, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Every command of the README's first session exits 0 on the day the clock says, starting from `krbot init`."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KRBOT_DATABASE_URL", db_url)
    runner = CliRunner()
    commands = _first_session()
    assert commands[0][0] == "init" and commands[1][0] == "import"
    with time_machine.travel(datetime.fromisoformat(day).replace(tzinfo=UTC), tick=False):
        for args in commands:
            result = runner.invoke(cli, args)
            assert result.exit_code == 0, (args, result.stdout, result.stderr)
        digest = runner.invoke(cli, ["digest", "--lang", "en"]).stdout
    assert "1.8%" in digest or "1.8 %" in digest, digest  # today's check-in is in today's digest


@pytest.mark.parametrize("day", [datetime.fromisoformat(d).date() for d in DAYS])
@pytest.mark.parametrize("example", [EXAMPLE_ZH, EXAMPLE_EN])
def test_the_starter_file_is_the_example_moved_by_whole_quarters(day: date, example: Path) -> None:
    """The cycle is the quarter holding the day; a date on a month's first or last day stays there, any other keeps its
    weekday; everything else is the example as shipped."""
    lang = example.name.split(".")[1]
    shipped = yaml.safe_load(example.read_text(encoding="utf-8"))
    moved = yaml.safe_load(starter_okrs(lang=lang, today=day))
    cycle = moved["cycle"]
    assert cycle["start"] <= day <= cycle["end"]
    assert cycle["start"].day == 1 and cycle["start"].month in (1, 4, 7, 10)
    assert (cycle["end"] - cycle["start"]).days in range(89, 92)
    assert cycle["name"] == f"{day.year}-Q{(day.month - 1) // 3 + 1}"

    def dates(node: object) -> list[date]:
        if isinstance(node, dict):
            return [d for value in node.values() for d in dates(value)]
        if isinstance(node, list):
            return [d for value in node for d in dates(value)]
        return [node] if isinstance(node, date) else []

    pairs = list(zip(dates(shipped), dates(moved), strict=True))
    assert len(pairs) == 7  # cycle start and end, the deadline, four due dates

    def last(d: date) -> bool:
        return d.day == calendar.monthrange(d.year, d.month)[1]

    for before, after in pairs:
        if before.day == 1 or last(before):
            assert (after.day == 1) == (before.day == 1) and last(after) == last(before), (before, after)
            assert (after.year * 12 + after.month - before.year * 12 - before.month) % 3 == 0, (before, after)
        else:
            quarters = round((after - before).days / 91.3)
            assert after.weekday() == before.weekday() and abs((after - before).days - 91.3 * quarters) <= 4, (
                before, after)
    assert moved["people"] == shipped["people"] and moved["workspace"] == shipped["workspace"]


def test_init_never_writes_over_a_file(tmp_path: Path) -> None:
    """An existing file is named and left as it was (exit 2); with no file name the starter goes to standard output."""
    there = tmp_path / "okrs.yaml"
    there.write_text("mine\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["init", str(there), "--lang", "en"])
    assert result.exit_code == 2 and str(there) in result.stderr and "already there" in result.stderr
    assert there.read_text(encoding="utf-8") == "mine\n"
    printed = CliRunner().invoke(cli, ["init", "--lang", "en"])
    assert printed.exit_code == 0 and yaml.safe_load(printed.stdout)["cycle"]["start"] <= datetime.now(UTC).date()
