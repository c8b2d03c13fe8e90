"""A SQL source: the query run read-only (PostgreSQL READ ONLY with a statement timeout, SQLite `mode=ro`), one row, one number."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from bot.core.errors import KrbotError
from bot.pulling import Puller, environment, scalar

MAX_ROWS = 100  # rows read to say how many a query returned (more are "over 100")
_READ_ONLY_WORDS = ("read-only transaction", "readonly database", "read only", "query_only")
_TIMEOUT_WORDS = ("statement timeout", "canceling statement", "interrupted")


def read_only_url(*, url: URL) -> URL:
    """The URL opened read-only: a SQLite file as `file:…?mode=ro&uri=true`; other databases as given."""
    if url.get_backend_name() != "sqlite":
        return url
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        path = database.removeprefix("file:").split("?", 1)[0]
    else:
        path = database
    if not path or path == ":memory:":
        raise KrbotError("source.sqlite_file")
    return url.set(database=f"file:{path}", query={**url.query, "mode": "ro", "uri": "true"})


def _engine(*, puller: Puller, name: str, address: str) -> Engine:
    """One engine per URL within a sync run."""
    with puller.lock:
        engine = puller.engines.get(address)
        if engine is None:
            engine = _new_engine(puller=puller, name=name, address=address)
            puller.engines[address] = engine
    return engine


def _new_engine(*, puller: Puller, name: str, address: str) -> Engine:
    """An engine for a source URL, opened read-only where the URL can say so."""
    try:
        url = read_only_url(url=make_url(address))
    except ArgumentError:
        raise KrbotError("source.bad_url", name=name) from None
    backend = url.get_backend_name()
    connect_args: dict[str, Any] = {}
    if backend == "postgresql":
        connect_args["connect_timeout"] = max(1, int(puller.timeout))
    elif backend == "sqlite":
        connect_args["timeout"] = puller.timeout
    try:
        engine = create_engine(url, connect_args=connect_args, pool_pre_ping=True)
    except (ArgumentError, ImportError, SQLAlchemyError) as error:
        raise KrbotError("source.connect", detail=_said(error, url=url)) from None
    if backend == "sqlite":
        event.listen(engine, "connect", _sqlite_query_only)
    return engine


def _sqlite_query_only(dbapi_connection: Any, _record: Any) -> None:
    """SQLite: no write even through an attached database."""
    dbapi_connection.execute("PRAGMA query_only = ON")


def pull_sql(*, puller: Puller, sql: str, database_env: str) -> Any:
    """The one value of one row `sql` returns, run in a read-only transaction under the time limit."""
    address = environment(name=database_env)
    engine = _engine(puller=puller, name=database_env, address=address)
    try:
        connection = engine.connect()
    except SQLAlchemyError as error:
        raise KrbotError("source.connect", detail=_said(error, url=engine.url)) from None
    try:
        rows, width = _run(connection=connection, sql=sql, seconds=puller.timeout)
    except DBAPIError as error:
        raise _query_error(error, url=engine.url, seconds=puller.timeout) from None
    finally:
        connection.close()
    if len(rows) != 1:
        raise KrbotError("source.rows", count=len(rows) if len(rows) <= MAX_ROWS else f">{MAX_ROWS}")
    if width != 1:
        raise KrbotError("source.columns", count=width)
    return scalar(value=rows[0][0])


def _run(*, connection: Any, sql: str, seconds: float) -> tuple[list[Any], int]:
    """Rows (up to MAX_ROWS + 1) and the column count, in a transaction that is read-only and rolled back."""
    backend = connection.engine.url.get_backend_name()
    with connection.begin() as transaction:
        if backend == "postgresql":
            connection.execute(text("SET TRANSACTION READ ONLY"))
            connection.execute(text(f"SET LOCAL statement_timeout = {int(seconds * 1000)}"))
        elif backend in ("mysql", "mariadb"):
            connection.execute(text("SET TRANSACTION READ ONLY"))
        raw = connection.connection.dbapi_connection
        if backend == "sqlite":
            deadline = time.monotonic() + seconds
            raw.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
        try:
            result = connection.execute(text(sql))
            if not result.returns_rows:
                raise KrbotError("source.no_rows_returned")
            rows = list(result.fetchmany(MAX_ROWS + 1))
            width = len(result.keys())
        finally:
            if backend == "sqlite":
                raw.set_progress_handler(None, 0)
            transaction.rollback()
    return rows, width


def _query_error(error: DBAPIError, *, url: URL, seconds: float) -> KrbotError:
    """The refusal for a query the database refused: a write, a time-out, or its own words."""
    said = _said(error, url=url)
    lowered = said.lower()
    if any(word in lowered for word in _READ_ONLY_WORDS):
        return KrbotError("source.read_only", detail=said)
    if any(word in lowered for word in _TIMEOUT_WORDS):
        return KrbotError("source.timeout", seconds=int(seconds))
    if error.connection_invalidated or "connection" in lowered and "refused" in lowered:
        return KrbotError("source.connect", detail=said)
    return KrbotError("source.query", detail=said)


def _said(error: BaseException, *, url: URL) -> str:
    """The database's own words, first line, at most 300 characters, never the password."""
    original = getattr(error, "orig", None) or error
    words = (str(original).strip().splitlines() or [type(original).__name__])[0]
    if url.password:
        words = words.replace(str(url.password), "***")
    return words[:300]
