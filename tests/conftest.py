"""Shared fixtures: a real SQLite file and, where it answers, a real PostgreSQL schema per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from bot import services
from bot.__main__ import cli
from bot.app import App, build_app
from bot.okrfile.starter import starter_okrs
from storage.scratch import postgres_schema

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_ZH = ROOT / "examples" / "q4-europe.zh.yaml"
EXAMPLE_EN = ROOT / "examples" / "q4-europe.en.yaml"
# Properties are judged by what they find, never by the clock: a loaded CI machine may take seconds for one example
# (no deadline) or to generate inputs (no too_slow health check). Tests that set their own settings inherit these.
settings.register_profile("krbot", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("krbot")
POSTGRES_URL = os.environ.get("KRBOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _postgres_answers() -> bool:
    try:
        engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("select 1"))
        engine.dispose()
        return True
    except Exception:  # noqa: BLE001 - any failure means: no PostgreSQL here
        return False


POSTGRES = _postgres_answers()
if not POSTGRES and os.environ.get("CI") == "true":
    raise RuntimeError(f"CI needs PostgreSQL at {POSTGRES_URL}, and it does not answer")


# The variables the suite's OKR files name for sources and webhook secrets, allowed as an operator would (§8).
SOURCE_ENVS = "SALES_DB_URL,SHOP_HEADERS,BI_URL,TEST_WEBHOOK_SECRET,HOOK_SECRET,ERP_HEADERS,BENCH_SALES_URL"


@pytest.fixture(autouse=True)
def root_logging_restored() -> Iterator[None]:
    """A test that runs `krbot run` in-process sets krbot's log handler on the root logger: every test leaves the root
    as it found it, so no later CLI test reads log lines in its stderr."""
    import logging

    root = logging.getLogger()
    before = (root.handlers[:], root.level)
    yield
    root.handlers[:], root.level = before


@pytest.fixture(autouse=True)
def allowed_source_envs(monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs with the suite's source variables allowed in KRBOT_SOURCE_ENVS (tests of the allow-list
    change or remove it)."""
    monkeypatch.setenv("KRBOT_SOURCE_ENVS", SOURCE_ENVS)
    return SOURCE_ENVS


LOOPBACK_ALLOWED = "127.0.0.1,::1,localhost"  # the fake sources and receivers all listen on loopback


@pytest.fixture(autouse=True)
def loopback_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sources and webhooks may reach the local fakes: KRBOT_OUTBOUND_ALLOW opens loopback (subprocesses that copy
    os.environ inherit it); the tests of the outbound guard unset it to see the refusals."""
    monkeypatch.setenv("KRBOT_OUTBOUND_ALLOW", LOOPBACK_ALLOWED)


# For a slow test whose point is neither a race nor a lock (a scheduler's arithmetic, a retry loop against an
# unreachable host): it runs on the SQLite file only, since PostgreSQL would add a minute of CI, not proof.
sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'krbot.db'}"
        return
    if not POSTGRES:
        pytest.skip(f"PostgreSQL does not answer at {POSTGRES_URL}")
    with postgres_schema(url=POSTGRES_URL) as url:
        yield url


@pytest.fixture
def app(db_url: str) -> Iterator[App]:
    """The wired app on a migrated database."""
    wired = build_app(database_url=db_url)
    yield wired
    wired.uow.engine.dispose()


IMPORTED_AT = datetime(2026, 9, 30, 12, 0, tzinfo=UTC)


@pytest.fixture
def example(app: App) -> App:
    """The app with the shared example OKRs imported."""
    services.import_okrs(
        uow=app.uow, text=EXAMPLE_ZH.read_text(encoding="utf-8"), filename=str(EXAMPLE_ZH), at=IMPORTED_AT
    )
    return app


@pytest.fixture
def example_now(app: App) -> App:
    """The app with the example OKRs moved to the current quarter, as `krbot init` writes them: for the tests whose
    `krbot run` stamps check-ins with the real clock (so they run on any day, never skip for it)."""
    now = datetime.now(UTC)
    services.import_okrs(uow=app.uow, text=starter_okrs(lang="zh", today=now.date()), filename="okrs.yaml", at=now)
    return app


@pytest.fixture
def run_cli(db_url: str):
    """Run `krbot …` in-process against the test database; returns (exit code, stdout, stderr)."""
    runner = CliRunner()

    def invoke(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(cli, [*args, "--db", db_url])
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code, result.stdout, result.stderr

    return invoke
