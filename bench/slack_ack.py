"""How fast the bot answers Slack: signed `/kr update` over real HTTP, p50/p99, next to /healthz on the same server."""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import uvicorn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot import services  # noqa: E402
from bot.app import build_app  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.http import build_http_app  # noqa: E402
from bot.platforms import slack  # noqa: E402
from tests.fake_slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack, SlackSender, free_port  # noqa: E402

EXAMPLE = ROOT / "examples" / "q4-europe.zh.yaml"
NOW = datetime(2026, 11, 19, 12, 0, tzinfo=UTC)
SEQUENTIAL = 200
THREADS = 20
PER_THREAD = 10


def percentile(*, samples: list[float], q: float) -> float:
    """The q-th percentile (0..100) of the samples, nearest rank."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def timed(*, call: Callable[[], httpx.Response]) -> float:
    """Milliseconds one request took, end to end; the answer must be 200."""
    started = time.perf_counter()
    response = call()
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, response.text
    return elapsed


def concurrently(*, make: Callable[[httpx.Client, int], Callable[[], httpx.Response]]) -> list[float]:
    """THREADS threads, each with its own connection, sending PER_THREAD requests at the same time."""
    samples: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(THREADS)

    def worker(n: int) -> None:
        with httpx.Client(timeout=30) as client:
            barrier.wait()
            own = [timed(call=make(client, n * PER_THREAD + i)) for i in range(PER_THREAD)]
        with lock:
            samples.extend(own)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return samples


def line(*, name: str, samples: list[float]) -> str:
    """One row of the report."""
    return (
        f"{name:<34} n={len(samples):<4} p50={percentile(samples=samples, q=50):7.2f} ms  "
        f"p99={percentile(samples=samples, q=99):7.2f} ms  mean={statistics.mean(samples):7.2f} ms"
    )


def bench_now() -> datetime:
    """The bench's fixed clock, inside the example's cycle (a module-level function, so the Slack worker can be handed it)."""
    return NOW


def serve_bot(*, port: int, database_url: str, api_url: str) -> None:
    """The bot as `krbot run --http` serves it (uvicorn and its Slack worker process), the clock fixed inside the cycle."""
    app = build_app(database_url=database_url, migrate=False)
    settings = Settings(_env_file=None, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL=api_url)
    platform = slack.build(settings=settings, uow=app.uow, http=True, clock=bench_now)
    http_app = build_http_app(routes=platform.routes(), health=lambda: {"ok": platform.healthy()})
    platform.start()
    try:
        uvicorn.run(http_app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    finally:
        platform.stop()


def serve_fake(*, port: int) -> None:
    """The fake Slack Web API in its own process, as Slack's servers are."""
    uvicorn.run(FakeSlack().asgi(), host="127.0.0.1", port=port, log_level="warning", access_log=False)


def spawn(*args: str, url: str) -> subprocess.Popen[bytes]:
    """Start this script in another role and wait until `url` answers."""
    process = subprocess.Popen([sys.executable, __file__, *args])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.05)
    process.terminate()
    raise RuntimeError(f"{args[0]} did not start")


def calls(*, fake_url: str, method: str, count: int, timeout: float = 120) -> int:
    """Wait until the fake saw `count` successful calls of `method` (the lazy work done); returns how many it saw."""
    deadline = time.monotonic() + timeout
    seen = 0
    while time.monotonic() < deadline:
        seen = httpx.get(fake_url + "/calls").json().get(method, 0)
        if seen >= count:
            break
        time.sleep(0.1)
    return seen


def main() -> None:
    """Start the real server (own process, temporary SQLite, example imported) and the fake Slack, and measure."""
    workdir = Path(tempfile.mkdtemp(prefix="krbot-bench-"))
    database_url = f"sqlite:///{workdir / 'krbot.db'}"
    app = build_app(database_url=database_url)
    services.import_okrs(uow=app.uow, text=EXAMPLE.read_text(encoding="utf-8"), filename=str(EXAMPLE), at=NOW)
    fake_port, bot_port = free_port(), free_port()
    fake_url, bot_url = f"http://127.0.0.1:{fake_port}", f"http://127.0.0.1:{bot_port}"
    processes = [spawn("fake", str(fake_port), url=fake_url + "/calls")]
    try:
        processes.append(spawn("serve", str(bot_port), database_url, fake_url + "/api/", url=bot_url + "/healthz"))
        sender = SlackSender(url=bot_url)
        response_url = fake_url + "/respond/bench"

        def command(client: httpx.Client, n: int, prefix: str) -> Callable[[], httpx.Response]:
            bench = SlackSender(url=bot_url, client=client)
            return lambda: bench.command(user_id="U0CHEN0001", text="update KR2 1.8%", response_url=response_url,
                                         trigger_id=f"{prefix}-{n}")

        def health(client: httpx.Client, _n: int) -> Callable[[], httpx.Response]:
            return lambda: client.get(bot_url + "/healthz")

        for n in range(20):  # warm up: first connections, auth.test, caches
            timed(call=command(sender.client, n, "warm"))
            timed(call=health(sender.client, n))
        calls(fake_url=fake_url, method="response_url", count=20)
        sequential_kr, loaded_health = [], []
        for n in range(SEQUENTIAL):  # alternating: /healthz meets the same background work as /kr update
            sequential_kr.append(timed(call=command(sender.client, n, "seq")))
            loaded_health.append(timed(call=health(sender.client, n)))
        calls(fake_url=fake_url, method="response_url", count=20 + SEQUENTIAL)  # the lazy work drained
        sequential_health = [timed(call=health(sender.client, n)) for n in range(SEQUENTIAL)]
        parallel_kr = concurrently(make=lambda client, n: command(client, n, "par"))
        total = 20 + SEQUENTIAL + THREADS * PER_THREAD
        calls(fake_url=fake_url, method="response_url", count=total)
        parallel_health = concurrently(make=health)
        answered = calls(fake_url=fake_url, method="response_url", count=total)
        stored = len(services.export_all(uow=app.uow, at=NOW)["checkins"])
        sender.client.close()
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)
    print(f"krbot Slack ack bench — bot on uvicorn in its own process (acks) with its Slack worker (the slow half), SQLite; "
          f"fake Slack in another; "
          f"{SEQUENTIAL} sequential, then {THREADS} threads × {PER_THREAD}")
    print(line(name="/kr update KR2 1.8% (sequential)", samples=sequential_kr))
    print(line(name="/healthz (sequential, interleaved)", samples=loaded_health))
    print(line(name="/healthz (sequential, idle server)", samples=sequential_health))
    print(line(name=f"/kr update ({THREADS} concurrent)", samples=parallel_kr))
    print(line(name=f"/healthz ({THREADS} concurrent)", samples=parallel_health))
    p50 = percentile(samples=sequential_kr, q=50)
    p99 = max(percentile(samples=sequential_kr, q=99), percentile(samples=parallel_kr, q=99))
    print(f"p50 /kr update ÷ p50 /healthz interleaved: {p50 / percentile(samples=loaded_health, q=50):.2f}×; "
          f"÷ p50 /healthz on the idle server: {p50 / percentile(samples=sequential_health, q=50):.2f}× (target ≤ 3×)")
    print(f"worst p99 of /kr update: {p99:.1f} ms (target < 300 ms)")
    print(f"answers posted to response_url: {answered} of {total}; check-ins stored: {stored}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        serve_bot(port=int(sys.argv[2]), database_url=sys.argv[3], api_url=sys.argv[4])
    elif len(sys.argv) > 1 and sys.argv[1] == "fake":
        serve_fake(port=int(sys.argv[2]))
    else:
        main()
