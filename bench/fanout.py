"""Fan-out benchmark: 5,000 owners due in the same minute, sent through the ledger to a rate-limited fake platform.

Run from the repository root:

    .venv/bin/python bench/fanout.py [--owners 5000] [--rate 50] [--workers 64] [--db URL] [--replicas 3]

It writes an OKR file with one KR per owner (all in UTC, reminder "mon 09:30"), imports it, starts
the fake platform of tests/fakes/fake_platform.py with a token bucket of `--rate` messages per second
that answers 429 with Retry-After when empty (Feishu's app limit is 50/s), and runs the
`reminders` job at Monday 09:30 exactly as the timer would: a ledger claim per owner, a bounded
thread pool of senders, every Retry-After honoured by all senders to that platform. It prints the
total time, the floor the rate sets (owners / rate), messages sent, duplicates, lost and the 429s
seen, and exits 1 when the run misses the targets (within 1.2x of the floor, no duplicate, none lost).
Senders take their turn at the outbox's send gate (storage/rates.py), which runs at 97% of the limit.
Default database: a SQLite file in a temp dir; `--db postgresql+psycopg://...` gets a fresh schema.

With `--replicas N` (N > 1) the job runs in N separate processes (tests/fakes/scheduler_runner.py) started at the
same moment on the same database, as N `krbot run` replicas would: they share the platform's limit through
the outbox's send gate in the database (storage/rates.py), so the target there is 1.3x of the floor.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "fakes"))
sys.path.insert(0, str(ROOT))

from fake_platform import Behaviour, FakePlatformServer, HttpTestPlatform, owners_yaml  # noqa: E402

from bot import services  # noqa: E402
from bot.app import build_app  # noqa: E402
from bot.scheduler import RetryPolicy, Runner  # noqa: E402
from storage.models import DeliveryRow  # noqa: E402
from storage.scratch import postgres_schema  # noqa: E402

MONDAY = datetime(2026, 10, 5, 9, 30, tzinfo=UTC)


@contextlib.contextmanager
def database(*, url: str | None) -> Iterator[str]:
    """A SQLite file in a temp dir, or a fresh schema of the given PostgreSQL, dropped afterwards."""
    if url is None:
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{Path(folder) / 'fanout.db'}"
        return
    with postgres_schema(url=url, prefix="bench") as scratch:
        yield scratch


def _replicas(*, db: str, server: str, args: argparse.Namespace) -> tuple[float, float, dict[str, int]]:
    """Run the reminders job in `args.replicas` processes started together once all are ready; (the start, seconds
    until the last finished its job, counts)."""
    with tempfile.TemporaryDirectory() as folder:
        go = Path(folder) / "go"
        command = [sys.executable, str(ROOT / "tests" / "fakes" / "scheduler_runner.py"), "--db", db, "--url", server,
                   "--now", MONDAY.isoformat(), "--job", "reminders", "--rate", str(args.rate),
                   "--workers", str(args.workers), "--go", str(go)]
        processes = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
                     for _ in range(args.replicas)]
        for process in processes:
            assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        start = time.time()
        go.touch()
        counts: dict[str, int] = {}
        finished = start
        for process in processes:
            out, err = process.communicate()
            if process.returncode != 0:
                raise SystemExit(f"a replica failed:\n{err}")
            result = json.loads(out.strip().splitlines()[-1])
            if result.get("error"):
                print(f"a replica's job failed:\n{err[-3000:]}", file=sys.stderr)
            finished = max(finished, result.pop("finished_at"))
            for key, value in result.items():
                counts[key] = counts.get(key, 0) + int(value)
    return start, finished - start, counts


def main() -> int:
    """Import, fan out, print the figures; 0 when the targets are met."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--owners", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--workers", type=int, default=64)
    parser.add_argument("--db", default=None)
    parser.add_argument("--replicas", type=int, default=1)
    args = parser.parse_args()
    with database(url=args.db) as url:
        app = build_app(database_url=url)
        started = time.perf_counter()
        services.import_okrs(
            uow=app.uow, text=owners_yaml(owners=args.owners, zones=("UTC",)), filename="fanout.yaml",
            at=datetime(2026, 9, 30, tzinfo=UTC),
        )
        print(f"imported {args.owners} owners in {time.perf_counter() - started:.1f} s ({app.uow.engine.dialect.name})")
        with FakePlatformServer(behaviour=Behaviour(rate=args.rate)) as server:
            if args.replicas > 1:
                began, elapsed, counts = _replicas(db=url, server=server.url, args=args)
            else:
                platform = HttpTestPlatform(url=server.url)
                runner = Runner(
                    uow=app.uow, platforms=[platform], rates={platform.name: args.rate},
                    policy=RetryPolicy(tries=5, backoff=0.5, backoff_max=10, rate_limited_waits=1000, workers=args.workers),
                )
                started, began = time.perf_counter(), time.time()
                counts = dict(runner.run(job="reminders", now=MONDAY).counts)
                elapsed = time.perf_counter() - started
                platform.stop()
            served = sorted(item["served_at"] for item in server.stats.received)
            if served:
                print(f"first/last delivery           : {served[0] - began:.1f} s / {served[-1] - began:.1f} s after the start")
            delivered = server.stats.delivered
            reminders = {key for key in delivered if ":reminder:" in key}
            duplicates = server.stats.duplicates
            limited = server.stats.statuses[429]
            errors = server.stats.statuses[500]
        with app.uow.begin() as session:
            ledger_sent = session.scalar(
                select(func.count()).select_from(DeliveryRow).where(DeliveryRow.kind == "reminder", DeliveryRow.status == "sent")
            )
        app.uow.engine.dispose()
    floor = args.owners / args.rate
    lost = args.owners - len(reminders)
    print(f"owners due in the same minute : {args.owners}")
    print(f"platform limit                : {args.rate:g} messages/s (429 + Retry-After)")
    print(f"replicas (processes)          : {args.replicas}")
    print(f"sender threads                : {args.workers} per replica")
    print(f"total time                    : {elapsed:.1f} s (floor {floor:.0f} s, {elapsed / floor:.2f}x)")
    print(f"messages sent (platform)      : {sum(delivered[key] for key in reminders)}")
    print(f"sent in the ledger            : {ledger_sent}")
    print(f"duplicates                    : {duplicates}")
    print(f"lost                          : {lost}")
    print(f"429s seen                     : {limited}")
    print(f"500s seen                     : {errors}")
    print(f"job counts                    : {counts}")
    target = 1.2 if args.replicas == 1 else 1.3
    ok = elapsed <= target * floor and duplicates == 0 and lost == 0 and ledger_sent == args.owners
    print("targets met" if ok else "targets NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
