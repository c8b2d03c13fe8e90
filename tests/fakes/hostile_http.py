"""Hostile HTTP servers on loopback for the outbound guard's tests: answers that trickle for ever, 300 MB answers, a
gzip bomb, redirects, a huge error page — each streamed from a small buffer, so the server itself stays small.

Paths (GET and POST alike): `/ok` a small JSON document; `/trickle?every=S` headers, then one byte of JSON every S
seconds for ever; `/trickle-head?every=S` the status line and headers one byte every S seconds, never finished;
`/huge?declared=1` 300 MB of JSON digits (with or without Content-Length); `/bomb` 1 GB of zeros gzipped (about
1 MB on the wire, built once per test session); `/redirect?to=URL` a 302; `/error-page` a 500 whose page is 400 MB.
Other query parameters are ignored. Every request is recorded (method, path, headers) before it is answered.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import zlib
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

MB = 1_000_000
HUGE = 300 * MB
BOMB_ZEROS = 1 << 30  # 1 GiB of zeros, inflated
BLOCK = bytes(b"7" * MB)  # the huge answer: one big number, written a megabyte at a time
ERROR_START = b"Internal error: the database at db-7.internal refused the connection (too many clients). "


@cache
def bomb() -> bytes:
    """1 GiB of zeros gzipped (about 1 MB), built once."""
    packer = zlib.compressobj(6, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    zeros = bytes(MB)
    parts = [packer.compress(zeros) for _ in range(BOMB_ZEROS // MB)]
    parts.append(packer.compress(bytes(BOMB_ZEROS % MB)) + packer.flush())
    return b"".join(parts)


@dataclass
class Seen:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]


@dataclass
class HostileServer:
    """A threaded HTTP server on `host` (127.0.0.1, 127.0.0.2 or ::1) and `port` (0: any free one)."""

    host: str = "127.0.0.1"
    port: int = 0
    seen: list[Seen] = field(default_factory=list)
    sent_bytes: int = 0  # body bytes the trickling answers have written
    _stop: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None

    @property
    def base(self) -> str:
        assert self._server is not None
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{shown}:{self._server.server_address[1]}"

    @property
    def bound_port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    def url(self, path: str) -> str:
        """The address of `path` on this server."""
        return self.base + path

    def start(self) -> HostileServer:
        hostile = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                return

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                hostile._answer(self)

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                hostile._answer(self)

        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        server_class = type("Server", (ThreadingHTTPServer,), {"address_family": family, "daemon_threads": True})
        self._server = server_class((self.host, self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> HostileServer:
        return self.start()

    def __exit__(self, *_: Any) -> None:
        self.stop()

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        self.seen.append(Seen(method=handler.command, path=handler.path, headers=dict(handler.headers.items())))
        answer = getattr(self, "_" + parts.path.strip("/").replace("-", "_"), None)
        try:
            if answer is None:
                handler.send_error(404)
            else:
                answer(handler, **query)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):  # the client hung up: as expected
            return

    @staticmethod
    def _head(handler: BaseHTTPRequestHandler, *, status: int = 200, length: int | None = None,
              **headers: str) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        for name, value in headers.items():
            handler.send_header(name.replace("_", "-"), value)
        if length is not None:
            handler.send_header("Content-Length", str(length))
        handler.end_headers()

    def _ok(self, handler: BaseHTTPRequestHandler, **_: str) -> None:
        body = json.dumps({"data": {"orders": 420}}).encode()
        self._head(handler, length=len(body))
        handler.wfile.write(body)

    def _trickle(self, handler: BaseHTTPRequestHandler, every: str = "1", **_: str) -> None:
        self._head(handler)  # no length: the body runs until the connection closes, which it never does
        handler.wfile.write(b"[")
        handler.wfile.flush()
        while not self._stop.wait(float(every)):
            handler.wfile.write(b" ")
            handler.wfile.flush()
            self.sent_bytes += 1

    def _trickle_head(self, handler: BaseHTTPRequestHandler, every: str = "1", **_: str) -> None:
        handler.close_connection = True
        head = b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100_000
        for byte in head:
            if self._stop.wait(float(every)):
                return
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
            self.sent_bytes += 1

    def _huge(self, handler: BaseHTTPRequestHandler, declared: str = "1", **_: str) -> None:
        self._head(handler, length=HUGE if declared == "1" else None)
        for _ in range(HUGE // MB):
            handler.wfile.write(BLOCK)

    def _bomb(self, handler: BaseHTTPRequestHandler, **_: str) -> None:
        packed = bomb()
        self._head(handler, length=len(packed), Content_Encoding="gzip")
        handler.wfile.write(packed)

    def _redirect(self, handler: BaseHTTPRequestHandler, to: str, **_: str) -> None:
        self._head(handler, status=302, length=0, Location=to)

    def _error_page(self, handler: BaseHTTPRequestHandler, **_: str) -> None:
        handler.send_response(500)
        handler.send_header("Content-Type", "text/plain")
        handler.send_header("Content-Length", str(400 * MB))
        handler.end_headers()
        handler.wfile.write(ERROR_START)
        filler = b"x" * MB
        written = len(ERROR_START)
        while written < 400 * MB:
            chunk = filler[: 400 * MB - written]
            handler.wfile.write(chunk)
            written += len(chunk)


def serve_on_both(*, hosts: tuple[str, str]) -> tuple[HostileServer, HostileServer]:
    """Two servers on the same port of two loopback addresses (for a name that resolves to one, then the other)."""
    for _ in range(20):
        first = HostileServer(host=hosts[0]).start()
        try:
            return first, HostileServer(host=hosts[1], port=first.bound_port).start()
        except OSError:
            first.stop()
            time.sleep(0.01)
    raise RuntimeError(f"no port free on both {hosts}")
