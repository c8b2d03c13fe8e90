"""Digest benchmark: a generated quarter of N KRs, imported and digested through the real CLI.

Run from the repository root:

    .venv/bin/python bench/digest.py [--db URL] [--krs 1000] [--small 100] [--runs 5] [--profile]

It writes an OKR file (N KRs × 3 measures over 10 objectives × 4 paths, 20 owners, one cycle
2026-07-01..2026-09-30, Europe/Berlin, zh) and a CSV of 13 weekly check-ins per KR into a temp
dir, times `krbot import` and `krbot import-checkins` as subprocesses, times `services.compose` +
`render.render_digest` in-process (median after a warm-up) and counts the SQL statements one digest
issues; then runs `krbot digest` as a whole process on both workspaces, interleaved (--pairs times),
and reports the median ratio beside each pair. The same digest figures for a small workspace show whether the
statement count depends on size. Default database: SQLite files in the temp dir; with
`--db postgresql+psycopg://...` each workspace gets a fresh schema, dropped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import csv
import io
import pstats
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import event, make_url

from bot.app import build_app
from bot.render import render_digest
from bot.services import compose
from storage.scratch import postgres_schema

OBJECTIVES = 10
PATHS = 4
PEOPLE = 20
WEEKS = 13
# a quarter in the past: import-checkins refuses a row dated in the future, as a typed check-in
CYCLE_START = date(2026, 7, 1)
CYCLE_END = date(2026, 9, 30)
AS_OF = "2026-09-25T17:00"
TIMEZONE = "Europe/Berlin"
IMPORT_CHECKINS_TARGET_S = 15.0
DIGEST_TARGET_S = 1.0
PROCESS_CPU: dict[str, tuple[float, ...]] = {}  # the whole-process digests' own CPU seconds, per workspace
PROCESS_RATIO_TARGET = 1.5  # the 1,000-KR digest as a whole process against the 100-KR one
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静磊洋艳勇军杰娟涛明超秀霞平刚桂"

# Three measures per KR: two baseline/target, one at_most guardrail; four kinds, rotated.
KR_KINDS: tuple[tuple[dict[str, Any], ...], ...] = (
    (
        {"name": "新客转化率", "unit": "%", "baseline": 1.5, "target": 2.0},
        {"name": "新客订单", "unit": "单", "baseline": 0, "target": 1200},
        {"name": "补货响应", "unit": "h", "at_most": 72},
    ),
    (
        {"name": "GMV", "unit": "EUR", "baseline": 0, "target": 50000},
        {"name": "会员复购率", "unit": "%", "baseline": 25, "target": 35},
        {"name": "ACOS", "unit": "%", "at_most": 25},
    ),
    (
        {"name": "订单量", "unit": "单", "baseline": 0, "target": 3000},
        {"name": "客单价", "unit": "EUR", "baseline": 30, "target": 45},
        {"name": "发货时长", "unit": "h", "at_most": 48},
    ),
    (
        {"name": "广告GMV", "unit": "EUR", "baseline": 0, "target": 80000},
        {"name": "好评率", "unit": "%", "baseline": 90, "target": 96},
        {"name": "客服响应", "unit": "h", "at_most": 24},
    ),
)
NOTES = ("素材更新后转化回升", "大促备货到位", "广告结构调整中", "物流时效改善", "竞品降价，跟进调价")
NEXTS = ("扩大精准词投放", "上新3款SKU", "优化详情页", "启动会员召回", "补充海外仓库存")
RISKS = ("海运延误可能导致断货", "平台政策变化", "广告成本上升", "团队人手不足")
ASKS = ("追加5000欧预算", "2名剪辑师", "开通广告账户权限", "协调法务审核合同")


@dataclass(frozen=True, slots=True)
class DigestFigures:
    """What one digest measurement found."""

    walls: tuple[float, ...]  # the digest as a whole process, each run (interleaved with the other workspace's)
    work_s: float
    statements: int
    chars: int


@dataclass(frozen=True, slots=True)
class Figures:
    """Every figure of one workspace."""

    krs: int
    values: int
    import_s: float
    checkins_s: float
    digest: DigestFigures


def person_key(index: int) -> str:
    """The id of the index-th owner."""
    return f"p{index + 1:02d}"


def okr_document(*, krs: int) -> dict[str, Any]:
    """The OKR file as data: `krs` KRs spread over 10 objectives × 4 paths, owned by 20 people."""
    people: list[dict[str, Any]] = [
        {
            "id": "boss",
            "name": "王总",
            "role": "boss",
            "slack": "U0BOSS0001",
            "feishu": "ou_boss0001",
            "timezone": "Asia/Shanghai",
        }
    ]
    for i in range(PEOPLE):
        people.append(
            {
                "id": person_key(i),
                "name": SURNAMES[i] + GIVEN[i],
                "role": "admin" if i == 0 else "member",
                "slack": f"U0P{i:07d}",
                "feishu": f"ou_p{i:07d}",
            }
        )
    objectives: list[dict[str, Any]] = []
    for o in range(OBJECTIVES):
        paths = [
            {
                "code": f"O{o + 1}P{p + 1}",
                "title": f"目标{o + 1}的第{p + 1}条路径：渠道{p + 1}挖潜",
                "priority": p + 1,
                "scores": {
                    "roi": ("high", "medium", "low")[p % 3],
                    "resources": "medium",
                    "difficulty": "low",
                },
                "krs": [],
            }
            for p in range(PATHS)
        ]
        objectives.append(
            {
                "code": f"O{o + 1}",
                "title": f"提升第{o + 1}个欧洲站点Q4新品销售额至50万欧",
                "owner": person_key(o % PEOPLE),
                "strategy": "深耕欧洲品牌化",
                "deadline": CYCLE_END,
                "measures": [{"name": "新客GMV", "unit": "EUR", "baseline": 0, "target": 500000}],
                "achievable": {
                    "budget": "25000 EUR",
                    "cost_per_new_customer": "20 EUR",
                    "order_value": "400 EUR",
                },
                "paths": paths,
            }
        )
    for k in range(krs):
        o, p = k % OBJECTIVES, (k // OBJECTIVES) % PATHS
        kind = KR_KINDS[k % len(KR_KINDS)]
        owner = person_key(k % PEOPLE)
        objectives[o]["paths"][p]["krs"].append(
            {
                "code": f"KR{k + 1}",
                "title": f"第{k + 1}号KR：{kind[0]['name']}达到{kind[0]['target']}{kind[0]['unit']}",
                "owner": owner,
                "accountable": person_key(o % PEOPLE),
                "informed": ["boss"],
                "control": ("high", "medium", "low")[k % 3],
                "impact": ("high", "medium", "low")[(k // 3) % 3],
                "measures": [dict(m) for m in kind],
            }
        )
    return {
        "workspace": {
            "name": "欧洲事业部",
            "language": "zh",
            "timezone": TIMEZONE,
            "boss_channel": {"slack": "C0BOSSDIGEST", "feishu": "oc_bossdigest0001"},
            "reminder": "thu 10:00",
            "digest": "fri 17:00",
        },
        "people": people,
        "cycle": {"name": "2026-Q3", "start": CYCLE_START, "end": CYCLE_END},
        "objectives": objectives,
    }


def typed_value(*, value: float, unit: str, rng: random.Random) -> str:
    """A value as a user would type it: 1.8%, 2.5万欧, €5,000, 120单, 48h, 2天."""
    if unit == "%":
        return f"{value:.2f}".rstrip("0").rstrip(".") + "%"
    if unit == "单":
        return f"{round(value)}单"
    if unit == "h":
        hours = round(value)
        return f"{hours // 24}天" if hours % 24 == 0 and hours and rng.random() < 0.5 else f"{hours}h"
    if value < 1000:
        return f"{value:.1f}".rstrip("0").rstrip(".") + "欧"
    euros = round(value / 100) * 100
    if euros >= 10000 and rng.random() < 0.8:
        wan, rest = divmod(euros, 10000)
        return f"{wan}.{rest:04d}".rstrip("0").rstrip(".") + "万欧"
    return f"€{euros:,}"


def measure_value(
    *, measure: dict[str, Any], week: int, pace: float, breach: bool, rng: random.Random
) -> float:
    """The measure's value in `week` (0-based) for a KR moving at `pace` of the straight line to target."""
    if "at_most" in measure:
        limit = float(measure["at_most"])
        share = 1.1 if breach and week >= WEEKS - 3 else rng.uniform(0.5, 0.95)
        return limit * share
    baseline, target = float(measure["baseline"]), float(measure["target"])
    progress = pace * (week + 1) / WEEKS * rng.uniform(0.95, 1.05)
    return baseline + (target - baseline) * progress


def checkin_rows(*, document: dict[str, Any], seed: int = 7) -> list[dict[str, str]]:
    """13 weekly check-ins per KR by its owner, every measure in each, with some notes, risks and asks."""
    rng = random.Random(seed)
    rows: list[dict[str, str]] = []
    for objective in document["objectives"]:
        for path in objective["paths"]:
            for kr in path["krs"]:
                pace = rng.choice((1.1, 1.0, 0.9, 0.6))
                breach = rng.random() < 0.1
                for week in range(WEEKS):
                    at = datetime.combine(
                        CYCLE_START + timedelta(weeks=week), datetime.min.time()
                    ) + timedelta(hours=10)
                    extra = {
                        "note": rng.choice(NOTES) if rng.random() < 0.3 else "",
                        "next": rng.choice(NEXTS) if rng.random() < 0.3 else "",
                        "ask": rng.choice(ASKS) if week >= WEEKS - 2 and rng.random() < 0.05 else "",
                        "risk": rng.choice(RISKS) if pace < 1 and rng.random() < 0.2 else "",
                    }
                    for position, measure in enumerate(kr["measures"]):
                        value = measure_value(measure=measure, week=week, pace=pace, breach=breach, rng=rng)
                        rows.append(
                            {
                                "code": kr["code"],
                                "measure": measure["name"],
                                "value": typed_value(value=value, unit=measure["unit"], rng=rng),
                                "person": kr["owner"],
                                "at": at.strftime("%Y-%m-%dT%H:%M"),
                                **(
                                    extra
                                    if position == 0
                                    else {"note": "", "next": "", "ask": "", "risk": ""}
                                ),
                            }
                        )
    return rows


def write_inputs(*, folder: Path, krs: int) -> tuple[Path, Path, int]:
    """Write okrs.yaml and checkins.csv for `krs` KRs into `folder`; return both paths and the row count."""
    document = okr_document(krs=krs)
    okr_file = folder / f"okrs-{krs}.yaml"
    okr_file.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    rows = checkin_rows(document=document)
    buffer = io.StringIO()
    writer = csv.DictWriter(
        buffer, fieldnames=["code", "measure", "value", "person", "at", "note", "next", "ask", "risk"]
    )
    writer.writeheader()
    writer.writerows(rows)
    csv_file = folder / f"checkins-{krs}.csv"
    csv_file.write_text(buffer.getvalue(), encoding="utf-8")
    return okr_file, csv_file, len(rows)


def krbot_executable() -> str:
    """The krbot script of the running interpreter's venv, else the one on PATH."""
    beside = Path(sys.executable).parent / "krbot"
    if beside.exists():
        return str(beside)
    found = shutil.which("krbot")
    if found is None:
        sys.exit("bench/digest.py: no krbot executable beside the interpreter or on PATH")
    return found


def child_cpu() -> float:
    """CPU seconds (user + system) of the children waited for so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_cli(*args: str, cwd: Path) -> tuple[float, str]:
    """Run `krbot ARGS` and return its wall time and stdout; exit with its stderr when it fails."""
    started = time.perf_counter()
    done = subprocess.run([krbot_executable(), *args], cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"krbot {' '.join(args)} exited {done.returncode}:\n{done.stderr or done.stdout}")
    return elapsed, done.stdout


@contextlib.contextmanager
def counting(engine: Any) -> Iterator[list[str]]:
    """Collect every SQL statement the engine executes inside the block."""
    statements: list[str] = []

    def _count(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", _count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", _count)


def measure_digest(*, url: str, cwd: Path, runs: int, profile: bool) -> DigestFigures:
    """Time the digest in-process (median of `runs`) and count its SQL statements."""
    app = build_app(database_url=url)
    as_of = datetime.fromisoformat(AS_OF).replace(tzinfo=ZoneInfo(TIMEZONE))

    def once() -> str:
        return render_digest(digest=compose(uow=app.uow, as_of=as_of))

    once()  # warm-up: templates compiled, connections pooled
    with counting(app.uow.engine) as statements:
        chars = len(once())
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        once()
        times.append(time.perf_counter() - started)
    if profile:
        profiler = cProfile.Profile()
        profiler.runcall(once)
        stream = io.StringIO()
        pstats.Stats(profiler, stream=stream).sort_stats("cumulative").print_stats(25)
        print(stream.getvalue())
    app.uow.engine.dispose()
    return DigestFigures(walls=(), work_s=statistics.median(times), statements=len(statements), chars=chars)


def bench(*, url: str, folder: Path, krs: int, runs: int, profile: bool) -> Figures:
    """Generate, import and digest one workspace of `krs` KRs at `url`."""
    okr_file, csv_file, rows = write_inputs(folder=folder, krs=krs)
    run_cli("lint", str(okr_file), cwd=folder)
    import_s, _ = run_cli("import", str(okr_file), "--db", url, cwd=folder)
    checkins_s, out = run_cli("import-checkins", str(csv_file), "--db", url, cwd=folder)
    if str(rows) not in out:
        print(f"warning: import-checkins did not report {rows} rows: {out.strip()}", file=sys.stderr)
    digest = measure_digest(url=url, cwd=folder, runs=runs, profile=profile)
    return Figures(krs=krs, values=rows, import_s=import_s, checkins_s=checkins_s, digest=digest)


@contextlib.contextmanager
def database(*, base: str | None, folder: Path, name: str) -> Iterator[str]:
    """A fresh database URL: a SQLite file in `folder`, or a new PostgreSQL schema dropped afterwards."""
    if base is None or make_url(base).get_backend_name() == "sqlite":
        yield f"sqlite:///{folder / (name + '.db')}"
        return
    with postgres_schema(url=base, prefix=f"bench_{name}") as scratch:
        yield scratch


def verdict(value: float, target: float) -> str:
    """'ok' or 'MISSED' against a target."""
    return "ok" if value < target else "MISSED"


def process_walls(*, big: str, small: str, cwd: Path, pairs: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """`krbot digest` as a whole process on each workspace, interleaved (big, small, big, small …), `pairs` times:
    both meet the same machine at the same moments."""
    walls: dict[str, list[float]] = {big: [], small: []}
    cpus: dict[str, list[float]] = {big: [], small: []}
    for _ in range(pairs):
        for url in (big, small):
            before = child_cpu()
            walls[url].append(run_cli("digest", "--as-of", AS_OF, "--db", url, cwd=cwd)[0])
            cpus[url].append(child_cpu() - before)
    PROCESS_CPU.update(big=tuple(cpus[big]), small=tuple(cpus[small]))
    return tuple(walls[big]), tuple(walls[small])


def report(*, big: Figures, small: Figures, backend: str) -> str:
    """The final table."""
    d, s = big.digest, small.digest
    same = "independent of size" if d.statements == s.statements else "GROWS with size"
    ratios = [b / m for b, m in zip(d.walls, s.walls, strict=True)]
    ratio = statistics.median(ratios)
    pairs = ", ".join(f"{b:.2f}/{m:.2f}={r:.2f}×" for b, m, r in zip(d.walls, s.walls, ratios, strict=True))
    lines = [
        f"krbot bench/digest.py — {big.krs} KRs × 3 measures × {WEEKS} check-ins = {big.values} values ({backend})",
        f"{'import (YAML, ' + str(big.krs) + ' KRs)':<35}{big.import_s:.2f} s",
        f"{'import-checkins (' + str(big.values) + ' rows)':<35}{big.checkins_s:.2f} s   "
        f"target < {IMPORT_CHECKINS_TARGET_S:.0f} s  {verdict(big.checkins_s, IMPORT_CHECKINS_TARGET_S)}",
        f"{'digest wall (process, median)':<35}{statistics.median(d.walls):.2f} s  ({small.krs} KRs: "
        f"{statistics.median(s.walls):.2f} s; median ratio {ratio:.2f}×; target ≤ {PROCESS_RATIO_TARGET}×: "
        f"{verdict(ratio, PROCESS_RATIO_TARGET + 1e-9)})",
        f"{'  each pair (big/small)':<35}{pairs}",
        f"{'digest CPU (process, user+sys)':<35}" + ", ".join(
            f"{b:.2f}/{m:.2f}={b / m:.2f}×" for b, m in zip(PROCESS_CPU["big"], PROCESS_CPU["small"], strict=True))
        + f"  (median ratio {statistics.median(b / m for b, m in zip(PROCESS_CPU['big'], PROCESS_CPU['small'], strict=True)):.2f}×: "
        "what the processes did, whatever else the machine ran)",
        f"{'digest work (in-process, median)':<35}{d.work_s:.3f} s  "
        f"target < {DIGEST_TARGET_S:.0f} s  {verdict(d.work_s, DIGEST_TARGET_S)}",
        f"{'digest SQL statements':<35}{d.statements:<8} ({small.krs} KRs: {s.statements} — {same})",
        f"{'digest work at ' + str(small.krs) + ' KRs':<35}{s.work_s:.3f} s",
        f"{'digest text size':<35}{d.chars} chars ({small.krs} KRs: {s.chars})",
    ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--db", default=None, help="base SQLAlchemy URL (default: SQLite files in a temp dir)"
    )
    parser.add_argument("--krs", type=int, default=1000, help="KRs in the big workspace")
    parser.add_argument("--small", type=int, default=100, help="KRs in the comparison workspace")
    parser.add_argument("--runs", type=int, default=5, help="timed in-process digest runs (median)")
    parser.add_argument("--pairs", type=int, default=3, help="interleaved whole-process digests of each workspace")
    parser.add_argument(
        "--profile", action="store_true", help="print a cProfile of one big in-process digest"
    )
    return parser.parse_args(argv)


def progress(message: str) -> None:
    """A progress line on stderr, so that stdout holds only the figures."""
    print(message, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> None:
    """Run both workspaces and print the table."""
    args = parse_args(argv)
    backend = make_url(args.db).get_backend_name() if args.db else "sqlite"
    with tempfile.TemporaryDirectory(prefix="krbot-bench-") as tmp:
        folder = Path(tmp)
        with database(base=args.db, folder=folder, name="big") as big_url, \
                database(base=args.db, folder=folder, name="small") as small_url:
            progress(f"{args.krs} KRs ...")
            big = bench(url=big_url, folder=folder, krs=args.krs, runs=args.runs, profile=args.profile)
            progress(f"{args.small} KRs ...")
            small = bench(url=small_url, folder=folder, krs=args.small, runs=args.runs, profile=False)
            progress(f"whole-process digests, {args.pairs} interleaved pairs ...")
            big_walls, small_walls = process_walls(big=big_url, small=small_url, cwd=folder, pairs=args.pairs)
    big = replace(big, digest=replace(big.digest, walls=big_walls))
    small = replace(small, digest=replace(small.digest, walls=small_walls))
    print(report(big=big, small=small, backend=backend))


if __name__ == "__main__":
    main()
