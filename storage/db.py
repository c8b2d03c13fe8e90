"""Engines, the unit of work, and schema upgrades through Alembic."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from bot.resources import resource_dir


def make_engine(*, url: str) -> Engine:
    """An engine for `url`; SQLite gets foreign keys, a busy timeout and WAL for several processes."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


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


class UnitOfWork:
    """Opens sessions that commit together or not at all."""

    def __init__(self, *, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(bind=engine, expire_on_commit=False)

    @contextmanager
    def begin(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        with self._sessions() as session, session.begin():
            yield session
