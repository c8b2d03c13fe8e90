"""A data source or receiver that never finishes: it answers 200 with a long body and sends one byte every few
seconds, so no per-read timeout ever fires (the attack of issue #20); every request is counted."""

from __future__ import annotations

import threading
import time
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Trickle:
    """A local HTTP server on 127.0.0.1 trickling `{"v": 1…` byte by byte, never ending; `with Trickle() as t`."""

    def __init__(self, *, every: float = 2.0) -> None:
        self.every = every
        self.requests = 0
        self.stopped = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                return

            def _trickle(self) -> None:
                server.requests += 1
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "100000")
                self.end_headers()
                try:
                    self.wfile.write(b'{"v": 1')
                    self.wfile.flush()
                    while not server.stopped.wait(server.every):
                        self.wfile.write(b" ")
                        self.wfile.flush()
                except OSError:  # the client gave up: fine, that is what a deadline does
                    return

            do_GET = _trickle  # noqa: N815 - the http.server spelling
            do_POST = _trickle  # noqa: N815

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/slow.json"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def wait_for(self, count: int, *, timeout: float) -> bool:
        """Wait until `count` requests came (or `timeout` seconds); True when they did."""
        end = time.monotonic() + timeout
        while self.requests < count and time.monotonic() < end:
            time.sleep(0.05)
        return self.requests >= count

    def __enter__(self) -> Trickle:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.stopped.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def trickling_okrs(*, url: str, reminder_at: datetime, sync_at: datetime, today: date, headers_env: str = "",
                   webhooks: tuple[tuple[str, str], ...] = ()) -> str:
    """An OKR file in UTC whose sync is due at `sync_at` and whose reminder falls due at `reminder_at`; ana's KR pulls
    `url` (`$.v`, with the headers in `headers_env` when named); `webhooks`: (url, secret_env) told of every event."""
    headers = f", headers_env: {headers_env}" if headers_env else ""
    hooks = "".join(f"""
    - {{url: "{hook}", secret_env: {secret}, events: [checkin.saved, digest.posted]}}""" for hook, secret in webhooks)
    hooked = f"\n  webhooks:{hooks}" if webhooks else ""
    return f"""workspace:
  name: Trickle Test
  language: en
  timezone: UTC
  reminder: "{DAYS[reminder_at.weekday()]} {reminder_at:%H:%M}"
  digest: "{DAYS[(today.weekday() + 3) % 7]} 16:30"
  sync: "daily {sync_at:%H:%M}"{hooked}
people:
  - {{id: boss, name: Boss, role: boss, slack: U0BOSS0001}}
  - {{id: lead, name: Lead, role: admin, slack: U0LEAD0001}}
  - {{id: ana, name: Ana, slack: U0ANA00001}}
  - {{id: ben, name: Ben, slack: U0BEN00001}}
cycle:
  name: Now
  start: {today - timedelta(days=30)}
  end: {today + timedelta(days=30)}
objectives:
  - code: O1
    title: Grow Amazon Germany orders this quarter
    owner: lead
    strategy: Europe first
    deadline: {today + timedelta(days=30)}
    measures:
      - {{name: Orders, unit: orders, baseline: 0, target: 1000}}
    paths:
      - code: P1
        title: Sell more
        priority: 1
        krs:
          - code: KR1
            title: Raise weekly orders of Amazon Germany from 0 to 2000 by the end of the cycle
            owner: ana
            accountable: lead
            measures:
              - name: Orders
                unit: orders
                baseline: 0
                target: 2000
                source: {{url: "{url}", json_path: "$.v"{headers}}}
          - code: KR2
            title: Cut returned orders of Amazon Germany from 100 to 20 by the end of the cycle
            owner: ben
            accountable: lead
            measures:
              - {{name: Returns, unit: orders, baseline: 100, target: 20}}
"""
