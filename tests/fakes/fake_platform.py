"""A fake remote chat platform: a local HTTP server that counts deliveries by idempotency key, and a Platform posting to it."""

from __future__ import annotations

import json
import math
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from bot.core import model
from bot.core.digest import Digest
from bot.platforms.base import InstalledEverywhere, Reminder, Sent


@dataclass
class Behaviour:
    """How the server answers: fail each key's first N tries, be down, rate-limit, or hold requests."""

    fail_first: int = 0
    down: bool = False
    rate: float | None = None
    limited_first: int = 0  # the first N requests of all are told 429 with Retry-After: 1, however slowly they come
    hold: threading.Event | None = None
    latency: float = 0.0


@dataclass
class Stats:
    """What the server saw."""

    delivered: Counter[str] = field(default_factory=Counter)
    tries: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    received: list[dict[str, Any]] = field(default_factory=list)
    arrived: int = 0

    @property
    def duplicates(self) -> int:
        """Keys delivered more than once, counted by their extra deliveries."""
        return sum(count - 1 for count in self.delivered.values() if count > 1)


class FakePlatformServer:
    """A ThreadingHTTPServer on 127.0.0.1 with a token bucket for 429s; run it with `with FakePlatformServer() as s`."""

    def __init__(self, *, behaviour: Behaviour | None = None) -> None:
        self.behaviour = behaviour or Behaviour()
        self.stats = Stats()
        self.lock = threading.Lock()
        self._tokens = 0.0
        self._refilled = time.monotonic()
        self._ids = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *_: Any) -> None:
                return

            def do_POST(self) -> None:  # noqa: N802 - the http.server spelling
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                status, headers, answer = server.answer(body)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                payload = json.dumps(answer).encode()
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                try:
                    self.wfile.write(payload)
                except OSError:
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.request_queue_size = 1024
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def _take_token(self) -> float | None:
        """None when a token was taken; else the seconds until the next one."""
        rate = self.behaviour.rate
        assert rate is not None
        now = time.monotonic()
        self._tokens = min(rate, self._tokens + (now - self._refilled) * rate)
        self._refilled = now
        if self._tokens >= 1:
            self._tokens -= 1
            return None
        return (1 - self._tokens) / rate

    def answer(self, body: dict[str, Any]) -> tuple[int, dict[str, str], dict[str, Any]]:
        """Decide one request's answer and count it."""
        key = str(body.get("key"))
        behaviour = self.behaviour
        with self.lock:
            self.stats.arrived += 1
        if behaviour.hold is not None:
            behaviour.hold.wait()
            return self._count(503, key, body, {})
        if behaviour.latency:
            time.sleep(behaviour.latency)
        with self.lock:
            self.stats.tries[key] += 1
            if self.stats.statuses[429] < behaviour.limited_first:
                self.stats.statuses[429] += 1
                return 429, {"Retry-After": "1"}, {"ok": False, "error": "ratelimited"}
            if behaviour.rate is not None:
                wait = self._take_token()
                if wait is not None:
                    self.stats.statuses[429] += 1
                    return 429, {"Retry-After": str(max(1, math.ceil(wait)))}, {"ok": False, "error": "ratelimited"}
            if behaviour.down or self.stats.tries[key] <= behaviour.fail_first:
                self.stats.statuses[500] += 1
                return 500, {}, {"ok": False, "error": "internal"}
            return self._count(200, key, body, {})

    def _count(self, status: int, key: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
        if status == 200:
            self.stats.delivered[key] += 1
            self._ids += 1
            self.stats.received.append({**body, "id": self._ids, "served_at": time.time()})
            self.stats.statuses[200] += 1
            return 200, headers, {"ok": True, "id": f"m{self._ids}"}
        with self.lock:
            self.stats.statuses[status] += 1
        return status, headers, {"ok": False}

    def kinds(self) -> Counter[str]:
        """Deliveries by kind."""
        return Counter(item["kind"] for item in self.stats.received)

    def __enter__(self) -> FakePlatformServer:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        if self.behaviour.hold is not None:
            self.behaviour.hold.set()
        self.httpd.shutdown()
        self.httpd.server_close()


class PlatformHTTPError(RuntimeError):
    """The fake platform refused a send; `retry_after` is set on a 429."""

    def __init__(self, status: int, retry_after: float | None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.retry_after = retry_after


class HttpTestPlatform(InstalledEverywhere):
    """A Platform that POSTs every send to the fake server (a stand-in for a remote Slack or Feishu)."""

    def __init__(self, *, url: str, name: str = "test", default_channel: str = "boss-room", timeout: float = 30) -> None:
        self.name = name
        self.url = url.rstrip("/")
        self.default_channel = default_channel
        self.client = httpx.Client(timeout=timeout, limits=httpx.Limits(max_connections=200))

    def _post(self, body: dict[str, Any]) -> Sent:
        response = self.client.post(f"{self.url}/send", json=body)
        if response.status_code != 200:
            header = response.headers.get("Retry-After")
            raise PlatformHTTPError(response.status_code, float(header) if header else None)
        return Sent(platform=self.name, message_id=response.json()["id"])

    def send_reminder(self, *, reminder: Reminder, idempotency_key: str) -> Sent:
        """POST a reminder or chaser."""
        return self._post(
            {
                "key": idempotency_key,
                "kind": "chaser" if reminder.chaser else "reminder",
                "target": reminder.person.key,
                "codes": [row["code"] for row in reminder.rows],
                "at": time.time(),
            }
        )

    def post_digest(self, *, digest: Digest, channel: str, idempotency_key: str) -> Sent:
        """POST a digest with what it reports about stale KRs and failed deliveries."""
        return self._post(
            {
                "key": idempotency_key,
                "kind": "digest",
                "target": channel,
                "as_of": digest.as_of.isoformat(),
                "stale": [s.code for s in digest.stale],
                "failed": [[f.kind, f.target, f.period] for f in digest.failed],
            }
        )

    def notify(self, *, person: model.Person, text: str, idempotency_key: str) -> Sent:
        """POST a notice."""
        return self._post({"key": idempotency_key, "kind": "notice", "target": person.key, "text": text})

    def routes(self) -> list[Any]:
        """No inbound routes."""
        return []

    def start(self) -> None:
        """Nothing to open."""

    def stop(self) -> None:
        """Close the HTTP client."""
        self.client.close()

    def reaches(self, *, person: model.Person) -> bool:
        """The test platform reaches everyone."""
        return True

    def healthy(self) -> bool:
        """Always usable."""
        return True


ZONES = ("Europe/Berlin", "America/New_York", "Asia/Shanghai", "America/Los_Angeles", "UTC")


def owners_yaml(
    *,
    owners: int,
    zones: tuple[str, ...] = ZONES,
    reminder: str = "mon 09:30",
    digest: str = "fri 16:30",
    start: str = "2026-10-01",
    end: str = "2026-12-31",
) -> str:
    """An OKR file with one KR per owner (o00, o01, …), owners spread over `zones`, all accountable to `lead`."""
    people = [
        "  - {id: boss, name: Boss, role: boss}",
        "  - {id: lead, name: Lead, role: admin}",
        *(f"  - {{id: o{i:02d}, name: Owner {i:02d}, timezone: {zones[i % len(zones)]}}}" for i in range(owners)),
    ]
    krs = "\n".join(
        f"""          - code: KR{i:02d}
            title: Raise weekly orders of line {i:02d} in Germany from 0 to 100 by end of December
            owner: o{i:02d}
            accountable: lead
            measures:
              - {{name: Orders, unit: orders, baseline: 0, target: 100}}"""
        for i in range(owners)
    )
    return f"""workspace:
  name: Schedule Test
  language: en
  timezone: Europe/Berlin
  reminder: "{reminder}"
  digest: "{digest}"
people:
{chr(10).join(people)}
cycle:
  name: Q
  start: {start}
  end: {end}
objectives:
  - code: O1
    title: Grow Amazon Germany orders for every product line this quarter
    owner: o00
    strategy: Europe first
    deadline: {end}
    measures:
      - {{name: Orders, unit: orders, baseline: 0, target: {100 * owners}}}
    paths:
      - code: P1
        title: Every line grows
        priority: 1
        krs:
{krs}
"""
