"""Feishu callback benchmark: encrypted, signed message events into the real HTTP server, timed next to /healthz.

Run from the repository root:

    .venv/bin/python bench/feishu_events.py [--events 200] [--concurrency 20] [--db URL]

It starts the fake Feishu Open API (tests/fakes/fake_feishu.py) and the bot's one HTTP app (bot.http,
uvicorn) with the Feishu route, on a SQLite file in a temp dir with the example OKRs imported, then
POSTs N `im.message.receive_v1` events (`/kr update KR2 …`, each a new check-in) one after another,
then N more from `--concurrency` clients at once, timing the HTTP answer of each; `/healthz` is timed
the same way for comparison. The replies go out from a worker thread; the run waits for all of them
and checks that each event stored exactly one check-in and got exactly one reply.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot import services  # noqa: E402
from bot.app import build_app  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.http import build_http_app  # noqa: E402
from bot.platforms import feishu  # noqa: E402
from tests.fakes import fake_feishu as ff  # noqa: E402

EXAMPLE = ROOT / "examples" / "q4-europe.zh.yaml"
NOW = datetime(2026, 10, 20, 7, 0, tzinfo=UTC)


def percentile(*, samples: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of samples, in the samples' unit."""
    ordered = sorted(samples)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def line(*, label: str, samples: list[float]) -> str:
    """One row of the report: count, p50, p99 and max in milliseconds."""
    ms = [s * 1000 for s in samples]
    return (
        f"{label:<34} n={len(ms):>4}  p50={statistics.median(ms):7.1f} ms  "
        f"p99={percentile(samples=ms, p=99):7.1f} ms  max={max(ms):7.1f} ms"
    )


def main() -> int:
    """Run the benchmark and print the figures; exit 1 when an event was lost, doubled or refused."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--db", default=None, help="SQLAlchemy URL (default: a SQLite file in a temp dir)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        app = build_app(database_url=args.db or f"sqlite:///{Path(tmp) / 'bench.db'}")
        services.import_okrs(uow=app.uow, text=EXAMPLE.read_text(encoding="utf-8"), filename=str(EXAMPLE), at=NOW)
        open_api = ff.FakeFeishu()
        domain = open_api.start()
        settings = Settings(
            _env_file=None,
            FEISHU_APP_ID=ff.APP_ID,
            FEISHU_APP_SECRET=ff.APP_SECRET,
            FEISHU_VERIFICATION_TOKEN=ff.VERIFICATION_TOKEN,
            FEISHU_ENCRYPT_KEY=ff.ENCRYPT_KEY,
            FEISHU_DOMAIN=domain,
        )
        platform = feishu.build(settings=settings, uow=app.uow, http=True, clock=lambda: NOW)
        server = ff.serve(app=build_http_app(routes=platform.routes(), health=lambda: {"ok": platform.healthy()}))
        counter = iter(range(10**9))

        def one_event(client: httpx.Client) -> float:
            """POST one new signed message event; the seconds the answer took."""
            n = next(counter)
            value = 1.5 + (n % 50) / 100
            event = ff.message_event(
                text=f"/kr update KR2 {value:.2f}% 备注：bench {n}", open_id="ou_chen0001",
                event_id=f"ev_bench_{n}", message_id=f"om_bench_{n}",
            )
            body, headers = ff.signed_push(payload=event)
            started = time.perf_counter()
            answer = client.post("/feishu/events", content=body, headers=headers)
            elapsed = time.perf_counter() - started
            if answer.status_code != 200:
                raise RuntimeError(f"event {n}: HTTP {answer.status_code} {answer.text}")
            return elapsed

        def one_health(client: httpx.Client) -> float:
            """GET /healthz once; the seconds it took."""
            started = time.perf_counter()
            answer = client.get("/healthz")
            elapsed = time.perf_counter() - started
            if answer.status_code != 200:
                raise RuntimeError(f"/healthz: HTTP {answer.status_code}")
            return elapsed

        try:
            with httpx.Client(base_url=server.url, timeout=30) as client:
                for _ in range(10):  # warm-up: token fetched, caches filled (not counted)
                    one_health(client)
                health = [one_health(client) for _ in range(args.events)]
                sequential = [one_event(client) for _ in range(args.events)]

            clients = [httpx.Client(base_url=server.url, timeout=30) for _ in range(args.concurrency)]
            try:
                with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
                    started = time.perf_counter()
                    concurrent = list(pool.map(lambda i: one_event(clients[i % len(clients)]), range(args.events)))
                    wall = time.perf_counter() - started
                    health_busy = list(pool.map(lambda i: one_health(clients[i % len(clients)]), range(args.events)))
            finally:
                for c in clients:
                    c.close()

            expected = 2 * args.events
            deadline = time.monotonic() + 60
            while len(open_api.sent(kind="reply")) < expected and time.monotonic() < deadline:
                time.sleep(0.05)
            replies = len(open_api.sent(kind="reply"))
            stored = len(services.export_all(uow=app.uow, at=NOW)["checkins"])
        finally:
            server.stop()
            platform.stop()
            open_api.stop()

    print(f"Feishu HTTP callback, SQLite, example OKRs; {args.events} events each run (check-ins of KR2)")
    print(line(label="GET /healthz (sequential)", samples=health))
    print(line(label="GET /healthz (concurrent)", samples=health_busy))
    print(line(label="POST /feishu/events sequential", samples=sequential))
    print(line(label=f"POST /feishu/events {args.concurrency} concurrent", samples=concurrent))
    print(f"concurrent throughput: {args.events / wall:.0f} events/s")
    print(f"check-ins stored: {stored} of {expected}; replies sent: {replies} of {expected}")
    p99 = max(percentile(samples=sequential, p=99), percentile(samples=concurrent, p=99)) * 1000
    print(f"target p99 < 300 ms: {'met' if p99 < 300 else 'MISSED'} ({p99:.1f} ms)")
    return 0 if stored == expected and replies == expected else 1


if __name__ == "__main__":
    raise SystemExit(main())
