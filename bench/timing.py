"""What the HTTP benches share: nearest-rank percentiles, one timed request, many clients at once, a row of figures."""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections.abc import Callable

import httpx


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
