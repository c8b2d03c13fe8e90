"""Deadlines on the database: a block of database work that ends by a given moment, or raises `DatabaseLate`.

Why: a chat request must be answered — saved, or "nothing was saved" — within Slack's and Feishu's 3 s, and a
request told "nothing was saved" must never be stored afterwards. A database host that stops answering (a network
partition, a hung server) answers no statement, no cancel and no timeout the server itself would apply, so the
deadline is kept on this side, per use:

- `deadline(at=...)` marks the database work of this thread (a chat request's lane) as due by a moment. Without one
  (jobs, the CLI, imports) the limits are the long background ones below: per use, never one global tiny one.
- At every checkout the connection is pinged and given the use's server-side limits in the same round trip
  (PostgreSQL: `statement_timeout` and `lock_timeout` just under the time left, `idle_in_transaction_session_timeout`
  so that a transaction whose client vanished is rolled back by the server within seconds; SQLite: `busy_timeout`).
  A slow but living server thus stops the statement itself and answers with an error: clean, the connection kept.
- A watchdog thread cuts (shuts down) the socket of every connection a late block still holds at its deadline:
  the waiting driver call returns at once with an error, and the pool throws the connection away. A new connection
  is made within the time left (in a helper thread, as libpq's connect_timeout counts whole seconds, at least two).
- The COMMIT decides what the user may be told. A transaction that never sent its COMMIT cannot be committed later,
  whatever bytes of it reach the server after a partition heals (the server rolls it back when the connection ends
  or stays idle): "nothing was saved" is true. Once the COMMIT of a transaction that wrote is sent, its answer may
  be what was lost: from then on the request is `maybe_saved`, and the edges say "could not confirm it was saved"
  (a platform retrying an event meets the event's claim, stored in the same transaction, so it is stored once).
  The commit hook refuses to send a COMMIT past the deadline, under the same lock the watchdog takes to cut: either
  the COMMIT went out before the deadline (maybe saved) or it never goes out (nothing saved).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, event, exc

log = logging.getLogger("krbot.database")

REQUEST_SECONDS = 2.0  # a chat request's database work: Slack and Feishu show a failure at 3 s (1 s left to answer)
SERVER_MARGIN = 0.3  # the server's own limits fire this long before the cut, so a living server answers first
ORPHAN_SECONDS = 5  # a request's transaction left idle (its client gone) is rolled back by the server after this
SQLITE_BUSY_MS = 30_000  # background SQLite writers wait this long for the write lock
CONNECT_SECONDS = 10  # a background connection attempt
BACKGROUND = {  # PostgreSQL limits of jobs, imports and the CLI (milliseconds): long, but not for ever
    "statement_timeout": 300_000, "lock_timeout": 60_000, "idle_in_transaction_session_timeout": 600_000,
}
KEEPALIVES = {  # a dead peer found by TCP within about a minute, idle or sending
    "keepalives": 1, "keepalives_idle": 20, "keepalives_interval": 10, "keepalives_count": 3, "tcp_user_timeout": 60_000,
}
_READS = ("SELECT", "SHOW", "PRAGMA", "SET", "BEGIN", "ROLLBACK", "RELEASE", "SAVEPOINT")
_SLOW_STATES = {"57014", "55P03"}  # query_canceled (statement_timeout), lock_not_available (lock_timeout)


class DatabaseLate(Exception):  # noqa: N818 - a condition the edges answer, named as they speak of it
    """The database did not answer within the deadline; `maybe_saved` when a COMMIT of a write went out."""

    def __init__(self, *, maybe_saved: bool) -> None:
        super().__init__("the database did not answer in time" + (" (a commit may have gone through)" if maybe_saved else
                                                                   "; nothing was committed"))
        self.maybe_saved = maybe_saved


@dataclass(eq=False)
class Deadline:
    """One block's moment (time.monotonic()), what it committed, and the sockets the watchdog cuts when it passes."""

    at: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    expired: bool = False
    finished: bool = False
    commits: int = 0  # COMMITs of transactions that wrote, sent under this deadline
    sockets: dict[int, socket.socket] = field(default_factory=dict)

    def remaining(self) -> float:
        """Seconds left (negative once past)."""
        return self.at - time.monotonic()

    def late(self) -> DatabaseLate:
        """The error this block raises once late."""
        return DatabaseLate(maybe_saved=self.commits > 0)

    def expire(self) -> None:
        """Past the moment: no more COMMIT, and every connection still held is cut (its waiting call returns)."""
        with self.lock:
            if self.finished or self.expired:
                return
            self.expired = True
            for sock in self.sockets.values():
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        log.warning("database work past its deadline: cut (%s)", "a commit may have gone through" if self.commits
                    else "nothing committed")


_CURRENT: ContextVar[Deadline | None] = ContextVar("krbot_db_deadline", default=None)
_HELD: dict[int, Deadline] = {}  # id(dbapi connection) -> the deadline it is watched under
_HELD_LOCK = threading.Lock()


class _Watchdog:
    """One daemon thread that expires deadlines as their moments come."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Deadline]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def watch(self, *, deadline: Deadline) -> None:
        """Expire `deadline` at its moment unless it finished first (woken only when it is the nearest one)."""
        with self._wake:
            heapq.heappush(self._heap, (deadline.at, next(self._order), deadline))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="krbot-db-deadlines", daemon=True)
                self._thread.start()
            if self._heap[0][2] is deadline:
                self._wake.notify()

    def _run(self) -> None:
        """Sleep until the nearest unfinished moment; expire it if still unfinished then (finished ones are dropped
        in bulk, so a stream of quick requests wakes this thread about once per deadline's length, not per request)."""
        while True:
            with self._wake:
                while self._heap and self._heap[0][2].finished:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._wake.wait()
                    continue
                wait = self._heap[0][0] - time.monotonic()
                if wait > 0:
                    self._wake.wait(wait)
                    continue
                _, _, due = heapq.heappop(self._heap)
            due.expire()


_WATCHDOG = _Watchdog()


def current() -> Deadline | None:
    """The deadline this thread's database work is under, if any."""
    return _CURRENT.get()


@contextmanager
def deadline(*, at: float | None = None, seconds: float | None = None) -> Iterator[Deadline]:
    """The database work of this block (this thread) ends by `at` (time.monotonic()) or in `seconds`, else raises
    DatabaseLate; a block that starts late raises at its first database call."""
    moment = at if at is not None else time.monotonic() + (seconds if seconds is not None else REQUEST_SECONDS)
    due = Deadline(at=moment)
    token = _CURRENT.set(due)
    _WATCHDOG.watch(deadline=due)
    try:
        yield due
    finally:
        _CURRENT.reset(token)
        with due.lock:
            due.finished = True
            for sock in due.sockets.values():
                sock.close()
            due.sockets.clear()


def in_time() -> None:
    """Raise DatabaseLate when this thread's deadline has passed: a request that waited out its time for a lane takes
    no pooled connection (a refused checkout would throw a good one away)."""
    due = current()
    if due is not None and (due.expired or due.remaining() <= 0):
        raise due.late()


def maybe_saved(error: BaseException | None) -> bool:
    """True when `error` (or what caused it) says a COMMIT went out whose answer never came: not "nothing saved"."""
    seen = 0
    while error is not None and seen < 10:
        if isinstance(error, DatabaseLate):
            return error.maybe_saved
        error, seen = error.__cause__ or error.__context__, seen + 1
    return False


# ------------------------------------------------------------ the engine's hooks


def _watch(*, dbapi_connection: Any, due: Deadline) -> None:
    """Watch a checked-out connection under `due`: a duplicate of its socket, for the watchdog to cut."""
    fileno = getattr(dbapi_connection, "fileno", None)
    if fileno is None:
        return
    with due.lock:
        if due.finished:
            return
        try:
            due.sockets[id(dbapi_connection)] = socket.socket(fileno=os.dup(fileno()))
        except Exception:  # noqa: BLE001 - a connection without a socket (closed meanwhile): nothing to cut
            return
        if due.expired:
            due.sockets[id(dbapi_connection)].shutdown(socket.SHUT_RDWR)
    with _HELD_LOCK:
        _HELD[id(dbapi_connection)] = due


def _unwatch(dbapi_connection: Any, *_: Any) -> None:
    """The connection went back to the pool (or away): no longer cut with its last block."""
    with _HELD_LOCK:
        due = _HELD.pop(id(dbapi_connection), None)
    if due is not None:
        with due.lock:
            sock = due.sockets.pop(id(dbapi_connection), None)
            if sock is not None:
                sock.close()


def _prepare_postgres(*, dbapi_connection: Any, due: Deadline | None) -> None:
    """Ping the connection and give it the use's limits, in one round trip (autocommit: no transaction left open)."""
    if due is None:
        limits = BACKGROUND
    else:
        left = max(100, int((due.remaining() - SERVER_MARGIN) * 1000))
        limits = {"statement_timeout": left, "lock_timeout": left,
                  "idle_in_transaction_session_timeout": ORPHAN_SECONDS * 1000}
    before = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    try:
        with dbapi_connection.cursor() as cursor:
            cursor.execute(
                "SELECT " + ", ".join(f"set_config('{name}', %s, false)" for name in limits),
                [str(value) for value in limits.values()],
            )
    finally:
        if not dbapi_connection.closed:
            dbapi_connection.autocommit = before


def _connect_within(*, due: Deadline, connect: Callable[[], Any]) -> Any:
    """A new connection within the time left (libpq counts whole seconds); one that comes later is closed unused."""
    made: Future[Any] = Future()

    def attempt() -> None:
        try:
            made.set_result(connect())
        except BaseException as error:  # noqa: BLE001 - handed to the waiting request
            made.set_exception(error)

    threading.Thread(target=attempt, name="krbot-db-connect", daemon=True).start()
    try:
        return made.result(timeout=max(0.0, due.remaining()))
    except TimeoutError:
        made.add_done_callback(lambda done: done.exception() is None and done.result().close())
        due.expire()
        raise due.late() from None


def _wrote(statement: str) -> bool:
    """True for a statement that may change data (anything but a plain read): its COMMIT may save something."""
    return not statement[:40].lstrip().upper().startswith(_READS)


def install(*, engine: Engine) -> None:
    """Hook deadlines into `engine`: limits per use at checkout, the watchdog's cut, no COMMIT past the deadline."""
    postgres = engine.dialect.name == "postgresql"
    sqlite = engine.dialect.name == "sqlite"

    @event.listens_for(engine, "do_connect")
    def _connect(dialect: Any, _record: Any, cargs: Any, cparams: dict[str, Any]) -> Any:
        if postgres:
            for name, value in {"connect_timeout": CONNECT_SECONDS, **KEEPALIVES}.items():
                cparams.setdefault(name, value)
        due = current()
        if due is None or sqlite:
            return None
        if due.expired or due.remaining() <= 0:
            raise due.late()
        return _connect_within(due=due, connect=lambda: dialect.connect(*cargs, **cparams))

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        due = current()
        if due is not None and (due.expired or due.remaining() <= 0):
            raise due.late()
        if sqlite:
            left = SQLITE_BUSY_MS if due is None else max(1, int((due.remaining() - SERVER_MARGIN) * 1000))
            dbapi_connection.execute(f"PRAGMA busy_timeout = {left}")
            return
        if not postgres:
            return
        if due is not None:
            _watch(dbapi_connection=dbapi_connection, due=due)
        try:
            _prepare_postgres(dbapi_connection=dbapi_connection, due=due)
        except Exception as error:
            if due is not None and due.expired:
                raise due.late() from error
            if engine.dialect.is_disconnect(error, dbapi_connection, None):
                raise exc.DisconnectionError(str(error)) from error  # the pool tries a new connection
            raise

    event.listen(engine, "checkin", _unwatch)
    event.listen(engine, "invalidate", _unwatch)

    @event.listens_for(engine, "before_cursor_execute")
    def _before(connection: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        due = current()
        if due is None:
            return
        if due.expired:
            raise due.late()
        if _wrote(statement):
            connection.info["krbot_wrote"] = True

    @event.listens_for(engine, "commit")
    def _commit(connection: Any) -> None:
        wrote = connection.info.pop("krbot_wrote", False)
        due = current()
        if due is None:
            return
        with due.lock:
            if due.expired:
                raise due.late()
            if wrote:
                due.commits += 1  # from here on this request may have saved something

    @event.listens_for(engine, "rollback")
    def _rollback(connection: Any) -> None:
        connection.info.pop("krbot_wrote", None)

    @event.listens_for(engine, "handle_error")
    def _late(context: Any) -> None:
        due = current()
        if due is None or isinstance(context.original_exception, DatabaseLate):
            return
        state = getattr(context.original_exception, "sqlstate", None)
        locked = sqlite and "locked" in str(context.original_exception)
        dropped = context.is_disconnect or isinstance(context.sqlalchemy_exception, exc.OperationalError)
        if due.expired or state in _SLOW_STATES or locked or (dropped and due.remaining() <= SERVER_MARGIN):
            raise due.late() from context.original_exception

