"""The OKR file's §9 parts (a measure's source, workspace.sync and webhooks) import, read back and refuse clearly."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.app import App
from bot.core import model
from bot.services.context import load_scope

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_EN = ROOT / "examples" / "q4-europe.en.yaml"
MEASURE = "              - name: GMV\n"
INDENT = " " * 16


def _with_feeds(text: str, *, source: str, workspace_extra: str) -> str:
    """The English example with a source on the first KR measure named GMV and extra workspace lines."""
    text = text.replace("workspace:\n", "workspace:\n" + workspace_extra, 1)
    return text.replace(MEASURE, MEASURE + source, 1)


def _example_lines() -> str:
    return EXAMPLE_EN.read_text(encoding="utf-8")


def test_sources_sync_and_webhooks_round_trip(app: App, tmp_path: Path, run_cli: Any) -> None:
    text = _example_lines()
    source = f"{INDENT}source: {{sql: 'SELECT sum(gmv) FROM orders', database_env: SALES_DB_URL}}\n"
    extra = (
        "  sync: Daily  07:30\n"
        "  webhooks:\n"
        "    - {url: 'https://hooks.example.com/krbot', events: [checkin.saved, ask.decided], secret_env: HOOK_SECRET}\n"
    )
    edited = _with_feeds(text, source=source, workspace_extra=extra)
    assert edited != text, "the example no longer has the lines this test edits"
    path = tmp_path / "feeds.yaml"
    path.write_text(edited, encoding="utf-8")
    code, out, err = run_cli("import", str(path))
    assert code == 0, err + out
    with app.uow.begin() as session:
        okrs = load_scope(session=session, workspace=None, at=datetime(2026, 11, 1, tzinfo=UTC)).okrs
    assert okrs.workspace.sync == "daily 07:30"
    assert okrs.workspace.webhooks == (
        model.Webhook(
            url="https://hooks.example.com/krbot",
            events=(model.WebhookEvent.CHECKIN_SAVED, model.WebhookEvent.ASK_DECIDED),
            secret_env="HOOK_SECRET",
        ),
    )
    sourced = [m for o in okrs.objectives for kr in o.krs() for m in kr.measures if m.source is not None]
    assert [m.name for m in sourced] == ["GMV"]
    assert sourced[0].source == model.Source(sql="SELECT sum(gmv) FROM orders", database_env="SALES_DB_URL")


def test_a_source_naming_both_kinds_is_refused_with_what_works(run_cli: Any, tmp_path: Path) -> None:
    text = _example_lines()
    source = INDENT + "source: {sql: 'SELECT 1', url: 'https://x.example/a.json', json_path: $.a}\n"
    path = tmp_path / "both.yaml"
    path.write_text(_with_feeds(text, source=source, workspace_extra=""), encoding="utf-8")
    code, out, err = run_cli("lint", str(path))
    assert code != 0
    said = out + err
    assert "either sql" in said and "json_path" in said, said


def test_a_bad_sync_time_is_refused(run_cli: Any, tmp_path: Path) -> None:
    path = tmp_path / "sync.yaml"
    path.write_text(_with_feeds(_example_lines(), source="", workspace_extra="  sync: hourly\n"), encoding="utf-8")
    code, out, err = run_cli("lint", str(path))
    assert code != 0
    assert "“hourly” is not a sync time" in out + err
