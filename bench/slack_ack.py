"""How fast the bot answers Slack: signed `/kr update` over real HTTP, stored before the ack, against a bare Bolt floor.

The floor is a bare Bolt app on the same server stack (uvicorn, starlette, process_before_response=True) that commits
one row with krbot's SQLite settings before it acks. The two are measured interleaved (one request to each in turn),
then at 20 concurrent. Targets: krbot's p50 within 3× of the floor's; krbot's p99 at 20 concurrent under 100 ms.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import uvicorn
from slack_bolt import App as BoltApp
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_bolt.authorization import AuthorizeResult
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.timing import concurrently, cpu_seconds, line, percentile, serve_platform, timed  # noqa: E402
from bench.timing import spawn as start_process  # noqa: E402
from bot import services  # noqa: E402
from bot.app import build_app  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.platforms import slack  # noqa: E402
from storage.db import make_engine  # noqa: E402
from tests.fakes.fake_slack import BOT_TOKEN, SIGNING_SECRET, TEAM_ID, FakeSlack, SlackSender, free_port  # noqa: E402

EXAMPLE = ROOT / "examples" / "q4-europe.zh.yaml"
NOW = datetime(2026, 11, 19, 12, 0, tzinfo=UTC)
SEQUENTIAL = 200
THREADS = 20
PER_THREAD = 10


def bench_now() -> datetime:
    """The bench's fixed clock, inside the example's cycle."""
    return NOW


def serve_floor(*, port: int, database_url: str) -> None:
    """The floor: a bare Bolt app on uvicorn and starlette that commits one row (krbot's SQLite settings) before it acks."""
    engine = make_engine(url=database_url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE IF NOT EXISTS floor_rows (id INTEGER PRIMARY KEY, trigger TEXT, body TEXT)"))
    identity = AuthorizeResult(enterprise_id=None, team_id=TEAM_ID, bot_token=BOT_TOKEN, bot_id="B0", bot_user_id="U0")
    bolt = BoltApp(signing_secret=SIGNING_SECRET, authorize=lambda: identity, process_before_response=True)

    @bolt.command("/kr")
    def store_then_ack(ack, body):  # type: ignore[no-untyped-def]
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO floor_rows (trigger, body) VALUES (:t, :b)"),
                               {"t": body.get("trigger_id"), "b": body.get("text")})
        ack(text=f"Saved: {body.get('text')}", response_type="ephemeral")

    async def endpoint(request: Request) -> Response:
        bolt_request = to_bolt_request(request, await request.body())
        return to_starlette_response(await run_in_threadpool(bolt.dispatch, bolt_request))

    async def healthz(_request: Request) -> Response:
        return Response("ok")

    app = Starlette(routes=[Route("/slack/events", endpoint, methods=["POST"]), Route("/healthz", healthz)])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def serve_bot(*, port: int, database_url: str, api_url: str) -> None:
    """The bot as `krbot run --http` serves it (uvicorn, starlette, Bolt), the clock fixed inside the cycle."""
    app = build_app(database_url=database_url, migrate=False)
    settings = Settings(_env_file=None, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL=api_url)
    platform = slack.build(settings=settings, uow=app.uow, http=True, clock=bench_now)
    serve_platform(platform=platform, port=port)


def serve_fake(*, port: int) -> None:
    """The fake Slack Web API in its own process, as Slack's servers are."""
    uvicorn.run(FakeSlack().asgi(), host="127.0.0.1", port=port, log_level="warning", access_log=False)


def spawn(*args: str, url: str) -> subprocess.Popen[bytes]:
    """Start this script in another role and wait until `url` answers."""
    return start_process(script=__file__, args=args, url=url)


def _per_request(*, before: float | None, after: float | None, count: int) -> float | None:
    """Milliseconds of server CPU per request between two readings (None where they can't be read)."""
    return None if before is None or after is None else (after - before) / count * 1000


def main() -> None:
    """Start krbot (own process, temporary SQLite, example imported), the Bolt floor and the fake Slack, and measure."""
    workdir = Path(tempfile.mkdtemp(prefix="krbot-bench-"))
    database_url = f"sqlite:///{workdir / 'krbot.db'}"
    app = build_app(database_url=database_url)
    services.import_okrs(uow=app.uow, text=EXAMPLE.read_text(encoding="utf-8"), filename=str(EXAMPLE), at=NOW)
    fake_port, bot_port, floor_port = free_port(), free_port(), free_port()
    fake_url, bot_url, floor_url = (f"http://127.0.0.1:{port}" for port in (fake_port, bot_port, floor_port))
    processes = [spawn("fake", str(fake_port), url=fake_url + "/calls")]
    try:
        processes.append(spawn("serve", str(bot_port), database_url, fake_url + "/api/", url=bot_url + "/healthz"))
        processes.append(spawn("floor", str(floor_port), f"sqlite:///{workdir / 'floor.db'}", url=floor_url + "/healthz"))
        response_url = fake_url + "/respond/bench"

        def command(url: str, client: httpx.Client, n: int, prefix: str) -> Callable[[], httpx.Response]:
            sender = SlackSender(url=url, client=client)

            def send() -> httpx.Response:
                answer = sender.command(user_id="U0CHEN0001", text="update KR2 1.8%", response_url=response_url,
                                        trigger_id=f"{prefix}-{n}")
                assert answer.status_code == 200 and "KR2" in answer.json()["text"], answer.text  # saved, in the ack
                return answer
            return send

        with httpx.Client(timeout=30) as client:
            for n in range(20):  # warm up: first connections, auth.test, caches
                timed(call=command(bot_url, client, n, "warm"))
                timed(call=command(floor_url, client, n, "warm"))
            sequential_kr, sequential_floor = [], []
            for n in range(SEQUENTIAL):  # interleaved: both meet the same machine at the same moments
                sequential_floor.append(timed(call=command(floor_url, client, n, "seq")))
                sequential_kr.append(timed(call=command(bot_url, client, n, "seq")))
        bot_pid, floor_pid = processes[1].pid, processes[2].pid
        floor_cpu = cpu_seconds(pid=floor_pid)
        parallel_floor = concurrently(make=lambda c, n: command(floor_url, c, n, "par"), threads=THREADS, each=PER_THREAD)
        floor_cpu = _per_request(before=floor_cpu, after=cpu_seconds(pid=floor_pid), count=THREADS * PER_THREAD)
        bot_cpu = cpu_seconds(pid=bot_pid)
        parallel_kr = concurrently(make=lambda c, n: command(bot_url, c, n, "par"), threads=THREADS, each=PER_THREAD)
        bot_cpu = _per_request(before=bot_cpu, after=cpu_seconds(pid=bot_pid), count=THREADS * PER_THREAD)
        stored = len(services.export_all(uow=app.uow, at=NOW)["checkins"])
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)
    total = 20 + SEQUENTIAL + THREADS * PER_THREAD
    print(f"krbot Slack ack bench — krbot (`run --http` stack) and a bare Bolt floor, each on uvicorn in its own process, "
          f"SQLite with krbot's settings; {SEQUENTIAL} sequential interleaved, then {THREADS} threads × {PER_THREAD}")
    print(line(name="floor: Bolt, 1 row, ack (sequential)", samples=sequential_floor))
    print(line(name="krbot /kr update KR2 (sequential)", samples=sequential_kr))
    print(line(name=f"floor ({THREADS} concurrent)", samples=parallel_floor))
    print(line(name=f"krbot /kr update ({THREADS} concurrent)", samples=parallel_kr))
    ratio = percentile(samples=sequential_kr, q=50) / percentile(samples=sequential_floor, q=50)
    print(f"p50 krbot ÷ p50 floor: {ratio:.2f}× (target ≤ 3×)")
    print(f"p99 krbot at {THREADS} concurrent: {percentile(samples=parallel_kr, q=99):.1f} ms (target < 100 ms)")
    if floor_cpu is not None and bot_cpu is not None:  # one server process: at 20 in flight, each waits ~20 of these
        print(f"server CPU per request at {THREADS} concurrent: krbot {bot_cpu:.2f} ms, floor {floor_cpu:.2f} ms")
    print(f"check-ins stored: {stored} of {total} answered saved")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        serve_bot(port=int(sys.argv[2]), database_url=sys.argv[3], api_url=sys.argv[4])
    elif len(sys.argv) > 1 and sys.argv[1] == "floor":
        serve_floor(port=int(sys.argv[2]), database_url=sys.argv[3])
    elif len(sys.argv) > 1 and sys.argv[1] == "fake":
        serve_fake(port=int(sys.argv[2]))
    else:
        main()
