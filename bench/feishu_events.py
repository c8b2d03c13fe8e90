"""Feishu callback benchmark: encrypted, signed message events into the real HTTP server, timed next to /healthz.

Run from the repository root:

    .venv/bin/python bench/feishu_events.py [--events 200] [--concurrency 20] [--db URL]

It starts three processes, as production has them: the bot's one HTTP app (bot.http on uvicorn, the Feishu route)
on a SQLite file in a temp dir with the example OKRs imported; the fake Feishu Open API (tests/fakes/fake_feishu.py)
that the bot replies to; and this one, the clients, which encrypt and sign each event. It POSTs N
`im.message.receive_v1` events (`/kr update KR2 …`, each a new check-in) one after another, then N more from
`--concurrency` clients at once, timing the HTTP answer of each; the bot's `/healthz` is timed the same way for
comparison. The replies go out after the answer; the run waits for all of them and checks that each event stored
exactly one check-in and got exactly one reply. Target: p99 under 300 ms.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.timing import concurrently, cpu_seconds, line, percentile, serve_platform, spawn, timed  # noqa: E402
from tests.fakes import fake_feishu as ff  # noqa: E402

EXAMPLE = ROOT / "examples" / "q4-europe.zh.yaml"
NOW = datetime(2026, 10, 20, 7, 0, tzinfo=UTC)
TARGET_P99_MS = 300.0


def serve_bot(*, port: int, database_url: str, domain: str) -> None:
    """The bot as `krbot run --http` serves Feishu (uvicorn, starlette), the clock fixed inside the cycle."""
    from bot.app import build_app
    from bot.config import Settings
    from bot.platforms import feishu

    app = build_app(database_url=database_url, migrate=False)
    settings = Settings(
        _env_file=None,
        FEISHU_APP_ID=ff.APP_ID,
        FEISHU_APP_SECRET=ff.APP_SECRET,
        FEISHU_VERIFICATION_TOKEN=ff.VERIFICATION_TOKEN,
        FEISHU_ENCRYPT_KEY=ff.ENCRYPT_KEY,
        FEISHU_DOMAIN=domain,
    )
    platform = feishu.build(settings=settings, uow=app.uow, http=True, clock=lambda: NOW)
    serve_platform(platform=platform, port=port)


def serve_fake(*, port: int) -> None:
    """The fake Feishu Open API in its own process, as Feishu's servers are; `/bench/replies` counts its replies."""
    import uvicorn
    from starlette.requests import Request
    from starlette.responses import JSONResponse

    fake = ff.FakeFeishu()
    app = fake.asgi()

    async def replies(_request: Request) -> JSONResponse:
        return JSONResponse({"replies": len(fake.sent(kind="reply"))})

    app.add_route("/bench/replies", replies, methods=["GET"])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def main() -> int:
    """Run the benchmark and print the figures; exit 1 when an event was lost, doubled or refused."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--db", default=None, help="SQLAlchemy URL (default: a SQLite file in a temp dir)")
    args = parser.parse_args()
    from bot import services
    from bot.app import build_app

    with tempfile.TemporaryDirectory() as tmp:
        database_url = args.db or f"sqlite:///{Path(tmp) / 'bench.db'}"
        app = build_app(database_url=database_url)
        services.import_okrs(uow=app.uow, text=EXAMPLE.read_text(encoding="utf-8"), filename=str(EXAMPLE), at=NOW)
        fake_port, bot_port = ff.free_port(), ff.free_port()
        fake_url, bot_url = f"http://127.0.0.1:{fake_port}", f"http://127.0.0.1:{bot_port}"
        processes = [spawn(script=__file__, args=("fake", str(fake_port)), url=fake_url + "/bench/replies")]
        try:
            processes.append(spawn(script=__file__, args=("serve", str(bot_port), database_url, fake_url),
                                   url=bot_url + "/healthz"))
            counter = iter(range(10**9))

            def event(client: httpx.Client) -> Callable[[], httpx.Response]:
                """POST one new signed message event (encrypted here, before the clock starts)."""
                n = next(counter)
                payload = ff.message_event(
                    text=f"/kr update KR2 {1.5 + (n % 50) / 100:.2f}% 备注：bench {n}", open_id="ou_chen0001",
                    event_id=f"ev_bench_{n}", message_id=f"om_bench_{n}",
                )
                body, headers = ff.signed_push(payload=payload)
                return lambda: client.post(bot_url + "/feishu/events", content=body, headers=headers)

            def health(client: httpx.Client) -> Callable[[], httpx.Response]:
                return lambda: client.get(bot_url + "/healthz")

            with httpx.Client(timeout=30) as client:
                for _ in range(10):  # warm-up: connections, the tenant token, caches (not counted)
                    timed(call=health(client))
                    timed(call=event(client))
                healthz = [timed(call=health(client)) for _ in range(args.events)]
                sequential = [timed(call=event(client)) for _ in range(args.events)]
            each = max(1, args.events // args.concurrency)
            bot_cpu = cpu_seconds(pid=processes[1].pid)
            started = time.perf_counter()
            concurrent = concurrently(make=lambda c, _n: event(c), threads=args.concurrency, each=each)
            wall = time.perf_counter() - started
            after = cpu_seconds(pid=processes[1].pid)
            healthz_busy = concurrently(make=lambda c, _n: health(c), threads=args.concurrency, each=each)
            expected = 10 + args.events + args.concurrency * each
            deadline = time.monotonic() + 60
            replies = 0
            while time.monotonic() < deadline:
                replies = httpx.get(fake_url + "/bench/replies", timeout=5).json()["replies"]
                if replies >= expected:
                    break
                time.sleep(0.05)
            stored = len(services.export_all(uow=app.uow, at=NOW)["checkins"])
        finally:
            for process in processes:
                process.terminate()
                process.wait(timeout=10)
            app.uow.engine.dispose()

    print(f"Feishu HTTP callback, SQLite, example OKRs; bot, fake Feishu and clients each in a process of their own; "
          f"{args.events} events one by one, then {args.concurrency} clients × {each}")
    print(line(name="GET /healthz (sequential)", samples=healthz, width=34))
    print(line(name=f"GET /healthz ({args.concurrency} concurrent)", samples=healthz_busy, width=34))
    print(line(name="POST /feishu/events sequential", samples=sequential, width=34))
    print(line(name=f"POST /feishu/events {args.concurrency} concurrent", samples=concurrent, width=34))
    print(f"concurrent throughput: {len(concurrent) / wall:.0f} events/s")
    if bot_cpu is not None and after is not None:
        print(f"bot CPU per event at {args.concurrency} concurrent: {(after - bot_cpu) / len(concurrent) * 1000:.2f} ms")
    print(f"check-ins stored: {stored} of {expected}; replies sent: {replies} of {expected}")
    p99 = max(percentile(samples=sequential, q=99), percentile(samples=concurrent, q=99))
    print(f"target p99 < {TARGET_P99_MS:.0f} ms: {'met' if p99 < TARGET_P99_MS else 'MISSED'} ({p99:.1f} ms)")
    return 0 if stored == expected and replies == expected else 1


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        serve_bot(port=int(sys.argv[2]), database_url=sys.argv[3], domain=sys.argv[4])
    elif len(sys.argv) > 1 and sys.argv[1] == "fake":
        serve_fake(port=int(sys.argv[2]))
    else:
        raise SystemExit(main())
