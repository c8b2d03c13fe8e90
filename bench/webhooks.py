"""How soon a committed check-in reaches a webhook receiver, and what queuing it costs the check-in, beside floors.

Figures: (1) commit → signed body received by a local HTTP receiver, sequential check-ins through the one check-in
service (the drain runs right after the commit, in the background); floor: one bare signed POST of the same body to
the same receiver. (2) The check-in service's own time with a webhook configured against the same workspace with
none (the transactional outbox's one INSERT). (3) A burst: 200 check-ins stored back to back, then the time until
the last of them is received.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot import services  # noqa: E402
from bot.app import build_app  # noqa: E402
from bot.webhook_post import post  # noqa: E402
from bot.webhooks import install  # noqa: E402
from tests.fakes.okr_helpers import AT  # noqa: E402
from tests.fakes.webhook_receiver import (  # noqa: E402
    BEFORE_CYCLE,
    EXAMPLE_ZH,
    SECRET,
    SECRET_ENV,
    Receiver,
    okr_file_with_webhooks,
)

ROUNDS = 100
WARM_UP = 5
BURST = 200


def ms(samples: list[float], q: float) -> float:
    """The q-th percentile (0..100) in milliseconds, nearest rank."""
    ordered = sorted(samples)
    return 1000 * ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def store(app, n: int) -> float:
    """Store one check-in; the seconds the service took."""
    started = time.perf_counter()
    reply = services.run_command(uow=app.uow, person="chen", text=f"/kr update KR2 {1.5 + (n % 90) / 100:.2f}%", at=AT)
    assert reply.ok, reply
    return time.perf_counter() - started


def main() -> None:
    """Print the figures beside their floors."""
    os.environ[SECRET_ENV] = SECRET
    os.environ["KRBOT_SOURCE_ENVS"] = SECRET_ENV  # the operator allows the variable the OKR file names
    os.environ.setdefault("KRBOT_OUTBOUND_ALLOW", "127.0.0.1,::1,localhost")  # its fakes listen on loopback
    receiver = Receiver().start()
    folder = Path(tempfile.mkdtemp())
    hooked = build_app(database_url=f"sqlite:///{folder / 'hooked.db'}")
    plain = build_app(database_url=f"sqlite:///{folder / 'plain.db'}")
    services.import_okrs(uow=hooked.uow, text=okr_file_with_webhooks(urls=[receiver.url]), filename="h.yaml",
                         at=BEFORE_CYCLE)
    services.import_okrs(uow=plain.uow, text=EXAMPLE_ZH.read_text(encoding="utf-8"), filename="p.yaml", at=BEFORE_CYCLE)
    kicker = install(uow=hooked.uow)
    latency, floor, cost, bare = [], [], [], []
    for n in range(-WARM_UP, ROUNDS):  # the first rounds import and compile what the rest reuse: not counted
        before = len(receiver.requests)
        cost.append(store(hooked, n))
        committed = time.perf_counter()
        receiver.wait_for(before + 1)
        latency.append(receiver.requests[before].at - committed)
        kicker.wait(timeout=10)
        bare.append(store(plain, n))
        body = receiver.requests[before].body
        started = time.perf_counter()
        post(payload={"url": receiver.url, "secret_env": SECRET_ENV, "event": body["event"], "body": body})
        floor.append(receiver.requests[-1].at - started)
        if n < 0:
            latency, floor, cost, bare = [], [], [], []
    print(f"commit → received, {ROUNDS} sequential check-ins: p50 {ms(latency, 50):.1f} ms, p99 {ms(latency, 99):.1f} ms"
          f"  (floor, one bare signed POST: p50 {ms(floor, 50):.1f} ms, p99 {ms(floor, 99):.1f} ms)")
    print(f"check-in service with a webhook: p50 {ms(cost, 50):.1f} ms, p99 {ms(cost, 99):.1f} ms"
          f"  (floor, no webhook: p50 {ms(bare, 50):.1f} ms, p99 {ms(bare, 99):.1f} ms;"
          f" mean +{1000 * (statistics.mean(cost) - statistics.mean(bare)):.2f} ms)")
    before = len(receiver.requests)
    started = time.perf_counter()
    for n in range(BURST):
        store(hooked, n)
    stored = time.perf_counter() - started
    receiver.wait_for(before + BURST, timeout=120)
    done = receiver.requests[-1].at - started
    ids = [r.body["id"] for r in receiver.requests[before:]]
    print(f"burst of {BURST}: stored in {stored:.2f} s, last received {done:.2f} s after the first store,"
          f" {len(ids)} received, {len(set(ids))} distinct")
    receiver.stop()


if __name__ == "__main__":
    main()
