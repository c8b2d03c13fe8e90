"""Check-in cost against workspace size: `/kr update` told-saved time and SQL statements, 10 vs 1,000 KRs.

Run from the repository root:

    .venv/bin/python bench/checkin_scale.py [--db URL] [--big 1000] [--small 10] [--runs 200]

Both workspaces come from bench/digest.py's generator (3 measures per KR, 13 weekly check-ins each,
so 1,000 KRs hold 39k values), imported through the real CLI. Then the same `/kr update` is sent
`runs` times through `services.run_command` — the path every edge calls — and the time until the
reply (committed) is measured, alternating small and big so that machine noise hits both alike.
Target (issue "One durable path"): big p50 within 1.5× of small, the same number of SQL statements.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.digest import TIMEZONE, counting, database, person_key, run_cli, write_inputs  # noqa: E402
from bot import services  # noqa: E402
from bot.app import build_app  # noqa: E402

TARGET_RATIO = 1.5
START = datetime(2026, 12, 28, 9, 0, tzinfo=ZoneInfo(TIMEZONE))


def prepare(*, url: str, folder: Path, krs: int) -> None:
    """Import a generated quarter of `krs` KRs and its check-in history."""
    okr_file, csv_file, _ = write_inputs(folder=folder, krs=krs)
    run_cli("import", str(okr_file), "--db", url, cwd=folder)
    run_cli("import-checkins", str(csv_file), "--db", url, cwd=folder)


def one_update(*, app, index: int) -> tuple[float, int, str]:
    """Send one `/kr update KR1 …` as its owner; (seconds to the committed reply, statements, reply key)."""
    at = START + timedelta(minutes=index)
    with counting(app.uow.engine) as statements:
        started = time.perf_counter()
        reply = services.run_command(
            uow=app.uow, person=person_key(0), text=f"/kr update KR1 {1.0 + index % 7 / 10}% note: bench", at=at
        )
        elapsed = time.perf_counter() - started
    return elapsed, len(statements), reply.key


def main(argv: list[str] | None = None) -> None:
    """Print told-saved p50/p99 and statement counts for both sizes, and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=None, help="PostgreSQL URL (a schema per workspace); default SQLite files")
    parser.add_argument("--big", type=int, default=1000)
    parser.add_argument("--small", type=int, default=10)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with (
            database(base=args.db, folder=folder, name="small") as small_url,
            database(base=args.db, folder=folder, name="big") as big_url,
        ):
            apps = {}
            for name, url, krs in (("small", small_url, args.small), ("big", big_url, args.big)):
                print(f"preparing {krs} KRs …", file=sys.stderr)
                prepare(url=url, folder=folder, krs=krs)
                apps[name] = build_app(database_url=url)
                one_update(app=apps[name], index=0)  # warm-up
            times: dict[str, list[float]] = {"small": [], "big": []}
            counts: dict[str, set[int]] = {"small": set(), "big": set()}
            for i in range(1, args.runs + 1):
                for name in ("small", "big"):
                    elapsed, statements, key = one_update(app=apps[name], index=i)
                    if key != "checkin.saved":
                        sys.exit(f"{name}: expected checkin.saved, got {key}")
                    times[name].append(elapsed)
                    counts[name].add(statements)
            print("| workspace | told-saved p50 | p99 | SQL statements |\n|---|---|---|---|")
            for name, krs in (("small", args.small), ("big", args.big)):
                ordered = sorted(times[name])
                p50 = statistics.median(ordered)
                p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
                print(f"| {krs} KRs | {p50 * 1000:.1f} ms | {p99 * 1000:.1f} ms | {sorted(counts[name])} |")
            ratio = statistics.median(times["big"]) / statistics.median(times["small"])
            verdict = "met" if ratio <= TARGET_RATIO else "MISSED"
            print(f"\nbig/small p50 ratio: {ratio:.2f}× (target ≤ {TARGET_RATIO}×: {verdict})")
            for app in apps.values():
                app.uow.engine.dispose()


if __name__ == "__main__":
    main()
