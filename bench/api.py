"""How fast the HTTP API takes a check-in: `POST /api/v1/checkins` against `GET /healthz` on the same server, same run.

The server is the app `krbot run --http` serves (bot.http.build_http_app with bot.app.api_routes), on uvicorn in its own
process, over a SQLite file with the example OKRs imported. The floor is /healthz on that very server: one trivial
database query per request. Both are measured interleaved (one request to each in turn), then at 20 concurrent.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.timing import concurrently, line, percentile, timed  # noqa: E402

EXAMPLE = ROOT / "examples" / "q4-europe.zh.yaml"
NOW = datetime(2026, 11, 19, 12, 0, tzinfo=UTC)  # the check-ins' time: inside the example's cycle, whenever this runs
SEQUENTIAL = 300
THREADS = 20
PER_THREAD = 15


def serve(*, port: int, database_url: str) -> None:
    """The `krbot run --http` app with the API (no chat platform), check-ins stored at NOW, until killed."""
    from bot.app import api_routes, build_app, database_answers
    from bot.http import build_http_app, serve_http

    app = build_app(database_url=database_url)
    routes = api_routes(app=app, platforms=[], clock=lambda: NOW)
    served = build_http_app(routes=routes, health=lambda: {"ok": database_answers(app=app)})
    serve_http(app=served, port=port, host="127.0.0.1")


def spawn(*, port: int, database_url: str) -> subprocess.Popen[bytes]:
    """Start the server in its own process; return once /healthz answers."""
    process = subprocess.Popen(
        [sys.executable, __file__, "serve", str(port), database_url], stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the server did not start")


def main() -> None:
    """Import the example, create a token, then measure and print."""
    from bot import services
    from bot.app import build_app
    from tests.fakes.served import free_port

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'krbot.db'}"
        app = build_app(database_url=url)
        services.import_okrs(uow=app.uow, text=EXAMPLE.read_text(encoding="utf-8"), filename=str(EXAMPLE), at=NOW)
        secret = services.create_token(uow=app.uow, person="chen", at=NOW, name="bench").secret
        app.uow.engine.dispose()
        port = free_port()
        server = spawn(port=port, database_url=url)
        base = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {secret}"}
        try:

            def checkin(client: httpx.Client, n: int) -> Callable[[], httpx.Response]:
                body = {"code": "KR2", "values": {"新客转化率": round(1.5 + (n % 50) / 100, 2)}, "note": f"bench {n}"}
                return lambda: client.post(f"{base}/api/v1/checkins", json=body, headers=headers)

            def health(client: httpx.Client, _n: int) -> Callable[[], httpx.Response]:
                return lambda: client.get(f"{base}/healthz")

            with httpx.Client(timeout=30) as client:
                for n in range(20):  # warm both paths: imports, caches, the connection
                    timed(call=checkin(client, n), status=201)
                    timed(call=health(client, n), status=200)
                sequential_api: list[float] = []
                sequential_health: list[float] = []
                for n in range(SEQUENTIAL):
                    sequential_api.append(timed(call=checkin(client, 100 + n), status=201))
                    sequential_health.append(timed(call=health(client, n), status=200))
            parallel_health = concurrently(make=health, threads=THREADS, each=PER_THREAD)
            parallel_api = concurrently(make=checkin, threads=THREADS, each=PER_THREAD, status=201)
            stored = services.export_all(uow=build_app(database_url=url).uow, at=NOW)["checkins"]
        finally:
            server.terminate()
            server.wait(timeout=10)
    total = 20 + SEQUENTIAL + THREADS * PER_THREAD
    print("krbot API bench — POST /api/v1/checkins and GET /healthz on one `krbot run --http` server (uvicorn, "
          "own process, SQLite file, the example OKRs)")
    print(line(name="floor: GET /healthz (sequential)", samples=sequential_health))
    print(line(name="POST /api/v1/checkins (sequential)", samples=sequential_api))
    print(line(name=f"floor: GET /healthz ({THREADS} concurrent)", samples=parallel_health))
    print(line(name=f"POST /api/v1/checkins ({THREADS} concurrent)", samples=parallel_api))
    for label, api, floor in (("sequential", sequential_api, sequential_health),
                              (f"{THREADS} concurrent", parallel_api, parallel_health)):
        for q in (50, 99):
            ratio = percentile(samples=api, q=q) / percentile(samples=floor, q=q)
            print(f"p{q} check-in ÷ p{q} /healthz, {label}: {ratio:.1f}×")
    print(f"check-ins stored: {len(stored)} of {total} answered 201")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        serve(port=int(sys.argv[2]), database_url=sys.argv[3])
    else:
        main()
