"""A local stand-in for Feishu: the Open API the real lark-oapi client talks to, and Feishu's way of signing pushes."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.fakes.fake_feishu_ws import FakeLongConnection
from tests.fakes.served import Served, free_port, serve  # noqa: F401 - re-exported for the tests

APP_ID = "cli_fake0000000001"
APP_SECRET = "fake-secret"
ENCRYPT_KEY = "fake-encrypt-key-0123456789"
VERIFICATION_TOKEN = "fake-verification-token"
TOKEN = "t-fake-tenant-token"
TENANT_KEY = "tenant0001"  # the tenant the web login's user belongs to
RATE_LIMITED = 99991400
CARD_TOO_BIG = 230025
MAX_CARD_BYTES = 30 * 1024


# ---------------------------------------------------------------- serving an ASGI app for real


# ---------------------------------------------------------------- what Feishu does to a push


def encrypt(*, plaintext: str, encrypt_key: str = ENCRYPT_KEY) -> str:
    """AES-256-CBC with key sha256(encrypt_key), PKCS7, base64(iv + ciphertext) — Feishu's event encryption."""
    key = hashlib.sha256(encrypt_key.encode()).digest()
    iv = os.urandom(16)
    padder = padding.PKCS7(128).padder()
    data = padder.update(plaintext.encode()) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return base64.b64encode(iv + encryptor.update(data) + encryptor.finalize()).decode()


def signed_push(
    *,
    payload: dict[str, Any] | None = None,
    plaintext: str | None = None,
    encrypt_key: str = ENCRYPT_KEY,
    timestamp: int | str | None = None,
    nonce: str | None = None,
    sign_key: str | None = None,
) -> tuple[bytes, dict[str, str]]:
    """The body and headers Feishu POSTs: {"encrypt": …} and X-Lark-Signature = sha256(ts + nonce + key + body).

    `plaintext` seals exactly that text instead of the JSON of `payload` (for malformed pushes).
    """
    sealed = plaintext if plaintext is not None else json.dumps(payload, ensure_ascii=False)
    body = json.dumps({"encrypt": encrypt(plaintext=sealed, encrypt_key=encrypt_key)}).encode()
    ts = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or base64.b16encode(os.urandom(8)).decode()
    signature = hashlib.sha256((ts + nonce + (sign_key or encrypt_key)).encode() + body).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "X-Lark-Request-Timestamp": ts,
        "X-Lark-Request-Nonce": nonce,
        "X-Lark-Signature": signature,
    }
    return body, headers


def message_event(
    *,
    text: str,
    open_id: str,
    event_id: str,
    message_id: str,
    chat_type: str = "p2p",
    chat_id: str = "oc_p2pchat0001",
    mentions: list[dict[str, Any]] | None = None,
    token: str = VERIFICATION_TOKEN,
    message_type: str = "text",
) -> dict[str, Any]:
    """An im.message.receive_v1 event (schema 2.0) as Feishu sends it."""
    return {
        "schema": "2.0",
        "header": {
            "event_id": event_id,
            "event_type": "im.message.receive_v1",
            "create_time": str(int(time.time() * 1000)),
            "token": token,
            "app_id": APP_ID,
            "tenant_key": "tenant0001",
        },
        "event": {
            "sender": {"sender_id": {"open_id": open_id}, "sender_type": "user", "tenant_key": "tenant0001"},
            "message": {
                "message_id": message_id,
                "chat_id": chat_id,
                "chat_type": chat_type,
                "message_type": message_type,
                "content": json.dumps({"text": text}, ensure_ascii=False),
                "mentions": mentions or [],
                "create_time": str(int(time.time() * 1000)),
            },
        },
    }


def card_action(
    *,
    open_id: str,
    value: dict[str, Any],
    event_id: str,
    form_value: dict[str, Any] | None = None,
    message_id: str = "om_card0001",
    chat_id: str = "oc_p2pchat0001",
    token: str = VERIFICATION_TOKEN,
) -> dict[str, Any]:
    """A card.action.trigger callback (schema 2.0) as Feishu sends it."""
    action: dict[str, Any] = {"value": value, "tag": "button"}
    if form_value is not None:
        action["form_value"] = form_value
        action["name"] = "submit"
    return {
        "schema": "2.0",
        "header": {
            "event_id": event_id,
            "event_type": "card.action.trigger",
            "create_time": str(int(time.time() * 1000)),
            "token": token,
            "app_id": APP_ID,
            "tenant_key": "tenant0001",
        },
        "event": {
            "operator": {"open_id": open_id, "tenant_key": "tenant0001"},
            "token": "c-" + event_id,
            "action": action,
            "host": "im_message",
            "context": {"open_message_id": message_id, "open_chat_id": chat_id},
        },
    }


def menu_event(*, open_id: str, event_id: str, event_key: str = "checkin", token: str = VERIFICATION_TOKEN) -> dict[str, Any]:
    """An application.bot.menu_v6 event (the bot's menu clicked)."""
    return {
        "schema": "2.0",
        "header": {"event_id": event_id, "event_type": "application.bot.menu_v6", "token": token, "app_id": APP_ID},
        "event": {"operator": {"operator_id": {"open_id": open_id}}, "event_key": event_key, "timestamp": int(time.time())},
    }


# ---------------------------------------------------------------- the Open API


@dataclass
class FakeFeishu:
    """Feishu's Open API as far as krbot uses it; records every call and can answer 'rate limited'."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    images: dict[str, bytes] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _by_uuid: dict[str, str] = field(default_factory=dict)
    _served: Served | None = None
    long: FakeLongConnection = field(default_factory=lambda: FakeLongConnection(app_id=APP_ID, app_secret=APP_SECRET))
    stall_replies: str | None = None  # "before" / "after" keeping a reply, its call is not answered (a send cut off)

    # -- test helpers

    def fail_next(self, *kinds: str) -> None:
        """Answer the next message calls with these failures: 'busy' (code 99991400) or 'http429'."""
        with self.lock:
            self.failures.extend(kinds)

    def sent(self, *, kind: str | None = None) -> list[dict[str, Any]]:
        """Messages created or replied (each once, however often it was retried), oldest first."""
        with self.lock:
            return [m for m in self.messages.values() if kind is None or m["kind"] == kind]

    def wait_for(self, predicate: Callable[[], Any], *, timeout: float = 20.0) -> Any:
        """Poll until predicate() is truthy (the bot replies from a worker thread)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = predicate()
            if result:
                return result
            time.sleep(0.01)
        raise AssertionError("the fake Feishu never saw what was expected")

    def start(self) -> str:
        """Serve on a free port; returns the base URL to use as FEISHU_DOMAIN."""
        self._served = serve(app=self.asgi())
        self.long.base_url = self._served.url
        return self._served.url

    def stop(self) -> None:
        """Stop serving."""
        if self._served:
            self._served.stop()

    # -- the API

    def asgi(self) -> Starlette:
        """The Starlette app of the fake Open API."""
        return Starlette(
            routes=[
                Route("/open-apis/auth/v3/tenant_access_token/internal", self._token, methods=["POST"]),
                Route("/open-apis/authen/v2/oauth/token", self._user_token, methods=["POST"]),
                Route("/open-apis/authen/v1/user_info", self._user_info, methods=["GET"]),
                Route("/open-apis/im/v1/messages", self._create, methods=["POST"]),
                Route("/open-apis/im/v1/images", self._image, methods=["POST"]),
                Route("/open-apis/im/v1/messages/{message_id}/reply", self._reply, methods=["POST"]),
                Route("/open-apis/im/v1/messages/{message_id}", self._patch, methods=["PATCH", "PUT"]),
                *self.long.routes(),
            ]
        )

    async def _token(self, request: Request) -> JSONResponse:
        """tenant_access_token/internal: a token for the right app id and secret."""
        body = await request.json()
        with self.lock:
            self.calls.append({"path": request.url.path, "body": body})
        if body.get("app_id") != APP_ID or body.get("app_secret") != APP_SECRET:
            return JSONResponse({"code": 10014, "msg": "app secret invalid"})
        return JSONResponse({"code": 0, "msg": "ok", "tenant_access_token": TOKEN, "expire": 7200})

    async def _user_token(self, request: Request) -> JSONResponse:
        """The web login's token step (authen/v2/oauth/token, JSON): the app's id and secret and a code `code-OPENID`
        give a user access token for OPENID (the shape of Feishu's recorded answer)."""
        body = await request.json()
        with self.lock:
            self.calls.append({"path": request.url.path, "body": body})
        if body.get("client_id") != APP_ID or body.get("client_secret") != APP_SECRET:
            return JSONResponse({"code": 20002, "error": "invalid_client",
                                 "error_description": "client secret invalid"},
                                status_code=400)
        code = str(body.get("code", ""))
        if body.get("grant_type") != "authorization_code" or not code.startswith("code-"):
            return JSONResponse({"code": 20003, "error": "invalid_grant", "error_description": "code not found"},
                                status_code=400)
        return JSONResponse({"code": 0, "access_token": "u-" + code.removeprefix("code-"), "expires_in": 7200,
                             "refresh_token": "ur-x", "refresh_token_expires_in": 604800, "token_type": "Bearer",
                             "scope": ""})

    async def _user_info(self, request: Request) -> JSONResponse:
        """authen/v1/user_info for a user access token `u-OPENID` (the shape of Feishu's recorded answer)."""
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if not token.startswith("u-"):
            return JSONResponse({"code": 99991668, "msg": "Invalid access token"}, status_code=401)
        open_id = token.removeprefix("u-")
        return JSONResponse({"code": 0, "msg": "success", "data": {
            "name": "某人", "en_name": "Someone", "avatar_url": "https://example.com/a.png", "open_id": open_id,
            "union_id": "on_" + open_id[3:], "tenant_key": TENANT_KEY, "user_id": "u1"}})

    def _gate(self, request: Request, body: dict[str, Any]) -> JSONResponse | None:
        """Record the call; refuse bad tokens, oversized cards and injected failures as Feishu would."""
        with self.lock:
            self.calls.append({"method": request.method, "path": request.url.path, "query": dict(request.query_params), "body": body})
            if request.headers.get("authorization") != f"Bearer {TOKEN}":
                return JSONResponse({"code": 99991663, "msg": "Invalid access token for authorization"}, status_code=400)
            if self.failures:
                kind = self.failures.pop(0)
                if kind == "http429":
                    return JSONResponse({"msg": "too many requests"}, status_code=429)
                return JSONResponse({"code": RATE_LIMITED, "msg": "request trigger frequency limit"}, status_code=400)
        content = body.get("content") or ""
        if body.get("msg_type") == "interactive" or request.method == "PATCH":
            if len(content.encode()) > MAX_CARD_BYTES:
                return JSONResponse({"code": CARD_TOO_BIG, "msg": "card content exceeds 30KB"}, status_code=400)
            json.loads(content)  # a card that is not JSON is a bug in the bot: fail loudly
        return None

    def _store(self, *, kind: str, body: dict[str, Any], **extra: Any) -> JSONResponse:
        """Keep a sent message once per uuid, as Feishu does."""
        with self.lock:
            key = body.get("uuid")
            if key and key in self._by_uuid:  # Feishu: the same uuid within an hour sends once
                message_id = self._by_uuid[key]
            else:
                message_id = f"om_{len(self.messages) + 1:06d}"
                if key:
                    self._by_uuid[key] = message_id
                self.messages[message_id] = {
                    "message_id": message_id,
                    "kind": kind,
                    "msg_type": body.get("msg_type"),
                    "content": body.get("content"),
                    "uuid": key,
                    "updates": [],
                    **extra,
                }
        return JSONResponse({"code": 0, "msg": "success", "data": {"message_id": message_id, "msg_type": body.get("msg_type")}})

    async def _image(self, request: Request) -> JSONResponse:
        """im/v1/images: keep an uploaded image (the multipart body as sent) and hand back its key."""
        body = await request.body()
        if b"image_type" not in body or b"\x89PNG" not in body:
            return JSONResponse({"code": 234001, "msg": "invalid image"}, status_code=400)
        with self.lock:
            key = f"img_v2_{len(self.images) + 1:04d}"
            self.images[key] = body
        return JSONResponse({"code": 0, "msg": "success", "data": {"image_key": key}})

    async def _create(self, request: Request) -> JSONResponse:
        """im/v1/messages: send a message."""
        body = await request.json()
        refused = self._gate(request, body)
        if refused is not None:
            return refused
        return self._store(
            kind="create", body=body, receive_id=body.get("receive_id"), receive_id_type=request.query_params.get("receive_id_type")
        )

    async def _reply(self, request: Request) -> JSONResponse:
        """im/v1/messages/{id}/reply: reply to a message."""
        body = await request.json()
        refused = self._gate(request, body)
        if refused is not None:
            return refused
        while self.stall_replies == "before":  # the sender waits; nothing is kept
            await asyncio.sleep(0.05)
        stored = self._store(
            kind="reply", body=body, reply_to=request.path_params["message_id"], reply_in_thread=bool(body.get("reply_in_thread"))
        )
        while self.stall_replies == "after":  # kept, but the sender never hears so
            await asyncio.sleep(0.05)
        return stored

    async def _patch(self, request: Request) -> JSONResponse:
        """im/v1/messages/{id} (PATCH): update a sent card."""
        body = await request.json()
        refused = self._gate(request, body)
        if refused is not None:
            return refused
        with self.lock:
            message = self.messages.get(request.path_params["message_id"])
            if message is None:
                return JSONResponse({"code": 230001, "msg": "message not found"}, status_code=400)
            message["updates"].append(body.get("content"))
        return JSONResponse({"code": 0, "msg": "success", "data": {}})
