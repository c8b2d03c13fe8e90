"""CONTRACT §8 bodies on every route: chunked over 1 MB is a JSON 413, deep nesting a 4xx, NaN and Infinity "not a
finite number" on their field, invalid UTF-8 a 422 — on /api/v1 and /hooks alike, never a 500."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest

from bot import services
from bot.app import App
from tests.conftest import EXAMPLE_EN
from tests.edges.test_feishu import fake, open_api, settings_for  # noqa: F401 - the fake Feishu fixtures
from tests.edges.test_feishu_requests import served as feishu_served
from tests.edges.test_slack import served_bot
from tests.fakes import fake_feishu as ff
from tests.fakes.api_client import NOW, bearer, checkin_rows, client, http_app, token
from tests.fakes.served import Served, serve

CHECKINS = "/api/v1/checkins"
JSON = {"Content-Type": "application/json"}


def _error(response: httpx.Response, status: int) -> dict[str, Any]:
    """The error of a refused request, after checking its status and its one JSON shape."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "field"}, body
    return body["error"]


def _hook(app: App, code: str = "KR2", measure: str = "新客转化率") -> str:
    """A new hook's path."""
    issued, _, _ = services.create_hook(uow=app.uow, code=code, measure=measure, at=NOW)
    return f"/hooks/{issued.secret}"


@pytest.fixture
def served(example: App) -> Iterator[Served]:
    """The real server app under uvicorn."""
    running = serve(app=http_app(example))
    yield running
    running.stop()


def _chunked(url: str, path: str, *, headers: dict[str, str], total: int) -> tuple[int, dict[str, Any], int]:
    """POST `total` bytes chunked (no Content-Length) until the server answers: (status, JSON body, bytes sent)."""
    address = urlparse(url)
    lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    piece, sent = b"[" * (64 * 1024), 0
    with socket.create_connection((address.hostname, address.port), timeout=30) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n{lines}\r\n".encode())
        sock.settimeout(0.001)
        answer = b""
        while sent < total:
            try:
                answer += sock.recv(65536)
                break  # the server answered before the body ended
            except (TimeoutError, BlockingIOError):
                pass
            try:
                sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            except OSError:
                break
            sent += len(piece)
        sock.settimeout(10)
        try:
            while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
                data = sock.recv(65536)
                if not data:
                    break
                answer += data
        except OSError:
            pass
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if b"chunked" in head.lower():
        body = body.split(b"\r\n", 1)[1].rsplit(b"\r\n0\r\n", 1)[0]
    return status, json.loads(body), sent


def test_a_chunked_body_over_1_mb_is_a_json_413_on_the_api_and_on_hooks(example: App, served: Served) -> None:
    """No Content-Length: the server counts what arrives and answers 413 in the error shape, long before 8 MB."""
    secret = token(example, "chen")
    for path, headers in (
        (CHECKINS, {"Authorization": f"Bearer {secret}", **JSON}),
        (_hook(example), JSON),
        (f"{CHECKINS}?x=1", {"Accept-Language": "en", **JSON}),
    ):
        status, body, sent = _chunked(served.url, path, headers=headers, total=8 * 1024 * 1024)
        assert status == 413, body
        assert body["error"]["code"] == "http.too_large" and "1 MB" in body["error"]["message"]
        assert sent < 8 * 1024 * 1024
    declared = httpx.post(served.url + _hook(example), content=b"1" * (1024 * 1024 + 1), headers=JSON)
    assert _error(declared, 413)["code"] == "http.too_large"
    assert checkin_rows(example) == []


def test_the_platforms_routes_answer_413_and_4xx_alike(example: App, fake: ff.FakeFeishu) -> None:  # noqa: F811
    """/slack/events and /feishu/events share the one body limit: chunked over 1 MB is 413; nesting is a 4xx."""
    with served_bot(example=example) as slack_bot, feishu_served(
        example=example, settings=settings_for(domain=fake._served.url)
    ) as feishu_bot:
        for url, path in ((slack_bot.served.url, "/slack/events"), (feishu_bot.url, "/feishu/events")):
            status, body, _ = _chunked(url, path, headers=JSON, total=8 * 1024 * 1024)
            assert status == 413 and body["error"]["code"] == "http.too_large", (path, body)
            nested = httpx.post(url + path, content=b"[" * 100_000, headers=JSON)
            assert 400 <= nested.status_code < 500, (path, nested.status_code)
    assert checkin_rows(example) == []


@pytest.mark.parametrize("nested", [b"[" * 100_000, b'{"a":' * 100_000, b"[" * 900 + b"]" * 900])
def test_deeply_nested_json_is_a_4xx_on_every_route(example: App, nested: bytes) -> None:
    """100,000 brackets (a recursion bomb) to the API, a live hook and an unknown one: refused, never a 500."""
    api, secret = client(example), token(example, "chen")
    for path, headers in ((CHECKINS, bearer(secret, **JSON)), (_hook(example), JSON), ("/hooks/anything", JSON)):
        answer = api.post(path, content=nested, headers=headers)
        assert 400 <= answer.status_code < 500, (path, answer.status_code, answer.text[:200])
        assert "error" in answer.json()
    assert checkin_rows(example) == []


@pytest.mark.parametrize("word", ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"])
def test_nan_and_infinity_are_not_a_finite_number_on_their_field(example: App, word: str) -> None:
    """Anywhere in the body: a measure's value names `values.新客转化率`, the ask names `ask`; in zh, never "15
    digits" or the wrong field; hooks name `value`."""
    api, secret = client(example), token(example, "chen")
    for text, field in (
        (f'{{"code": "KR2", "values": {{"新客转化率": {word}}}}}', "values.新客转化率"),
        (f'{{"code": "KR2", "ask": {word}}}', "ask"),
        (f'{{"code": "KR2", "values": {{"新客转化率": 1.8}}, "note": [1, {word}]}}', "note.1"),
    ):
        refused = _error(api.post(CHECKINS, content=text.encode(), headers=bearer(secret, **JSON)), 422)
        assert refused["code"] == "body.not_finite" and refused["field"] == field, refused
        assert "不是有限的数" in refused["message"] and "15" not in refused["message"]
    hook = _error(api.post(_hook(example), content=f'{{"value": {word}}}'.encode(), headers=JSON), 422)
    assert hook["code"] == "body.not_finite" and hook["field"] == "value" and "不是有限的数" in hook["message"]
    assert checkin_rows(example) == []


def test_not_a_finite_number_speaks_english_to_an_english_reader(app: App) -> None:
    """The en example's boss: the same refusal in English."""
    services.import_okrs(uow=app.uow, text=EXAMPLE_EN.read_text(encoding="utf-8"), filename="okrs.yaml", at=NOW)
    api, secret = client(app), token(app, "boss")
    refused = _error(api.post(CHECKINS, content=b'{"code": "KR2", "values": {"GMV": NaN}}',
                              headers=bearer(secret, **JSON)), 422)
    assert refused["field"] == "values.GMV" and "not a finite number" in refused["message"]


def test_invalid_utf8_is_a_422_on_the_api_and_on_hooks(example: App) -> None:
    """Bytes that are no UTF-8 (JSON or text): 422 saying so, nothing stored."""
    api, secret = client(example), token(example, "chen")
    bad = b'{"code": "KR2", "note": "\xff\xfe"}'
    refused = _error(api.post(CHECKINS, content=bad, headers=bearer(secret, **JSON)), 422)
    assert refused["code"] == "body.utf8" and "UTF-8" in refused["message"]
    path = _hook(example)
    assert _error(api.post(path, content=b'{"value": "\xff"}', headers=JSON), 422)["code"] == "body.utf8"
    assert _error(api.post(path, content=b"\xff\xfe", headers={"Content-Type": "text/plain"}), 422)["code"] == (
        "body.utf8"
    )
    assert checkin_rows(example) == []


def test_a_hook_refuses_an_unknown_json_field_naming_the_one_it_takes(example: App) -> None:
    """{"value": 1.8, "unit": "%"}: 422 naming unit and value, as the API refuses `nxt`; nothing stored."""
    api = client(example)
    refused = _error(api.post(_hook(example), json={"value": 1.8, "unit": "%"}), 422)
    assert refused["code"] == "hook.unknown_field" and refused["field"] == "unit"
    assert "unit" in refused["message"] and "value" in refused["message"]
    assert checkin_rows(example) == []


def test_the_openapi_document_describes_400_409_413_and_422(example: App) -> None:
    """The writes document every refusal a client can meet, each in the error shape."""
    document = client(example).get("/api/v1/openapi.json").json()
    for path in ("/checkins", "/asks/{ask_id}/decision"):
        answers = document["paths"][path]["post"]["responses"]
        assert {"400", "401", "409", "413", "422"} <= set(answers), (path, sorted(answers))
        assert "Idempotency-Key" in answers["422"]["description"] and "255" in answers["400"]["description"]
