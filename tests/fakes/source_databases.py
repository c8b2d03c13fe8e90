"""Real source databases for the SQL attack tests: a SQLite file, a PostgreSQL schema (reached as the superuser
`postgres`, the worst case an operator may hand over) and a table on the local MariaDB; each with a uniquely named
`orders` table of two rows, looked at through an engine of the test's own (never krbot's)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, create_engine, inspect, text

from storage.scratch import postgres_schema
from tests.conftest import POSTGRES_URL

MARIADB_URL = os.environ.get("KRBOT_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test")


def _mariadb_answers() -> bool:
    try:
        engine = create_engine(MARIADB_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:  # noqa: BLE001 - any failure means: no MariaDB here (or no pymysql)
        return False


MARIADB = _mariadb_answers()


@dataclass
class SourceDatabase:
    """A source database holding `table` (id, gmv, note) with two orders; `new` is a table name nothing may create."""

    kind: str
    url: str
    admin: Engine
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:10])

    @property
    def table(self) -> str:
        return f"orders_{self.tag}"

    @property
    def new(self) -> str:
        return f"made_{self.tag}"

    def orders(self) -> list[tuple]:
        """Every order, as the database holds it now."""
        with self.admin.connect() as connection:
            return [tuple(row) for row in connection.execute(text(f"SELECT id, gmv FROM {self.table} ORDER BY id"))]

    def has(self, table: str) -> bool:
        """True when `table` exists."""
        return inspect(self.admin).has_table(table)

    def fill(self, sql: str) -> str:
        """`sql` with {t} (the orders table) and {new} (a table that must not appear) filled in."""
        return sql.replace("{t}", self.table).replace("{new}", self.new)


@contextmanager
def source_database(*, kind: str, tmp_path: Path) -> Iterator[SourceDatabase]:
    """A fresh source database of `kind` (sqlite, postgres, mariadb), dropped after."""
    if kind == "sqlite":
        with _made(kind=kind, url=f"sqlite:///{tmp_path / 'source.db'}") as database:
            yield database
    elif kind == "postgres":
        with postgres_schema(url=POSTGRES_URL, prefix="src") as url, _made(kind=kind, url=url) as database:
            yield database
    else:
        with _made(kind=kind, url=MARIADB_URL) as database:
            yield database


@contextmanager
def _made(*, kind: str, url: str) -> Iterator[SourceDatabase]:
    admin = create_engine(url)
    database = SourceDatabase(kind=kind, url=url, admin=admin)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE TABLE {database.table} (id INTEGER PRIMARY KEY, gmv NUMERIC(12, 2), "
                                "note VARCHAR(50))"))
        connection.execute(text(f"INSERT INTO {database.table} VALUES (1, 1000.5, 'a;b'), (2, 2500.25, 'c:d %s')"))
    try:
        yield database
    finally:
        with admin.begin() as connection:
            for table in (database.table, database.new):
                connection.execute(text(f"DROP TABLE IF EXISTS {table}"))
        admin.dispose()
