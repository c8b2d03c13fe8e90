"""Sync benchmark: a workspace of N KR measures pulled from a local SQLite database, some of them failing.

Run from the repository root:

    .venv/bin/python bench/sync.py [--db URL] [--krs 1000] [--small 100] [--failing 20]

It writes a source database (`kr_values(kr, value)`, one row per KR) and an OKR file whose every KR has one
measure sourced by `SELECT value FROM kr_values WHERE kr = i` (every `N/failing`-th KR queries a table that is not
there, so its pull fails and its owner is told), imports it, then runs the `sync` job as `krbot jobs run sync` does
(forced, through the ledger and the outbox to a local fake chat server) and prints: the time, the SQL statements
issued against krbot's own database (counted by a SQLAlchemy event; an executemany counts once), per measure,
the failures recorded and told, and the same slot run again (nothing left to pull). Beside it, the floor: the
same N source queries run bare on one read-only engine, without krbot. A smaller workspace shows whether the
statement count grows with the number of measures. Default database: SQLite files in a temp dir; with
`--db postgresql+psycopg://...` each workspace gets a fresh schema, dropped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot import services  # noqa: E402
from bot.app import build_app  # noqa: E402
from bot.scheduler import RetryPolicy, Runner  # noqa: E402
from storage.scratch import postgres_schema  # noqa: E402
from tests.fakes.fake_platform import FakePlatformServer, HttpTestPlatform  # noqa: E402

NOW = datetime(2026, 11, 10, 5, 30, tzinfo=UTC)
PEOPLE = 20


def _source_database(path: Path, krs: int) -> str:
    """The sales database: one value per KR."""
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE kr_values (kr INTEGER PRIMARY KEY, value REAL)")
        connection.executemany("INSERT INTO kr_values VALUES (?, ?)", [(i, 10.0 + i % 90) for i in range(krs)])
    return f"sqlite:///{path}"


def _query(i: int, failing_every: int) -> str:
    table = "no_such_table" if failing_every and i % failing_every == failing_every - 1 else "kr_values"
    return f"SELECT value FROM {table} WHERE kr = {i}"


def _okr_file(krs: int, failing_every: int) -> str:
    people = "\n".join(f"  - {{id: p{n:02d}, name: Owner {n:02d}, slack: U{n:04d}}}" for n in range(PEOPLE))
    items = "\n".join(
        f"""          - code: KR{i:04d}
            title: Raise weekly orders of line {i:04d} in Germany from 0 to 100 by end of December
            owner: p{i % PEOPLE:02d}
            measures:
              - name: Orders
                unit: orders
                baseline: 0
                target: 100
                source: {{sql: "{_query(i, failing_every)}", database_env: BENCH_SALES_URL}}"""
        for i in range(krs)
    )
    return f"""workspace:
  name: Sync Bench
  language: en
  timezone: Europe/Berlin
people:
  - {{id: boss, name: Boss, role: boss}}
{people}
cycle: {{name: Q4, start: 2026-10-01, end: 2026-12-31}}
objectives:
  - code: O1
    title: Grow Amazon Germany orders for every product line this quarter
    owner: boss
    strategy: Europe first
    deadline: 2026-12-31
    paths:
      - code: P1
        title: Every line grows
        priority: 1
        krs:
{items}
"""


@contextlib.contextmanager
def _database(base: str | None, folder: Path, name: str) -> Iterator[str]:
    if base is None:
        yield f"sqlite:///{folder / f'{name}.db'}"
        return
    with postgres_schema(url=base, prefix="bench") as url:
        yield url


class Counter:
    """Statements issued on one engine."""

    def __init__(self, engine: Any) -> None:
        self.count = 0
        self.many = 0
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: Any, _cursor: Any, _statement: str, _params: Any, _context: Any, executemany: bool) -> None:
        self.count += 1
        self.many += int(executemany)


def _floor(url: str, krs: int, failing_every: int) -> float:
    """The N source queries run bare: one read-only engine, a transaction per query, no krbot."""
    engine = create_engine(url.replace("sqlite:///", "sqlite:///file:", 1) + "?mode=ro&uri=true")
    started = time.perf_counter()
    for i in range(krs):
        with engine.connect() as connection, connection.begin():
            try:
                connection.execute(text(_query(i, failing_every))).fetchall()
            except Exception:  # noqa: BLE001 - the failing ones fail here too
                pass
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed


def _run(base: str | None, folder: Path, krs: int, failing: int) -> dict[str, Any]:
    failing_every = krs // failing if failing else 0
    os.environ["BENCH_SALES_URL"] = _source_database(folder / f"sales-{krs}.db", krs)
    os.environ["KRBOT_SOURCE_ENVS"] = "BENCH_SALES_URL"  # the operator allows the variable the OKR file names
    with _database(base, folder, f"krbot-{krs}") as url, FakePlatformServer() as chat:
        app = build_app(database_url=url)
        services.import_okrs(uow=app.uow, text=_okr_file(krs, failing_every), filename="bench.yaml", at=NOW)
        platform = HttpTestPlatform(url=chat.url, name="slack")
        runner = Runner(uow=app.uow, platforms=[platform], policy=RetryPolicy(tries=2, backoff=0.01, workers=8))
        counter = Counter(app.uow.engine)
        started = time.perf_counter()
        outcome = runner.run(job="sync", now=NOW, force=True)
        elapsed = time.perf_counter() - started
        statements, many = counter.count, counter.many
        again = Runner(uow=app.uow, platforms=[platform]).run(job="sync", now=NOW)  # warm the scheduled slot
        counter.count = 0
        started = time.perf_counter()
        Runner(uow=app.uow, platforms=[platform]).run(job="sync", now=NOW)
        idle = time.perf_counter() - started
        idle_statements = counter.count
        platform.stop()
        app.uow.engine.dispose()
    return {
        "krs": krs, "seconds": elapsed, "statements": statements, "executemany": many,
        "pulled": outcome.counts["pulled"], "failed": outcome.counts["pull failed"], "told": outcome.counts["told"],
        "scheduled": again.counts["pulled"], "idle_seconds": idle, "idle_statements": idle_statements,
        "floor": _floor(os.environ["BENCH_SALES_URL"], krs, failing_every),
    }


def main() -> None:
    """Parse the options, run both sizes, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="a PostgreSQL URL for krbot's database (default: SQLite files)")
    parser.add_argument("--krs", type=int, default=1000)
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--failing", type=int, default=20, help="failing sources in the large workspace")
    args = parser.parse_args()
    os.environ.setdefault("KRBOT_OUTBOUND_ALLOW", "127.0.0.1,::1,localhost")  # its fakes listen on loopback
    with tempfile.TemporaryDirectory() as folder:
        small = _run(args.db, Path(folder), args.small, max(1, args.failing * args.small // args.krs))
        large = _run(args.db, Path(folder), args.krs, args.failing)
    print(f"krbot database: {'PostgreSQL' if args.db else 'SQLite'}; sources: one local SQLite file")
    for run in (small, large):
        per = run["statements"] / run["krs"]
        print(
            f"{run['krs']:>5} measures: sync {run['seconds']:.2f} s "
            f"(floor, the {run['krs']} source queries bare: {run['floor']:.2f} s); "
            f"{run['statements']} statements on krbot's database ({per:.3f} per measure, "
            f"{run['executemany']} of them executemany); {run['pulled']} pulled, {run['failed']} failed, "
            f"{run['told']} owners told"
        )
        print(
            f"       the scheduled slot after it: {run['scheduled']} pulled in the first run; run again "
            f"{run['idle_seconds'] * 1000:.1f} ms, {run['idle_statements']} statements"
        )


if __name__ == "__main__":
    main()
