"""Running it for real: /metrics moves, logs are JSON without secrets, CSV export reads back, deploy files agree."""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from bot import services
from bot.app import App, build_app
from bot.http import build_http_app
from bot.logs import configure_logging
from tests.conftest import EXAMPLE_ZH, IMPORTED_AT, ROOT
from tests.fakes.served import serve

AT = datetime(2026, 10, 15, 8, 0, tzinfo=UTC)


@pytest.fixture
def http_server(example: App) -> Iterator[str]:
    """The real HTTP app (no platform routes) under uvicorn on a free port, its health tied to the database."""
    from bot.app import database_answers

    served = serve(app=build_http_app(routes=[], health=lambda: {"ok": database_answers(app=example), "platforms": {}}))
    yield served.url
    served.stop()


def _sample(text: str, name: str, **labels: str) -> float:
    """One sample's value from Prometheus' text format (0 when absent)."""
    wanted = ",".join(f'{key}="{value}"' for key, value in labels.items())
    pattern = re.compile(rf"^{re.escape(name)}\{{{re.escape(wanted)}\}} (\S+)$", re.MULTILINE)
    found = pattern.search(text)
    return float(found.group(1)) if found else 0.0


def test_metrics_move_with_commands(example: App, http_server: str) -> None:
    """Stored check-ins and commands by outcome are counted; request latency is observed per route."""
    before = httpx.get(f"{http_server}/metrics").text
    services.run_command(uow=example.uow, person="chen", text="/kr update KR2 1.8%", at=AT, source="cli")
    services.run_command(uow=example.uow, person="zhao", text="/kr update KR2 1.9%", at=AT, source="cli")
    services.run_command(uow=example.uow, person="chen", text="/kr list", at=AT, source="cli")
    after = httpx.get(f"{http_server}/metrics").text
    assert _sample(after, "krbot_checkins_stored_total", source="cli") - _sample(before, "krbot_checkins_stored_total", source="cli") == 1
    assert _sample(after, "krbot_commands_total", command="update", outcome="ok") - _sample(
        before, "krbot_commands_total", command="update", outcome="ok"
    ) == 1
    assert _sample(after, "krbot_commands_total", command="update", outcome="refused") - _sample(
        before, "krbot_commands_total", command="update", outcome="refused"
    ) == 1
    assert _sample(after, "krbot_http_request_seconds_count", route="/metrics") >= 1
    other = _sample(after, "krbot_http_request_seconds_count", route="other")
    assert httpx.get(f"{http_server}/wp-admin/setup.php").status_code == 404
    scanned = httpx.get(f"{http_server}/metrics").text
    assert _sample(scanned, "krbot_http_request_seconds_count", route="other") == other + 1
    assert "/wp-admin" not in scanned  # a path that is no route adds no series of its own


def test_healthz_reports_the_database(example: App, http_server: str) -> None:
    """200 with the database answering; 503 once it does not."""
    answer = httpx.get(f"{http_server}/healthz")
    assert answer.status_code == 200 and answer.json()["ok"] is True
    if example.uow.engine.dialect.name != "sqlite":
        pytest.skip("a PostgreSQL outage is simulated on SQLite only")
    database = Path(example.uow.engine.url.database or "")
    example.uow.engine.dispose()
    database.rename(database.with_suffix(".gone"))
    database.mkdir()  # a folder where the file was: every connection now fails
    try:
        assert httpx.get(f"{http_server}/healthz").status_code == 503
    finally:
        database.rmdir()
        database.with_suffix(".gone").rename(database)


def test_json_logs_carry_context_and_never_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    """One JSON object per line with workspace, person and command; tokens and configured secrets blanked."""
    configure_logging(fmt="json", secrets=("s3cr3t-signing-value",))
    try:
        logging.getLogger("krbot.test").warning(
            "posting with xoxb-1234-5678-abcdef and s3cr3t-signing-value",
            extra={"workspace": "欧洲事业部", "person": "chen", "command": "update"},
        )
        line = capsys.readouterr().err.strip().splitlines()[-1]
    finally:
        logging.getLogger().handlers.clear()
    entry = json.loads(line)
    assert entry["workspace"] == "欧洲事业部" and entry["person"] == "chen" and entry["command"] == "update"
    assert "xoxb" not in line and "s3cr3t" not in line and entry["message"].count("[redacted]") == 2


def test_csv_export_by_period_reads_back_in(example: App, tmp_path: Path, db_url: str) -> None:
    """`export --format csv` lists check-ins by ISO week, person and KR, and `import-checkins` takes it back whole."""
    from typer.testing import CliRunner

    from bot.__main__ import cli

    quarter = (ROOT / "examples" / "q4-europe.checkins.zh.csv").read_text(encoding="utf-8")
    after = datetime(2027, 1, 10, 12, 0, tzinfo=UTC)  # every row of the quarter lies in the past (none in the future)
    services.import_checkins(uow=example.uow, text=quarter, filename="q4.csv", now=after)
    exported = CliRunner().invoke(cli, ["export", "--format", "csv", "--db", db_url]).stdout
    assert exported.startswith("\ufeff")  # Excel reads UTF-8 only with a BOM
    rows = list(csv.DictReader(io.StringIO(exported.removeprefix("\ufeff"))))
    assert rows[0]["period"] == "2026-W40" and rows[-1]["period"] == "2026-W52"
    keys = [(r["period"], r["person"], r["code"]) for r in rows]
    assert keys == sorted(keys)
    fresh = build_app(database_url=f"sqlite:///{tmp_path / 'copy.db'}")
    services.import_okrs(uow=fresh.uow, text=EXAMPLE_ZH.read_text(encoding="utf-8"), filename="q4.yaml", at=IMPORTED_AT)
    counts = services.import_checkins(uow=fresh.uow, text=exported, filename="export.csv", now=after)
    original = services.export_all(uow=example.uow, at=IMPORTED_AT)["checkins"]
    copied = services.export_all(uow=fresh.uow, at=IMPORTED_AT)["checkins"]
    asks = services.export_all(uow=example.uow, at=IMPORTED_AT)["asks"]
    assert counts["rows"] == len(original) + len(asks) and len(original) == len(copied)
    assert sorted((c["code"], c["measure"], c["value"], c["at"]) for c in copied) == sorted(
        (c["code"], c["measure"], c["value"], c["at"]) for c in original
    )


def test_env_example_lists_every_variable_of_the_contract() -> None:
    """Each variable of CONTRACT §3 appears in .env.example with a comment above it."""
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    for name in (
        "KRBOT_DATABASE_URL", "KRBOT_HTTP_PORT", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN",
        "SLACK_API_URL", "FEISHU_APP_ID", "FEISHU_APP_SECRET", "FEISHU_VERIFICATION_TOKEN", "FEISHU_ENCRYPT_KEY",
        "FEISHU_DOMAIN", "KRBOT_LOG_FORMAT",
    ):
        assert re.search(rf"^#.*\n(?:[A-Z_]+=.*\n)*{name}=", text, re.MULTILINE), name


def test_dockerfile_installs_the_wheel_as_a_non_root_user_and_checks_health() -> None:
    """Multi-stage, slim base, the wheel (not the source tree) installed, non-root, HEALTHCHECK on /healthz, run --http."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert text.count("FROM python:3.11-slim") == 2
    assert "pip wheel" in text and "pip install --no-cache-dir /wheels/*.whl" in text
    assert "USER krbot" in text and "/healthz" in text and 'CMD ["krbot", "run", "--http"]' in text


def test_delivery_metrics_count_sends_errors_and_retries() -> None:
    """A send failing once then succeeding: one platform error, one retry; spent tries count errors, not retries."""
    from prometheus_client import generate_latest

    from bot.metrics import REGISTRY
    from bot.platforms.base import Sent
    from bot.retrying import RetryPolicy, retrying

    def value(name: str, **labels: str) -> float:
        return _sample(generate_latest(REGISTRY).decode(), name, **labels)

    errors, retries = value("krbot_platform_api_errors_total", platform="t"), value("krbot_platform_api_retries_total", platform="t")
    answers = iter([RuntimeError("HTTP 500"), Sent(platform="t", message_id="m1")])

    def send() -> Sent:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    policy = RetryPolicy(tries=3, backoff=0.01, backoff_max=0.01)
    assert retrying(policy=policy, platform="t")(send).message_id == "m1"
    assert value("krbot_platform_api_errors_total", platform="t") - errors == 1
    assert value("krbot_platform_api_retries_total", platform="t") - retries == 1

    def always_down() -> Sent:
        raise RuntimeError("HTTP 503")

    with pytest.raises(RuntimeError):
        retrying(policy=policy, platform="t")(always_down)
    assert value("krbot_platform_api_errors_total", platform="t") - errors == 4  # 1 + 3 tries
    assert value("krbot_platform_api_retries_total", platform="t") - retries == 3  # 1 + the 2 tries after the first
