"""A SQL source: one checked SELECT run read-only under a deadline it cannot lift, read as one small number.

Three walls, each enough alone against the attacks of issue #20, so that a gap in one is held by the next:
1. Parsing (bot/pulling/sql_statement.py): the text must be exactly one SELECT / WITH … SELECT that only reads,
   judged by sqlglot in the database's dialect before anything is sent (`source.statement_refused`).
2. The database (bot/pulling/sql_run.py): the statement runs in a read-only transaction that is always rolled
   back, under the database's own statement time limit set before it (and a client-side guard), through a path that
   takes one statement only (PostgreSQL's extended protocol, MySQL without multi-statements, sqlite3's `execute`),
   with no bind parameters (a `:` or `%` in the text is text). SQLite's authorizer denies all but reading.
3. The answer is bounded by the database, not by us after reading: the statement becomes the body of
   `WITH krbot_source(v, …) AS (…)` and the outer SELECT returns, for at most 2 of at most 3 rows, the value only
   when it is at most 1 KB as text (else NULL), its size in bytes, and how many rows there were. A 300 MB text or
   bytea is measured on the server and refused as too big; it is never sent, so never read into memory.

Engines are made once per URL within a sync run (`Puller.engines`), so a run of 1,000 pulls reuses connections;
the parse of each text is cached.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError

from bot.core.errors import KrbotError
from bot.pulling import Puller, environment, scalar

_FOUND_ROWS = 2  # MySQL CLIENT.FOUND_ROWS, as SQLAlchemy sets it; never CLIENT.MULTI_STATEMENTS


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


def source_url(*, name: str, address: str) -> URL:
    """The URL in variable `name`, for a database krbot can hold read-only; PostgreSQL through psycopg 3."""
    from bot.pulling.sql_statement import DIALECTS

    try:
        url = read_only_url(url=make_url(address))
    except ArgumentError:
        raise KrbotError("source.bad_url", name=name) from None
    backend = url.get_backend_name()
    if backend not in DIALECTS:
        raise KrbotError("source.backend", name=name, backend=backend)
    if backend == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return url


def source_engine(*, puller: Puller, name: str, address: str) -> Engine:
    """One engine per URL within a sync run."""
    with puller.lock:
        engine = puller.engines.get(address)
        if engine is None:
            engine = _new_engine(puller=puller, url=source_url(name=name, address=address))
            puller.engines[address] = engine
    return engine


def _new_engine(*, puller: Puller, url: URL) -> Engine:
    """An engine for a source URL, with the driver's own time limits where it has them."""
    from sqlalchemy import create_engine, event
    from sqlalchemy.exc import SQLAlchemyError

    from bot.pulling.sql_run import GRACE_SECONDS, said, sqlite_connected

    backend = url.get_backend_name()
    connect_args: dict[str, Any] = {}
    if backend == "postgresql":
        connect_args["connect_timeout"] = max(1, int(puller.timeout))
    elif backend == "sqlite":
        connect_args["timeout"] = puller.timeout
    else:  # MySQL/MariaDB: the read timeout is the client's guard behind the server's statement limit
        seconds = max(1, round(puller.timeout))  # whole seconds: mysqlclient takes ints (PyMySQL either)
        connect_args.update(connect_timeout=seconds, client_flag=_FOUND_ROWS,
                            read_timeout=seconds + round(GRACE_SECONDS), write_timeout=seconds)
    try:
        engine = create_engine(url, connect_args=connect_args)  # a run's engine: a connection that broke is dropped
    except (ArgumentError, ImportError, SQLAlchemyError) as error:
        raise KrbotError("source.connect", detail=said(error=error, url=url)) from None
    if backend == "sqlite":
        event.listen(engine, "connect", sqlite_connected)
    return engine


def pull_sql(*, puller: Puller, sql: str, database_env: str) -> Any:
    """The one value of one row `sql` returns, read as described above, or the KrbotError saying what failed."""
    from bot.pulling.sql_run import read_answer
    from bot.pulling.sql_statement import DIALECTS, checked_statement

    deadline = time.monotonic() + puller.timeout
    address = environment(name=database_env)
    engine = source_engine(puller=puller, name=database_env, address=address)  # made, not yet connected
    statement = checked_statement(sql=sql, dialect=DIALECTS[engine.url.get_backend_name()])  # before connecting
    answer = read_answer(engine=engine, statement=statement, deadline=deadline, seconds=puller.timeout)
    if not answer.rows:
        raise KrbotError("source.rows", count=0)
    value, size, rows = answer.rows[0]
    if rows > 1:
        raise KrbotError("source.rows", count=rows if rows < 3 else ">2")
    if answer.columns != 1:
        raise KrbotError("source.columns", count=answer.columns)
    if value is None and size is not None:
        from bot.pulling.sql_statement import MAX_VALUE_BYTES

        raise KrbotError("source.too_big", limit=MAX_VALUE_BYTES)
    return scalar(value=value)
