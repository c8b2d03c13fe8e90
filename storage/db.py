"""Engines, the unit of work, and schema upgrades through Alembic."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from bot.resources import resource_dir
from storage import deadlines


def make_engine(*, url: str) -> Engine:
    """An engine for `url`; SQLite gets foreign keys, a busy timeout and WAL for several processes; every engine gets
    the deadlines of storage/deadlines.py (limits per use, a request's work cut at its deadline)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": deadlines.SQLITE_BUSY_MS / 1000})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        deadlines.install(engine=engine)
        return engine
    engine = create_engine(url, pool_pre_ping=not url.startswith("postgresql"))  # PostgreSQL: pinged by the deadlines
    deadlines.install(engine=engine)
    return engine


def alembic_config(*, engine: Engine) -> Config:
    """An Alembic config pointing at the shipped migrations and this engine."""
    config = Config()
    config.set_main_option("script_location", str(resource_dir(name="alembic")))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    config.attributes["engine"] = engine
    return config


def upgrade(*, engine: Engine) -> None:
    """Bring the schema to the newest revision (`alembic upgrade head`)."""
    command.upgrade(alembic_config(engine=engine), "head")


@dataclass
class Atomic:
    """One transaction that every `begin()` of this thread joins; `spoiled` once a joined block raised."""

    session: Session
    spoiled: bool = False


class UnitOfWork:
    """Opens sessions that commit together or not at all."""

    def __init__(self, *, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(bind=engine, expire_on_commit=False)
        repeatable = {"isolation_level": "REPEATABLE READ"} if engine.dialect.name == "postgresql" else {}
        self._snapshots = sessionmaker(bind=engine.execution_options(**repeatable), expire_on_commit=False)
        self._joined: ContextVar[Atomic | None] = ContextVar(f"krbot_atomic_{id(self)}", default=None)
        # SQLite has one writer: this process's atomic writers queue on a lock (woken at once, in turn) rather than
        # on SQLite's busy handler, which sleeps up to 100 ms a try and lets a writer starve under a burst.
        self._writer: AbstractContextManager[Any] = threading.Lock() if engine.dialect.name == "sqlite" else nullcontext()

    @contextmanager
    def begin(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back if it raises (inside `atomic()`: joins that one)."""
        outer = self._joined.get()
        if outer is not None:
            try:
                yield outer.session
            except BaseException:
                outer.spoiled = True  # what the block wrote may be half done: atomic() must not commit it
                raise
            return
        deadlines.in_time()
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def snapshot(self) -> Iterator[Session]:
        """One transaction whose reads all see the same moment (PostgreSQL: REPEATABLE READ), for a read made of several
        queries such as an export; inside `atomic()`, the atomic one."""
        outer = self._joined.get()
        if outer is not None:
            yield outer.session
            return
        deadlines.in_time()
        with self._snapshots() as session, session.begin():
            if self.engine.dialect.name == "sqlite":  # the driver begins only before a write: reads would each see now
                session.connection().exec_driver_sql("BEGIN")
            yield session

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A connection for a few plain reads (no ORM session to set up); inside `atomic()`, the atomic one."""
        outer = self._joined.get()
        if outer is not None:
            yield outer.session.connection()
            return
        deadlines.in_time()
        with self.engine.connect() as connection:
            yield connection

    @contextmanager
    def one_writer(self) -> Iterator[None]:
        """Queue this process's writers in turn for a write made outside atomic() (SQLite); elsewhere, nothing."""
        with self._turn():
            yield

    @contextmanager
    def _turn(self) -> Iterator[None]:
        """This process's writer turn (SQLite), waited for no longer than the thread's database deadline."""
        due = deadlines.current()
        if due is None or isinstance(self._writer, nullcontext):
            with self._writer:
                yield
            return
        if not self._writer.acquire(timeout=max(0.0, due.remaining())):
            raise due.late()
        try:
            yield
        finally:
            self._writer.release()

    @contextmanager
    def atomic(self) -> Iterator[Atomic]:
        """One transaction around several service calls (each `begin()` inside joins it): committed at the end, or not at all."""
        if self._joined.get() is not None:
            raise RuntimeError("atomic() does not nest")
        deadlines.in_time()
        with self._turn(), self._sessions() as session, session.begin():
            outer = Atomic(session=session)
            token = self._joined.set(outer)
            try:
                yield outer
            finally:
                self._joined.reset(token)
