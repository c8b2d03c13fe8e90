"""Issue #20's SQL attacks against real SQLite, PostgreSQL (as the superuser `postgres`) and MariaDB sources: each is
refused or stopped, nothing is written, no program runs, no file appears, and the pull fails by kind in time."""

from __future__ import annotations

import resource
import threading
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot import services
from bot.app import App
from bot.core import model
from bot.core.errors import KrbotError
from bot.i18n import translate
from bot.pulling import Puller
from tests.conftest import POSTGRES
from tests.fakes.source_databases import MARIADB, SourceDatabase, source_database

KINDS = [
    "sqlite",
    pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.skipif(not POSTGRES, reason="no PostgreSQL")]),
    pytest.param("mariadb", marks=pytest.mark.skipif(not MARIADB, reason="no MariaDB at 127.0.0.1:3306")),
]
GRACE = 1.0  # bot/pulling/sql_run.py: the client's guard acts this long after the server's limit


@pytest.fixture(params=KINDS)
def source(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SourceDatabase]:
    """A source database with two orders, its URL in SALES_DB_URL (an allowed source variable)."""
    with source_database(kind=request.param, tmp_path=tmp_path) as database:
        monkeypatch.setenv("SALES_DB_URL", database.url)
        monkeypatch.setenv("KRBOT_SOURCE_ENVS", "SALES_DB_URL")
        yield database


@pytest.fixture
def marker() -> Iterator[Path]:
    """A file path in /tmp nobody may create (a program run or an ATTACH would); removed if it appears anyway."""
    path = Path(f"/tmp/krbot_attack_{uuid.uuid4().hex}")
    yield path
    path.unlink(missing_ok=True)


def pull(sql: str, *, puller: Puller | None = None, timeout: float = 10.0) -> Any:
    """One pull of `sql` from SALES_DB_URL, as the sync job does it."""
    own = puller or Puller(timeout=timeout)
    try:
        return own.pull(source=model.Source(sql=sql, database_env="SALES_DB_URL"))
    finally:
        if puller is None:
            own.close()


def refused(sql: str, **options: Any) -> tuple[KrbotError, str, str, float]:
    """The refusal of a pull of `sql`: the error, its words in en and zh, and how long the pull took."""
    started = time.monotonic()
    with pytest.raises(KrbotError) as caught:
        pull(sql, **options)
    error = caught.value
    words = translate(error.key, lang="en", **error.params), translate(error.key, lang="zh", **error.params)
    return error, *words, time.monotonic() - started


def test_a_plain_select_still_pulls(source: SourceDatabase) -> None:
    assert Decimal(str(pull(source.fill("SELECT sum(gmv) FROM {t}")))) == Decimal("3500.75")
    assert Decimal(str(pull(source.fill("SELECT * FROM (SELECT sum(gmv) AS total FROM {t}) AS s")))) == Decimal("3500.75")
    assert pull(source.fill("WITH o AS (SELECT gmv FROM {t}) SELECT count(*) FROM o;")) == 2  # a trailing ; is fine


@pytest.mark.parametrize("sql", [
    "SELECT 1; COMMIT; CREATE TABLE {new} (a INTEGER)",
    "SELECT 1; INSERT INTO {t} (id, gmv) VALUES (99, 1)",
    "SELECT ';' AS x; DELETE FROM {t}",
    "SELECT 1 /* ; */; DROP TABLE {t} -- ;",
])
def test_joined_statements_are_refused_and_nothing_is_written(source: SourceDatabase, sql: str) -> None:
    before = source.orders()
    error, en, zh, _ = refused(source.fill(sql))
    assert error.key == "source.statement_refused" and error.params["count"] >= 2, error.params
    assert "statements joined by “;”" in en and "a source must be exactly one SELECT" in en, en
    assert "条语句" in zh and "只读的 SELECT" in zh, zh
    assert source.orders() == before and source.has(source.table) and not source.has(source.new)


def test_a_refused_statement_never_reaches_the_database(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refused before connecting: with nothing listening, the refusal still says what was refused, not "could not
    connect"."""
    from tests.fakes.served import free_port

    for url in (f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/x",
                f"mysql+pymysql://root@127.0.0.1:{free_port()}/x"):
        monkeypatch.setenv("SALES_DB_URL", url)
        for sql in ("SELECT 1; DROP TABLE orders", "COPY (SELECT 1) TO PROGRAM 'id'", "SET statement_timeout = 0"):
            error, *_ = refused(sql)
            assert error.key == "source.statement_refused", (url, sql, error.key)


@pytest.mark.parametrize(("sql", "what"), [
    ("COPY (SELECT 1) TO PROGRAM 'touch {file}'", "COPY"),
    ("SET statement_timeout = 0", "SET"),
    ("ATTACH DATABASE '{file}' AS x", "ATTACH"),
    ("PRAGMA query_only = OFF", "PRAGMA"),
    ("WITH d AS (DELETE FROM {t} RETURNING id) SELECT count(*) FROM d", "DELETE"),
    ("SELECT * INTO {new} FROM {t}", "INTO"),
    ("SELECT gmv FROM {t} WHERE id = 1 FOR UPDATE", "FOR UPDATE"),
    ("INSERT INTO {t} (id, gmv) VALUES (99, 1)", "INSERT"),
    ("EXPLAIN ANALYZE SELECT 1", "EXPLAIN"),
    ("CALL refresh_orders()", "CALL"),
    ("SELECT pg_read_file('/etc/passwd')", "pg_read_file()"),
    ("SELECT count(*) FROM {t} WHERE note = :note", "parameter"),
])
def test_statements_that_are_not_one_select_are_refused_by_kind(
    source: SourceDatabase, marker: Path, sql: str, what: str
) -> None:
    before = source.orders()
    error, en, zh, _ = refused(source.fill(sql).replace("{file}", str(marker)))
    assert error.key == "source.statement_refused", (error.key, error.params)
    if error.params["what"] != "unreadable":  # MySQL's grammar has no COPY/ATTACH/PRAGMA: unreadable there
        assert what in error.params["what"], error.params
        assert what in en and what in zh, (en, zh)
    assert source.orders() == before and not source.has(source.new)
    assert not marker.exists()


def test_a_write_says_the_source_tried_to_write(source: SourceDatabase) -> None:
    _, en, zh, _ = refused(source.fill("UPDATE {t} SET gmv = 0"))
    assert "“UPDATE”: the source tried to write" in en and "试图写入" in zh, en


@pytest.mark.parametrize("sql", [
    "SELECT 1; CREATE TABLE {new} (a INTEGER)",
    "CREATE TABLE {new} (a INTEGER)",
    "INSERT INTO {t} (id, gmv) VALUES (99, 1)",
    "WITH d AS (DELETE FROM {t} RETURNING id) SELECT count(*) FROM d",
    "SELECT * INTO {new} FROM {t}",
    "COPY (SELECT 1) TO PROGRAM 'touch {file}'",
    "ATTACH DATABASE '{file}' AS x",
    "SET statement_timeout = 0",
])
def test_the_database_itself_holds_when_the_parser_is_bypassed(
    source: SourceDatabase, marker: Path, sql: str
) -> None:
    """Defence in depth: the text sent as if sqlglot had let it through still fails (a CTE body takes one query
    and no write, in a read-only transaction) — nothing written, no program run, no file."""
    from bot.pulling.sql import source_engine
    from bot.pulling.sql_run import read_answer
    from bot.pulling.sql_statement import DIALECTS, Statement

    dialect = DIALECTS["postgresql" if source.kind == "postgres" else "mysql" if source.kind == "mariadb" else "sqlite"]
    statement = Statement(text=source.fill(sql).replace("{file}", str(marker)), dialect=dialect, columns=1)
    before = source.orders()
    puller = Puller(timeout=5)
    try:
        engine = source_engine(puller=puller, name="SALES_DB_URL", address=source.url)
        with pytest.raises(KrbotError) as caught:
            read_answer(engine=engine, statement=statement, deadline=time.monotonic() + 5, seconds=5)
    finally:
        puller.close()
    assert caught.value.key in ("source.query", "source.read_only", "source.columns"), caught.value.key
    assert source.orders() == before and not source.has(source.new) and not marker.exists()


def _raw(source: SourceDatabase, sql: str) -> KrbotError:
    """`sql` run bare inside the read-only transaction (no parse, no CTE): what the database alone says."""
    from bot.pulling.sql import source_engine
    from bot.pulling.sql_run import checkout, read_only, refusal

    puller = Puller(timeout=5)
    try:
        engine = source_engine(puller=puller, name="SALES_DB_URL", address=source.url)
        with checkout(engine=engine) as connection, read_only(
            connection=connection, backend=engine.url.get_backend_name(), deadline=time.monotonic() + 5
        ) as reading:
            try:
                reading.run(sql=sql)
            except Exception as error:  # noqa: BLE001 - the refusal is what we look at
                return refusal(error=error, reading=reading, url=engine.url, seconds=5)
    finally:
        puller.close()
    raise AssertionError(f"the database ran {sql!r}")


def test_sqlite_itself_denies_attach_pragma_and_writes(source: SourceDatabase, marker: Path) -> None:
    if source.kind != "sqlite":
        pytest.skip("SQLite's authorizer")
    for sql, what in ((f"ATTACH DATABASE '{marker}' AS x", "ATTACH"), ("PRAGMA query_only = OFF", "PRAGMA"),
                      (source.fill("INSERT INTO {t} (id, gmv) VALUES (99, 1)"), "INSERT"),
                      (source.fill("CREATE TABLE {new} (a INTEGER)"), "INSERT"),  # into sqlite_master
                      ("SELECT load_extension('/tmp/x.so')", "load_extension()")):
        error = _raw(source, sql)
        assert error.key == "source.statement_refused" and error.params["what"] == what, (sql, error.params)
    assert not marker.exists() and not source.has(source.new) and len(source.orders()) == 2


def test_postgres_and_mariadb_themselves_take_one_statement_and_no_write(source: SourceDatabase) -> None:
    if source.kind == "sqlite":
        pytest.skip("the server's own refusals")
    several = _raw(source, source.fill("SELECT 1; INSERT INTO {t} (id, gmv) VALUES (99, 1)"))
    assert several.key == "source.query", several.params  # extended protocol / no multi-statements: not run
    write = _raw(source, source.fill("INSERT INTO {t} (id, gmv) VALUES (99, 1)"))
    assert write.key == "source.read_only", write.params
    assert len(source.orders()) == 2


def _slow(kind: str) -> list[str]:
    if kind == "postgres":
        return ["SELECT count(*) FROM pg_sleep(60)",
                "WITH lift AS (SELECT set_config('statement_timeout', '0', false) AS off) "
                "SELECT count(pg_sleep(60)) FROM lift",
                "SELECT count(*) FROM (SELECT set_config('statement_timeout', '0', true)) AS lift, pg_sleep(60)"]
    if kind == "mariadb":
        return ["SELECT SLEEP(60)"]
    return ["WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n"]


def test_a_slow_statement_ends_by_the_deadline_it_cannot_lift(source: SourceDatabase) -> None:
    for sql in _slow(source.kind):
        error, en, zh, took = refused(sql, timeout=2)
        assert error.key == "source.timeout" and "no answer within" in en and "秒内没有回应" in zh, (sql, en)
        assert took < 2 + 2 * GRACE + 1.5, (sql, took)


def test_a_lift_in_one_pull_is_rolled_back_before_the_next(source: SourceDatabase) -> None:
    if source.kind != "postgres":
        pytest.skip("PostgreSQL's set_config")
    puller = Puller(timeout=2)  # one run: the same pooled connection serves both pulls
    try:
        assert pull("SELECT length(set_config('statement_timeout', '0', false))", puller=puller) == 1
        assert pull("SELECT length(set_config('default_transaction_read_only', 'off', false))", puller=puller) == 3
        started = time.monotonic()
        with pytest.raises(KrbotError) as caught:
            pull("SELECT count(*) FROM pg_sleep(60)", puller=puller)
        assert caught.value.key == "source.timeout" and time.monotonic() - started < 2 + 2 * GRACE + 1.5
        assert pull("SELECT current_setting('transaction_read_only')", puller=puller) == "on"
    finally:
        puller.close()


def test_a_hung_server_is_stopped_by_the_clients_guard(source: SourceDatabase, monkeypatch: pytest.MonkeyPatch) -> None:
    """The server answers but the answer never arrives (a hung network): the client's guard ends the pull."""
    if source.kind != "postgres":
        pytest.skip("psycopg's cancel and the socket under it")
    from sqlalchemy.engine import make_url

    from tests.fakes.stalling_proxy import StallingProxy

    real = make_url(source.url)
    with StallingProxy(target=(real.host or "127.0.0.1", real.port or 5432)) as proxy:
        address = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        monkeypatch.setenv("SALES_DB_URL", address)
        outcome: dict[str, Any] = {}

        def attempt() -> None:
            puller = Puller(timeout=1.5)
            started = time.monotonic()
            try:
                pull("SELECT 7 AS krbot_stall", puller=puller)
            except KrbotError as error:
                outcome["key"] = error.key
            finally:
                outcome["took"] = time.monotonic() - started
                puller.close()

        worker = threading.Thread(target=attempt, daemon=True)
        worker.start()
        worker.join(timeout=20)
        assert not worker.is_alive(), "the pull hung past its deadline"
    assert proxy.stalled.is_set() and outcome.get("key") == "source.timeout", outcome
    assert outcome["took"] < 1.5 + 2 * GRACE + 2, outcome


def _huge(kind: str) -> list[str]:
    if kind == "postgres":
        return ["SELECT repeat('9', 300000000)", "SELECT decode(repeat('ab', 50000000), 'hex')"]
    if kind == "mariadb":  # beyond max_allowed_packet the server itself answers NULL
        return ["SELECT REPEAT('9', 10000000)"]
    return ["SELECT hex(zeroblob(150000000))", "SELECT zeroblob(300000000)"]


def test_a_huge_value_is_refused_unread(source: SourceDatabase) -> None:
    from sqlalchemy import text

    kind = "MEDIUMTEXT" if source.kind == "mariadb" else "TEXT"
    with source.admin.begin() as connection:  # a 5 MB text stored in the source database
        connection.execute(text(source.fill(f"CREATE TABLE {{new}} (body {kind})")))
        connection.execute(text(source.fill("INSERT INTO {new} VALUES (:body)")), {"body": "7" * 5_000_000})
    stored = source.fill("SELECT body FROM {new}")
    for sql in [*_huge(source.kind), stored]:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        error, en, zh, _ = refused(sql)
        grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak) / 1024
        assert grown_mb < 50, (sql, grown_mb)  # refused unread, whatever the refusal
        if error.key == "source.timeout" and sql != stored:  # a loaded machine may not even build 300 MB in 10 s
            continue
        assert error.key == "source.too_big" and error.params["limit"] == 1024 and "1.0 kB" in en, (sql, en, zh)


def test_rows_are_counted_by_the_database_and_at_most_two_leave_it(source: SourceDatabase) -> None:
    _, two, _, _ = refused(source.fill("SELECT id FROM {t}"))
    _, many, zh, _ = refused(source.fill("SELECT id FROM {t} UNION ALL SELECT id + 10 FROM {t}"))
    assert "returned 2 rows" in two and "returned >2 rows" in many and ">2" in zh, (two, many)
    if source.kind == "postgres":  # ten million rows: the database stops after three
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        error, _, _, took = refused("SELECT generate_series(1, 10000000)")
        assert error.params["count"] == ">2" and took < 3, (error.params, took)
        assert (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak) / 1024 < 50


def test_a_colon_or_percent_in_a_literal_is_text(source: SourceDatabase) -> None:
    assert pull("SELECT CASE WHEN 'a:b %s %(x)s :name ;' <> '' THEN 42 END") == 42
    assert pull(source.fill("SELECT count(*) FROM {t} WHERE note IN ('a;b', 'c:d %s')")) == 2


@pytest.mark.parametrize("gmv_sql", [
    "SELECT sum(gmv) FROM orders; DELETE FROM orders",
    "COPY (SELECT 1) TO PROGRAM 'id'",
    "WITH d AS (DELETE FROM orders RETURNING gmv) SELECT sum(gmv) FROM d",
])
def test_a_sync_whose_source_tried_reports_the_pull_failed_and_stores_nothing(
    app: App, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gmv_sql: str
) -> None:
    """The whole path `krbot jobs run sync` takes: never "pulled", the owner told, the orders untouched."""
    from tests.fakes.sources import count_orders, sources_yaml
    from tests.fakes.synced import IMPORTED, OCT15, synced_workspace

    monkeypatch.setenv("KRBOT_SOURCE_ENVS", "SALES_DB_URL,SHOP_HEADERS")
    with synced_workspace(app=app, db_url=db_url, tmp_path=tmp_path, monkeypatch=monkeypatch) as synced:
        services.import_okrs(uow=app.uow, filename="sync.yaml", at=IMPORTED,
                             text=sources_yaml(json_url=synced.json.url, gmv_sql=gmv_sql))
        outcome = synced.runner().run(job="sync", now=OCT15)
        assert outcome.counts["pull failed"] == 1 and outcome.counts["pulled"] == 2, outcome.counts
        gmv = synced.pulls()["GMV"]
        assert gmv["source"]["last_pull"]["status"] == "failed" and gmv["source"]["last_pull"].get("ok_at") is None
        checkins = services.export_all(uow=app.uow, at=OCT15)["checkins"]
        assert not [c for c in checkins if c["measure"] == "GMV" and c["origin"] == "synced"], checkins
        assert gmv["source"]["last_pull"]["error"] == "refused", gmv["source"]["last_pull"]  # the kind, for all
        told = [n["text"] for n in synced.notices() if n["target"] == "ana"]
        assert any("GMV" in text and "krbot refused to run" in text for text in told), told  # the words, for the owner
        assert count_orders(synced.sales) == 2


def test_a_connection_the_server_dropped_fails_one_pull_and_is_not_lent_again(
    source: SourceDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Engines live for one run, without a ping per pull: a connection killed meanwhile fails its pull as "could
    not connect", is dropped from the pool, and the next pull of the run gets a fresh one."""
    if source.kind != "postgres":
        pytest.skip("pg_terminate_backend")
    from sqlalchemy import text

    name = f"krbot_{source.tag}"
    monkeypatch.setenv("SALES_DB_URL", f"{source.url}&application_name={name}")
    puller = Puller(timeout=5)
    try:
        query = source.fill("SELECT count(*) FROM {t}")
        assert pull(query, puller=puller) == 2
        with source.admin.connect() as connection:
            killed = connection.execute(text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = :name"), {"name": name}).scalar_one()
        assert killed == 1
        with pytest.raises(KrbotError) as caught:
            pull(query, puller=puller)
        assert caught.value.key == "source.connect", caught.value.params
        assert pull(query, puller=puller) == 2
    finally:
        puller.close()


def test_a_database_krbot_cannot_hold_read_only_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALES_DB_URL", "mssql+pyodbc://reader:pw@erp.example.com/sales")
    error, en, zh, _ = refused("SELECT 1")
    assert error.key == "source.backend" and "pw" not in en, en
    assert "names a mssql database" in en and "PostgreSQL, MySQL/MariaDB and SQLite" in en and "mssql" in zh, en
