"""A real local HTTP receiver of krbot's webhooks: it checks each signature with the secret and records what came."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from bot.app import App
from bot.retrying import RetryPolicy
from storage.db import UnitOfWork, make_engine
from storage.models import DeliveryRow
from tests.conftest import EXAMPLE_ZH
from tests.fakes.okr_helpers import reimport

SECRET = "whsec-test-0123456789"
SECRET_ENV = "TEST_WEBHOOK_SECRET"
EVENTS = ["checkin.saved", "ask.decided", "goal.changed", "digest.posted"]
QUICK = RetryPolicy(tries=8, backoff=0.02, backoff_max=0.1, rate_limited_waits=8)  # across drains, in milliseconds
BEFORE_CYCLE = datetime(2026, 9, 30, 12, 0, tzinfo=UTC)


@dataclass
class Received:
    """One request as the receiver saw it: the body, its headers, and whether the signature held."""

    body: dict[str, Any]
    headers: dict[str, str]
    valid: bool
    status: int
    at: float = field(default_factory=time.perf_counter)  # when it came (perf_counter)


@dataclass
class Receiver:
    """Answers 2xx, or fails the first `fail_first` requests (or all, when `down`) with `fail_status`."""

    secret: str = SECRET
    fail_first: int = 0
    fail_status: int = 500
    retry_after: str | None = None
    down: bool = False
    delay: float = 0.0  # seconds to wait before answering (after recording the request)
    requests: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks/krbot"

    def delivered(self) -> list[dict[str, Any]]:
        """Bodies answered 2xx with a valid signature, in the order they came."""
        with self._lock:
            return [r.body for r in self.requests if r.valid and 200 <= r.status < 300]

    def wait_for(self, count: int, *, timeout: float = 15.0) -> list[dict[str, Any]]:
        """Wait until `count` deliveries came; the bodies."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if len(self.delivered()) >= count:
                return self.delivered()
            time.sleep(0.02)
        raise AssertionError(f"expected {count} deliveries, got {len(self.delivered())}: {self.requests}")

    def check(self, *, raw: bytes, headers: dict[str, str]) -> bool:
        """The §9 check a receiver does: HMAC-SHA256(secret, timestamp + "." + body), fresh within 5 minutes."""
        timestamp = headers.get("x-krbot-timestamp", "")
        expected = "sha256=" + hmac.new(self.secret.encode(), timestamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
        fresh = timestamp.isdigit() and abs(time.time() - int(timestamp)) < 300
        return fresh and hmac.compare_digest(expected, headers.get("x-krbot-signature", ""))

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                valid = receiver.check(raw=raw, headers=headers)
                with receiver._lock:
                    failing = receiver.down or len(receiver.requests) < receiver.fail_first
                    status = receiver.fail_status if failing else (200 if valid else 401)
                    receiver.requests.append(Received(body=json.loads(raw), headers=headers, valid=valid, status=status))
                time.sleep(receiver.delay)
                try:
                    self.send_response(status)
                    if failing and receiver.retry_after is not None:
                        self.send_header("Retry-After", receiver.retry_after)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except (BrokenPipeError, ConnectionResetError):  # the sender was killed while we answered
                    return

            def log_message(self, *_args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def okr_file_with_webhooks(
    *, urls: list[str], events: list[str] | None = None, secret_env: str = SECRET_ENV, base: Path = EXAMPLE_ZH
) -> str:
    """The example OKR file with `workspace.webhooks` sending `events` (all four by default) to each URL."""
    data = yaml.safe_load(base.read_text(encoding="utf-8"))
    data["workspace"]["webhooks"] = [
        {"url": url, "events": events or EVENTS, "secret_env": secret_env} for url in urls
    ]
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def hook_up(app: App, *, url: str) -> App:
    """Import the example OKRs with every event sent to `url` (the secret must be in the environment)."""
    reimport(app, okr_file_with_webhooks(urls=[url]), at=BEFORE_CYCLE)
    return app


def webhook_rows(app: App, status: str | None = None) -> list[DeliveryRow]:
    """The ledger's webhook rows (of one status, when given), oldest first."""
    with app.uow.begin() as session:
        query = select(DeliveryRow).where(DeliveryRow.kind == "webhook").order_by(DeliveryRow.id)
        if status is not None:
            query = query.where(DeliveryRow.status == status)
        return list(session.scalars(query))


_QUIET: list[Any] = []  # engines `quiet` made, disposed when `hooked` ends (each holds pooled connections)


def quiet(app: App) -> App:
    """The app on an engine of its own that drains nothing after its commits (the test drains by hand)."""
    engine = make_engine(url=app.uow.engine.url.render_as_string(hide_password=False))
    _QUIET.append(engine)
    return App(settings=app.settings, uow=UnitOfWork(engine=engine))


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real local HTTP receiver that checks signatures (a fixture, offered by the layers' conftest)."""
    served = Receiver().start()
    yield served
    served.stop()


@pytest.fixture
def hooked(app: App, receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> Iterator[App]:
    """The example OKRs with every event sent to the receiver, its secret in the environment (a fixture)."""
    from bot.webhooks import install

    monkeypatch.setenv(SECRET_ENV, SECRET)
    yield hook_up(app, url=receiver.url)
    install(uow=app.uow).wait(timeout=15)  # no drain left running on the engine `app` disposes next
    while _QUIET:
        _QUIET.pop().dispose()
