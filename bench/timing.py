"""What the HTTP benches share: a server in its own process, nearest-rank percentiles, one timed request, many clients
at once, a row of figures."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx


def spawn(*, script: str, args: tuple[str, ...], url: str) -> subprocess.Popen[bytes]:
    """Start `script ARGS` in a process of its own (a server, as in production) and wait until `url` answers."""
    process = subprocess.Popen([sys.executable, script, *args])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.05)
    process.terminate()
    raise RuntimeError(f"{args[0]} did not start")


def serve_platform(*, platform: Any, port: int) -> None:
    """Serve one platform's routes and /healthz as `krbot run --http` does (uvicorn, starlette) until stopped."""
    import uvicorn

    from bot.http import build_http_app

    http_app = build_http_app(routes=platform.routes(), health=lambda: {"ok": platform.healthy()})
    platform.start()
    try:
        uvicorn.run(http_app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    finally:
        platform.stop()


def percentile(*, samples: list[float], q: float) -> float:
    """The q-th percentile (0..100) of the samples, nearest rank."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def timed(*, call: Callable[[], httpx.Response], status: int = 200) -> float:
    """Milliseconds one request took, end to end; its answer must have `status`."""
    started = time.perf_counter()
    response = call()
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != status:
        raise SystemExit(f"unexpected answer {response.status_code}: {response.text[:300]}")
    return elapsed


def concurrently(
    *, make: Callable[[httpx.Client, int], Callable[[], httpx.Response]], threads: int, each: int, status: int = 200
) -> list[float]:
    """`threads` clients at once, each on its own connection sending `each` requests; every request's milliseconds."""
    samples: list[float] = []
    lock = threading.Lock()
    gate = threading.Barrier(threads)

    def worker(n: int) -> None:
        with httpx.Client(timeout=30) as client:
            gate.wait()
            mine = [timed(call=make(client, n * each + i), status=status) for i in range(each)]
        with lock:
            samples.extend(mine)

    started = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join()
    return samples


def line(*, name: str, samples: list[float], width: int = 44) -> str:
    """One row of figures in milliseconds."""
    return (
        f"{name:<{width}} n={len(samples):>4}  p50={percentile(samples=samples, q=50):7.2f} ms  "
        f"p99={percentile(samples=samples, q=99):7.2f} ms  mean={statistics.fmean(samples):7.2f} ms"
    )


def cpu_seconds(*, pid: int) -> float | None:
    """CPU seconds (user and system) a process has used so far, from /proc (None where there is none)."""
    try:
        fields = open(f"/proc/{pid}/stat", encoding="ascii").read().rsplit(")", 1)[1].split()  # noqa: SIM115
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
