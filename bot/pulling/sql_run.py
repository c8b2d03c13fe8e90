"""One SQL source statement run inside a read-only transaction under a deadline it cannot lift, per database.

PostgreSQL (psycopg 3): `BEGIN READ ONLY` and `SET LOCAL statement_timeout` before the statement; the
statement itself goes through the extended query protocol (`binary=True, prepare=False`: one Parse/Bind/Execute,
which PostgreSQL refuses for several statements, and no placeholder is read in the text); a timer cancels it from
the client (`cancel_safe`) if the server's timeout did not; the transaction is always rolled back. A `set_config`
inside the statement changes nothing for the running statement, and the rollback undoes it for the next.
MySQL/MariaDB: the session's statement time limit (`max_statement_time` on MariaDB, `MAX_EXECUTION_TIME` on MySQL)
and `START TRANSACTION READ ONLY`, no multi-statement flag, and the driver's read timeout as the client's guard.
SQLite: the file opened `mode=ro` with `PRAGMA query_only`, an authorizer that lets SQLite itself deny everything
but reading (ATTACH, PRAGMA, writes), the progress handler's deadline, and a length limit that refuses a value over
1 MB before SQLite loads it.
"""

from __future__ import annotations

import math
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sqlalchemy.engine import URL

from bot.core.errors import KrbotError
from bot.pulling.sql_statement import MAX_VALUE_BYTES, Statement, bounded_sql, probe_sql, writes

GRACE_SECONDS = 1.0  # the client's guard acts this long after the server's own limit should have
SQLITE_VALUE_LIMIT = 1_000_000  # bytes: SQLite refuses a longer string or blob before loading it
_QUERY_CANCELED = "57014"  # PostgreSQL: statement timeout or cancel request
_READ_ONLY_STATE = "25006"  # PostgreSQL: read_only_sql_transaction
_MYSQL_TIMEOUT = {1969, 3024}  # MariaDB max_statement_time, MySQL max_execution_time
_MYSQL_LOST = 2013  # the connection ended during the statement: the read timeout when late, else the server
_MYSQL_READ_ONLY = 1792
_MYSQL_COLUMN_COUNT = {1353, 4002}
_MYSQL_CONNECT = {2002, 2003, 2005, 2006, 2013, 1045, 1049}
_COLUMN_COUNT = re.compile(r"has (\d+) (?:values for|columns available)")


@dataclass(slots=True)
class Reading:
    """An open cursor inside the read-only transaction, and what SQLite's authorizer denied meanwhile."""

    cursor: Any
    backend: str
    deadline: float = math.inf
    denied: list[str] = field(default_factory=list)
    stopped: threading.Event = field(default_factory=threading.Event)  # the client's guard acted
    done: threading.Event = field(default_factory=threading.Event)  # the statement is over

    def run(self, *, sql: str) -> None:
        """Run one statement of ours or a checked one: never with parameters, on PostgreSQL never simple protocol."""
        if self.backend == "postgresql":
            self.cursor.execute(sql, prepare=False, binary=True)
        else:
            self.cursor.execute(sql)


@dataclass(frozen=True, slots=True)
class Answer:
    """What a bounded read gave: at most 2 rows of (value or None when too big, its size, rows counted up to 3)."""

    rows: list[tuple[Any, ...]]
    columns: int


def read_answer(*, engine: Any, statement: Statement, deadline: float, seconds: float) -> Answer:
    """The statement's bounded rows, or the KrbotError saying why not (refused, too slow, a write, its own words)."""
    with reading_scope(engine=engine, deadline=deadline, seconds=seconds) as reading:
        columns = statement.columns
        if columns is None and reading.backend == "postgresql":  # PostgreSQL would name fewer columns silently
            reading.run(sql=probe_sql(statement=statement))
            columns = len(reading.cursor.description or ())
        reading.run(sql=bounded_sql(statement=statement, columns=columns or 1))
        rows = [tuple(row) for row in reading.cursor.fetchmany(2)]
    return Answer(rows=rows, columns=columns or 1)


@contextmanager
def reading_scope(*, engine: Any, deadline: float, seconds: float) -> Iterator[Reading]:
    """A pooled connection's cursor in a read-only transaction under the deadline; any driver error, from the
    connection, the transaction's start or the statement, becomes a KrbotError by kind."""
    reading = Reading(cursor=None, backend=engine.url.get_backend_name(), deadline=deadline)
    if deadline <= time.monotonic():
        raise KrbotError("source.timeout", seconds=int(seconds))
    try:
        with checkout(engine=engine) as connection, \
                read_only(connection=connection, backend=reading.backend, deadline=deadline) as reading:
            yield reading
    except KrbotError:
        raise
    except Exception as error:  # noqa: BLE001 - every driver's error becomes a refusal by kind
        raise refusal(error=error, reading=reading, url=engine.url, seconds=seconds) from None


@contextmanager
def checkout(*, engine: Any) -> Iterator[Any]:
    """A pooled DBAPI connection, or "could not connect"; given back (or dropped when broken) after."""
    try:
        connection = engine.raw_connection()
    except Exception as error:  # noqa: BLE001 - the pool raises the driver's own errors as they come
        raise KrbotError("source.connect", detail=said(error=error, url=engine.url)) from None
    try:
        yield connection
    finally:
        connection.close()


@contextmanager
def read_only(*, connection: Any, backend: str, deadline: float) -> Iterator[Reading]:
    """A cursor in a read-only transaction that ends by `deadline` (server limit and client guard), rolled back."""
    seconds = max(0.001, deadline - time.monotonic())
    raw = connection.driver_connection
    opened = {"postgresql": _postgres, "sqlite": _sqlite}.get(backend, _mysql)
    try:
        with opened(raw=raw, seconds=seconds, deadline=deadline) as reading:
            yield reading
    finally:
        if not _ended(raw=raw, backend=backend):
            connection.invalidate()  # a broken connection is dropped, not given back to the pool


def _ended(*, raw: Any, backend: str) -> bool:
    """The transaction rolled back and the connection handed back as the pool lent it; False when it broke."""
    try:
        raw.rollback()
        if backend == "postgresql":
            raw.autocommit = False
    except Exception:  # noqa: BLE001 - whatever the driver says, the connection is not reusable
        return False
    return True


@contextmanager
def _postgres(*, raw: Any, seconds: float, deadline: float) -> Iterator[Reading]:
    """PostgreSQL: our own BEGIN READ ONLY with the statement timeout, one message before the source's statement;
    a guard stops the statement from the client."""
    raw.rollback()  # nothing to end, normally (no round trip then)
    raw.autocommit = True  # so that psycopg sends no BEGIN of its own: the transaction is the one begun here
    with raw.cursor() as cursor:
        reading = Reading(cursor=cursor, backend="postgresql", deadline=deadline)
        guard = threading.Timer(seconds + GRACE_SECONDS, partial(_stop, raw=raw, reading=reading))
        guard.daemon = True
        guard.start()
        try:
            cursor.execute(f"BEGIN READ ONLY; SET LOCAL statement_timeout = {max(1, int(seconds * 1000))}")
            yield reading
        finally:
            reading.done.set()
            guard.cancel()


def _stop(*, raw: Any, reading: Reading) -> None:
    """The client's guard (in the timer's thread): ask the server to cancel; if no answer comes, cut the socket."""
    reading.stopped.set()
    try:
        raw.cancel_safe(timeout=GRACE_SECONDS)
    except Exception:  # noqa: BLE001 - nothing to cancel, or the server is gone: the socket is cut below
        pass
    if reading.done.wait(GRACE_SECONDS):
        return
    try:  # the server or the network hangs: end the connection under the blocked read (it fails at once)
        with socket.socket(fileno=os.dup(raw.pgconn.socket)) as stuck:
            stuck.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


@contextmanager
def _mysql(*, raw: Any, seconds: float, deadline: float) -> Iterator[Reading]:
    """MySQL/MariaDB: the session's statement time limit, then a read-only transaction."""
    cursor = raw.cursor()
    try:
        if "mariadb" in str(raw.get_server_info()).lower():
            cursor.execute(f"SET SESSION max_statement_time = {seconds:.3f}")
        else:
            cursor.execute(f"SET SESSION MAX_EXECUTION_TIME = {max(1, int(seconds * 1000))}")
        cursor.execute("START TRANSACTION READ ONLY")
        yield Reading(cursor=cursor, backend="mysql", deadline=deadline)
    finally:
        cursor.close()


@contextmanager
def _sqlite(*, raw: Any, seconds: float, deadline: float) -> Iterator[Reading]:
    """SQLite: an authorizer that allows reading only, and a progress handler that stops at the deadline."""
    reading = Reading(cursor=raw.cursor(), backend="sqlite", deadline=deadline)
    raw.set_authorizer(partial(_authorize, denied=reading.denied))
    raw.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
    try:
        yield reading
    finally:
        reading.cursor.close()
        raw.set_progress_handler(None, 0)
        raw.set_authorizer(None)


def _authorize(action: int, name: str | None, detail: str | None, _db: str | None, _trigger: str | None,
               *, denied: list[str]) -> int:
    """SQLite's own check of each step: reading tables, SELECT, functions and recursive CTEs; nothing else."""
    import sqlite3

    from bot.pulling.sql_statement import outside_function

    allowed = action in (sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_RECURSIVE)
    if action == sqlite3.SQLITE_FUNCTION:
        allowed = not outside_function(name=str(detail or ""))
    if allowed:
        return sqlite3.SQLITE_OK
    words = {value: key for key, value in vars(sqlite3).items() if key.startswith("SQLITE_") and isinstance(value, int)
             and key not in ("SQLITE_OK", "SQLITE_DENY", "SQLITE_IGNORE") and not key.startswith("SQLITE_LIMIT")}
    word = words.get(action, str(action)).removeprefix("SQLITE_").replace("_", " ")
    denied.append(f"{detail}()" if action == sqlite3.SQLITE_FUNCTION else word)
    return sqlite3.SQLITE_DENY


def sqlite_connected(dbapi_connection: Any, _record: Any) -> None:
    """Every SQLite source connection: no write even through an attached database, no value over 1 MB."""
    import sqlite3

    dbapi_connection.execute("PRAGMA query_only = ON")
    dbapi_connection.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, SQLITE_VALUE_LIMIT)


def refusal(*, error: Exception, reading: Reading, url: URL, seconds: float) -> KrbotError:
    """The refusal for a statement the database refused or stopped: by kind, its own words only in `detail`."""
    words = said(error=error, url=url)
    lowered = words.lower()
    code = error.args[0] if error.args and isinstance(error.args[0], int) else None
    state = getattr(error, "sqlstate", None)
    if reading.denied:
        what = reading.denied[0]
        return KrbotError("source.statement_refused", what=what, **({"writes": True} if writes(what=what) else {}))
    if "too big" in lowered:
        return KrbotError("source.too_big", limit=MAX_VALUE_BYTES)
    late = code == _MYSQL_LOST and time.monotonic() >= reading.deadline
    if reading.stopped.is_set() or state == _QUERY_CANCELED or code in _MYSQL_TIMEOUT or late or "interrupted" in lowered:
        return KrbotError("source.timeout", seconds=int(seconds))
    if state == _READ_ONLY_STATE or code == _MYSQL_READ_ONLY or "readonly" in lowered or "read-only" in lowered:
        return KrbotError("source.read_only", detail=words)
    counted = _COLUMN_COUNT.search(words)
    if counted or code in _MYSQL_COLUMN_COUNT:
        return KrbotError("source.columns", count=counted.group(1) if counted else ">1")
    broken = reading.backend == "postgresql" and (  # connection lost, server shut down or restarting
        str(state or "").startswith(("08", "57P")) or state is None and type(error).__name__ == "OperationalError")
    if code in _MYSQL_CONNECT or broken:
        return KrbotError("source.connect", detail=words)
    return KrbotError("source.query", detail=words)


def said(*, error: BaseException, url: URL) -> str:
    """The database's own words, first line, at most 300 characters, never the password."""
    original = getattr(error, "orig", None) or error
    text = str(original.args[1]) if len(getattr(original, "args", ())) > 1 else str(original)
    words = (text.strip().splitlines() or [type(original).__name__])[0]
    if url.password:
        words = words.replace(str(url.password), "***")
    return words[:300]

