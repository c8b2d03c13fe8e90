"""Operators are told when a SQL source connects as a superuser or a role that may write: at import (en and zh) and
in /healthz details, checked within the pull's deadline, cached, and "could not check" when the database is away."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot import services
from bot.app import App
from bot.i18n import translate
from bot.pulling.sql_roles import SUPERUSER, WRITER, RoleWatch, check_role, workspace_source_envs
from tests.conftest import POSTGRES, POSTGRES_URL
from tests.fakes.served import free_port
from tests.fakes.source_databases import MARIADB, MARIADB_URL, SourceDatabase, source_database
from tests.fakes.sources import sources_yaml
from tests.fakes.synced import IMPORTED

needs_postgres = pytest.mark.skipif(not POSTGRES, reason="no PostgreSQL")
needs_mariadb = pytest.mark.skipif(not MARIADB, reason="no MariaDB at 127.0.0.1:3306")


@pytest.fixture(autouse=True)
def allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KRBOT_SOURCE_ENVS", "SALES_DB_URL,SHOP_HEADERS")


@pytest.fixture
def postgres_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SourceDatabase]:
    if not POSTGRES:
        pytest.skip("no PostgreSQL")
    with source_database(kind="postgres", tmp_path=tmp_path) as database:
        monkeypatch.setenv("SALES_DB_URL", database.url)
        yield database


@contextmanager
def postgres_role(*, source: SourceDatabase, grants: str) -> Iterator[str]:
    """A login role of its own holding `grants` on the source's table; its URL; dropped after."""
    name = f"krbot_role_{uuid.uuid4().hex[:8]}"
    schema = str(make_url(source.url).query["options"]).split("=", 1)[1]
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE ROLE {name} LOGIN"))
        connection.execute(text(f'GRANT USAGE ON SCHEMA "{schema}" TO {name}'))
        connection.execute(text(f'GRANT {grants} ON "{schema}".{source.table} TO {name}'))
    try:
        yield make_url(source.url).set(username=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP OWNED BY {name}"))
            connection.execute(text(f"DROP ROLE {name}"))
        admin.dispose()


@contextmanager
def mariadb_user(*, source: SourceDatabase, grants: str) -> Iterator[str]:
    """A MariaDB account of its own holding `grants` on the source's table; its URL; dropped after."""
    name = f"krbot_u_{uuid.uuid4().hex[:8]}"
    with source.admin.begin() as connection:
        connection.execute(text(f"CREATE USER '{name}'@'127.0.0.1'"))
        connection.execute(text(f"GRANT {grants} ON test.{source.table} TO '{name}'@'127.0.0.1'"))
    try:
        yield make_url(MARIADB_URL).set(username=name).render_as_string(hide_password=False)
    finally:
        with source.admin.begin() as connection:
            connection.execute(text(f"DROP USER '{name}'@'127.0.0.1'"))


def test_import_warns_when_a_source_connects_as_a_superuser(app: App, postgres_source: SourceDatabase) -> None:
    outcome = services.import_okrs(uow=app.uow, text=sources_yaml(json_url="https://shop.example/m.json"),
                                   filename="sync.yaml", at=IMPORTED)
    warned = [f for f in outcome.findings if f.key.startswith("source_role.")]
    assert [(f.key, f.severity, f.params["name"], f.params["role"]) for f in warned] == [
        ("source_role.superuser", "warn", "SALES_DB_URL", "postgres")
    ]
    en = translate(warned[0].key, lang="en", **warned[0].params)
    zh = translate(warned[0].key, lang="zh", **warned[0].params)
    assert "SALES_DB_URL connects as postgres, a superuser" in en and "role that can only read" in en, en
    assert "超级用户 postgres" in zh and "只能读取的角色" in zh, zh
    assert workspace_source_envs(uow=app.uow) == ["SALES_DB_URL"]


def test_a_postgres_role_that_may_write_is_named_and_a_reader_is_not(
    postgres_source: SourceDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    with postgres_role(source=postgres_source, grants="SELECT, INSERT") as writer:
        monkeypatch.setenv("SALES_DB_URL", writer)
        check = check_role(name="SALES_DB_URL")
        assert check is not None and check.kind == WRITER and "INSERT/UPDATE/DELETE" in check.privileges, check
        assert check.role.startswith("krbot_role_")
    with postgres_role(source=postgres_source, grants="SELECT") as reader:
        monkeypatch.setenv("SALES_DB_URL", reader)
        check = check_role(name="SALES_DB_URL")
        assert check is not None and check.kind == "", check


@needs_mariadb
def test_mariadb_grants_say_superuser_writer_or_reader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with source_database(kind="mariadb", tmp_path=tmp_path) as source:
        monkeypatch.setenv("SALES_DB_URL", source.url)  # root
        assert getattr(check_role(name="SALES_DB_URL"), "kind", None) == SUPERUSER
        with mariadb_user(source=source, grants="SELECT, INSERT") as writer:
            monkeypatch.setenv("SALES_DB_URL", writer)
            check = check_role(name="SALES_DB_URL")
            assert check is not None and check.kind == WRITER and check.privileges == "INSERT", check
        with mariadb_user(source=source, grants="SELECT") as reader:
            monkeypatch.setenv("SALES_DB_URL", reader)
            assert getattr(check_role(name="SALES_DB_URL"), "kind", None) == ""


def test_a_sqlite_source_or_an_unset_variable_has_nothing_to_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SALES_DB_URL", f"sqlite:///{tmp_path / 'sales.db'}")
    assert check_role(name="SALES_DB_URL") is None
    monkeypatch.delenv("SALES_DB_URL")
    assert check_role(name="SALES_DB_URL") is None


def test_an_unreachable_or_silent_database_is_could_not_check_and_never_hangs(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SALES_DB_URL", f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/sales")
    started = time.monotonic()
    outcome = services.import_okrs(uow=app.uow, text=sources_yaml(json_url="https://shop.example/m.json"),
                                   filename="sync.yaml", at=IMPORTED)
    warned = [f for f in outcome.findings if f.key.startswith("source_role.")]
    assert [f.key for f in warned] == ["source_role.unchecked"] and time.monotonic() - started < 15
    en = translate(warned[0].key, lang="en", **warned[0].params)
    zh = translate(warned[0].key, lang="zh", **warned[0].params)
    assert en.startswith("could not check whether the data source SALES_DB_URL") and "could not connect" in en, en
    assert "无法检查数据源 SALES_DB_URL" in zh and "无法连接" in zh, zh
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers
        monkeypatch.setenv("SALES_DB_URL", f"mysql+pymysql://root@127.0.0.1:{silent.getsockname()[1]}/x")
        started = time.monotonic()
        check = check_role(name="SALES_DB_URL", timeout=2)
        assert check is not None and check.kind == "unchecked" and time.monotonic() - started < 6, check


@needs_postgres
def test_the_health_report_is_checked_in_the_background_and_cached(postgres_source: SourceDatabase) -> None:
    asked: list[float] = []

    def names() -> list[str]:
        asked.append(time.monotonic())
        return ["SALES_DB_URL", "NOT_SET_HERE"]

    watch = RoleWatch(names=names, every=600)
    first = watch.report()  # never waits for the check
    assert first == {"checked": False, "privileged": {}, "unchecked": []}
    deadline = time.monotonic() + 15
    while not watch.report()["checked"] and time.monotonic() < deadline:
        time.sleep(0.05)
    for _ in range(50):
        report = watch.report()
    assert report == {"checked": True, "privileged": {"SALES_DB_URL": "superuser"}, "unchecked": []}
    assert len(asked) == 1  # one check for fifty /healthz, until it is due again


def test_a_failing_list_of_sources_keeps_health_answering() -> None:
    def names() -> list[str]:
        raise RuntimeError("krbot's database is away")

    watch = RoleWatch(names=names, every=0.05)
    for _ in range(5):
        assert watch.report()["privileged"] == {}
        time.sleep(0.06)
