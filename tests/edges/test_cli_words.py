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


def _commands() -> dict[str, Any]:
    """Every `krbot` command and sub-command by its full name (`import`, `jobs run`, …)."""
    import typer

    from bot.cli import cli

    found: dict[str, Any] = {}

    def walk(command: Any, prefix: str) -> None:
        for name, sub in getattr(command, "commands", {}).items():
            full = f"{prefix} {name}".strip()
            found[full] = sub
            walk(sub, full)

    walk(typer.main.get_command(cli), "")
    return found


def test_help_writes_no_type_after_a_flag(run_cli: Any) -> None:
    for name in ("import", "digest", "jobs run", "export", "run"):
        code, out, err = run_cli(*name.split(), "--help")
        assert code == 0, err
        assert "--help" in out and "<bool>" not in out, (name, out)
    code, out, _ = run_cli("import", "--help")
    assert "<str>" in out  # an option that takes a value still says what it takes


def test_run_help_names_every_route_the_server_serves() -> None:
    from bot.api import PREFIX
    from bot.api.routes import router
    from bot.platforms.slack import INSTALL_PATH, REDIRECT_PATH

    helps = " ".join(p.help or "" for p in _commands()["run"].params)
    routes = {PREFIX + route.path for route in router.routes}
    routes |= {"/slack/events", INSTALL_PATH, REDIRECT_PATH, "/feishu/events", "/hooks/{secret}", "/healthz", "/metrics"}
    assert [route for route in sorted(routes) if route not in helps] == []


def test_jobs_help_names_every_job() -> None:
    from bot.cli.ops import JobName

    commands = _commands()
    words = (commands["jobs"].help or "") + " ".join(p.help or "" for p in commands["jobs run"].params)
    assert [job.value for job in JobName if job.value not in words] == []


def test_lint_output_explains_its_letters(run_cli: Any, tmp_path: Path) -> None:
    path = tmp_path / "okrs.yaml"
    path.write_text(EXAMPLE_EN.read_text(encoding="utf-8").replace("  deadline: 2026-12-31", "  deadline: 2027-03-31"))
    code, out, err = run_cli("lint", str(path))
    assert "T O1" in out + err and "Letters: T = time-bound." in out + err, out + err
