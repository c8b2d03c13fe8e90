"""How fast the web pages answer, each beside its peer in one run (CONTRACT §10 "Speed").

Run from the repository root:

    .venv/bin/python bench/web.py [--big 1000] [--small 10] [--runs 200] [--report-runs 15]

Two workspaces from bench/digest.py's generator (3 measures per KR, 13 weekly check-ins each: 1,000 KRs hold 39k
values), imported through the real CLI, each served by `krbot run --http --web-only`'s app (the API, hooks and the
web; uvicorn in a process of its own, SQLite files). Measured over HTTP with a signed-in session and an API token,
interleaved so that machine noise hits both sides alike:
- `/` (this week's report) against `GET /api/v1/digest?format=html` (the one-page report) on the same server —
  target: `/` within 1.5× of it;
- `/kr/KR1` on the 1,000-KR workspace against the same page on the 10-KR one — target: p50 under 50 ms and within
  1.5× of the small one.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.checkin_scale import prepare  # noqa: E402
from bench.digest import TIMEZONE, person_key  # noqa: E402
from bench.timing import line, percentile, timed  # noqa: E402

NOW = datetime(2026, 12, 28, 9, 0, tzinfo=ZoneInfo(TIMEZONE))  # inside the generated quarter
SECRET = "bench-web-secret-key"
RATIO = 1.5
KR_P50_MS = 50.0


def serve(*, port: int, database_url: str) -> None:
    """The app `krbot run --http --web-only` serves, every request read at NOW, until killed."""
    from bot.app import App, api_routes, build_app, web_routes
    from bot.http import build_http_app, serve_http

    built = build_app(database_url=database_url)
    app = App(settings=built.settings.model_copy(update={"secret_key": SECRET,
                                                         "public_url": f"http://127.0.0.1:{port}"}), uow=built.uow)
    routes = api_routes(app=app, platforms=[], clock=lambda: NOW) + web_routes(app=app, clock=lambda: NOW)
    serve_http(app=build_http_app(routes=routes, health=lambda: {"ok": True}), port=port, host="127.0.0.1")


def spawn(*, port: int, database_url: str) -> subprocess.Popen[bytes]:
    """Start a server in its own process; return once /healthz answers."""
    process = subprocess.Popen([sys.executable, __file__, "serve", str(port), database_url], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the server did not start")


def signed_in(*, url: str, base: str) -> tuple[httpx.Client, str]:
    """A client holding a web session for the generated workspace's first owner, and an API token for them."""
    import re

    from bot import services
    from bot.app import build_app
    from bot.services.web_access import issue_link

    app = build_app(database_url=url)
    link = issue_link(uow=app.uow, person=person_key(0), at=NOW, secret_key=SECRET, public_url=base)
    token = services.create_token(uow=app.uow, person=person_key(0), at=NOW, name="bench").secret
    app.uow.engine.dispose()
    client = httpx.Client(timeout=60)
    page = client.get(link)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    if client.post(link, data={"csrf": csrf}).status_code != 303:
        raise SystemExit("sign-in failed")
    return client, token


def main(argv: list[str] | None = None) -> None:
    """Prepare both workspaces, serve each, then measure and print the figures and the verdicts."""
    from tests.fakes.served import free_port

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big", type=int, default=1000)
    parser.add_argument("--small", type=int, default=10)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--report-runs", type=int, default=15)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        servers, clients = [], {}
        try:
            for name, krs in (("small", args.small), ("big", args.big)):
                url = f"sqlite:///{folder / f'{name}.db'}"
                print(f"preparing {krs} KRs …", file=sys.stderr)
                prepare(url=url, folder=folder, krs=krs)
                port = free_port()
                base = f"http://127.0.0.1:{port}"
                servers.append(spawn(port=port, database_url=url))
                client, token = signed_in(url=url, base=base)
                clients[name] = (client, token, base)
            kr = {name: [] for name in clients}
            for _ in range(10):  # warm both servers
                for client, _token, base in clients.values():
                    timed(call=lambda c=client, b=base: c.get(f"{b}/kr/KR1"))
            for _ in range(args.runs):
                for name, (client, _token, base) in clients.items():
                    kr[name].append(timed(call=lambda c=client, b=base: c.get(f"{b}/kr/KR1")))
            report: dict[str, dict[str, list[float]]] = {}
            for name, (client, token, base) in clients.items():
                api = {"Authorization": f"Bearer {token}"}
                web_call = lambda c=client, b=base: c.get(f"{b}/")  # noqa: E731
                api_call = lambda c=client, b=base, h=api: c.get(  # noqa: E731
                    f"{b}/api/v1/digest?format=html", headers=h)
                timed(call=web_call)
                timed(call=api_call)
                report[name] = {"web": [], "api": []}
                for _ in range(args.report_runs):
                    report[name]["web"].append(timed(call=web_call))
                    report[name]["api"].append(timed(call=api_call))
        finally:
            for server in servers:
                server.terminate()
                server.wait(timeout=10)
            for client, _token, _base in clients.values():
                client.close()
    print("krbot web bench — `krbot run --http --web-only`'s app on uvicorn (own process, SQLite file), a signed-in "
          "session over HTTP; generated workspaces (13 weekly check-ins of 3 measures per KR)")
    for name, krs in (("small", args.small), ("big", args.big)):
        print(line(name=f"GET / ({krs} KRs)", samples=report[name]["web"]))
        print(line(name=f"GET /api/v1/digest?format=html ({krs} KRs)", samples=report[name]["api"]))
        ratio = percentile(samples=report[name]["web"], q=50) / percentile(samples=report[name]["api"], q=50)
        print(f"  / ÷ digest html, p50, {krs} KRs: {ratio:.2f}× (target ≤ {RATIO}×: "
              f"{'met' if ratio <= RATIO else 'MISSED'})")
    for name, krs in (("small", args.small), ("big", args.big)):
        print(line(name=f"GET /kr/KR1 ({krs} KRs)", samples=kr[name]))
    big, small = percentile(samples=kr["big"], q=50), percentile(samples=kr["small"], q=50)
    print(f"  /kr/KR1 p50 at {args.big} KRs: {big:.1f} ms (target < {KR_P50_MS:.0f} ms: "
          f"{'met' if big < KR_P50_MS else 'MISSED'}); ÷ {args.small} KRs: {big / small:.2f}× "
          f"(target ≤ {RATIO}×: {'met' if big / small <= RATIO else 'MISSED'})")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        serve(port=int(sys.argv[2]), database_url=sys.argv[3])
    else:
        main()
