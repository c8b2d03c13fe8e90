"""The HTTP server's walls: 413 for a body over 1 MB while it streams in, a token on /metrics, a quiet /healthz."""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlparse

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from bot.http import MAX_BODY, build_http_app
from tests.conftest import EXAMPLE_ZH
from tests.fakes.served import Served, serve

TOKEN = "metrics-token-0123456789"
received: list[int] = []


async def _read_all(request: Request) -> PlainTextResponse:
    """A route that reads the whole body, as the platforms' signature checks do."""
    body = await request.body()
    received.append(len(body))
    return PlainTextResponse("unsigned", status_code=401)


def _health() -> dict[str, object]:
    return {"ok": True, "database": True, "scheduler": True, "platforms": {"slack": True}}


@pytest.fixture
def server() -> Iterator[Served]:
    """The real app under uvicorn, with a metrics token and a body-reading route."""
    received.clear()
    served = serve(
        app=build_http_app(
            routes=[Route("/slack/events", _read_all, methods=["POST"])], health=_health, metrics_token=TOKEN
        )
    )
    yield served
    served.stop()


def _stream(url: str, *, headers: str, total: int, chunk: int = 64 * 1024) -> tuple[bytes, int, float]:
    """POST `total` bytes as fast as the server takes them; stop when it answers. (answer, bytes sent, seconds)."""
    address = urlparse(url)
    started = time.monotonic()
    sent = 0
    piece = b"x" * chunk
    with socket.create_connection((address.hostname, address.port), timeout=30) as sock:
        sock.sendall(f"POST /slack/events HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode())
        while sent < total:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            framed = f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if "chunked" in headers else piece
            try:
                sock.sendall(framed)
            except OSError:  # the server closed the connection after answering
                break
            sent += len(piece)
        sock.settimeout(10)
        answer = b""
        try:
            while b"\r\n\r\n" not in answer:
                data = sock.recv(65536)
                if not data:
                    break
                answer += data
        except OSError:
            pass
    return answer, sent, time.monotonic() - started


def test_a_streamed_100_mb_body_gets_413_before_it_is_read_whole(server: Served) -> None:
    """Chunked, with no length given: the server counts what arrives and answers 413 soon after 1 MB."""
    answer, sent, seconds = _stream(server.url, headers="Transfer-Encoding: chunked\r\n", total=100 * 1024 * 1024)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 20 * 1024 * 1024 and seconds < 5  # stopped long before 100 MB
    assert received == []  # the route never got the body


def test_a_declared_100_mb_body_gets_413_at_once(server: Served) -> None:
    """A Content-Length over the limit is refused before any of the body is read."""
    answer, sent, seconds = _stream(
        server.url, headers=f"Content-Length: {100 * 1024 * 1024}\r\n", total=100 * 1024 * 1024
    )
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 20 * 1024 * 1024 and seconds < 5
    assert received == []


def test_a_body_within_the_limit_reaches_the_route(server: Served) -> None:
    """Exactly 1 MB is still read, and the route answers as it would."""
    answer = httpx.post(f"{server.url}/slack/events", content=b"y" * MAX_BODY)
    assert answer.status_code == 401 and received == [MAX_BODY]


def test_metrics_want_the_bearer_token_when_one_is_set(server: Served) -> None:
    """401 without the token or with a wrong one; the exposition with it."""
    assert httpx.get(f"{server.url}/metrics").status_code == 401
    wrong = httpx.get(f"{server.url}/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    right = httpx.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert right.status_code == 200 and "krbot_http_request_seconds" in right.text


def test_healthz_says_only_ok_without_the_token(server: Served) -> None:
    """Anyone sees ok or not; the database, scheduler and platforms only with the token."""
    anyone = httpx.get(f"{server.url}/healthz")
    assert anyone.status_code == 200 and anyone.json() == {"ok": True}
    holder = httpx.get(f"{server.url}/healthz", headers={"Authorization": f"Bearer {TOKEN}"})
    assert holder.json()["platforms"] == {"slack": True} and holder.json()["database"] is True


def test_without_a_token_metrics_stay_open_and_healthz_stays_quiet() -> None:
    """No KRBOT_METRICS_TOKEN: /metrics is open (as before), /healthz still shows no details."""
    served = serve(app=build_http_app(routes=[], health=_health))
    try:
        assert httpx.get(f"{served.url}/metrics").status_code == 200
        assert httpx.get(f"{served.url}/healthz").json() == {"ok": True}
    finally:
        served.stop()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_run_http_without_platform_tokens_refuses_naming_the_variables(
    run_cli, monkeypatch: pytest.MonkeyPatch, tmp_path, lang: str
) -> None:
    """Empty tokens: `krbot run --http` exits 2 and names what to set, instead of serving 404 on /slack/events."""
    monkeypatch.chdir(tmp_path)  # no .env here
    for name in ("SLACK_BOT_TOKEN", "SLACK_CLIENT_ID", "FEISHU_APP_ID", "SLACK_APP_TOKEN"):
        monkeypatch.setenv(name, "")
    if lang == "zh":
        code, _, _ = run_cli("import", str(EXAMPLE_ZH))
        assert code == 0
    code, _out, err = run_cli("run", "--http", "--port", "1")
    assert code == 2
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "FEISHU_APP_ID", "FEISHU_ENCRYPT_KEY"):
        assert name in err
    assert ("没有可服务的聊天平台" in err) == (lang == "zh")
