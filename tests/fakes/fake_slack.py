"""A local stand-in for Slack: the Web API the real WebClient talks to, response URLs, and Slack's way of signing requests."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from tests.fakes.served import Served, free_port, serve  # noqa: F401 - re-exported for the tests

SIGNING_SECRET = "fake-signing-secret-0123456789abcdef"
BOT_TOKEN = "xoxb-fake-bot-token"
TEAM_ID = "T0KRBOT001"
BOT_USER = "U0KRBOTBOT"
MAX_BLOCKS = 50
MAX_SECTION = 3000
CLIENT_ID = "1111.2222"
CLIENT_SECRET = "fake-client-secret"
FROZEN_AT = datetime(2026, 11, 19, 12, 0, tzinfo=UTC)


def installed_token(*, team: str) -> str:
    """The bot token the fake hands out when krbot is installed in `team`."""
    return f"xoxb-{team}-installed-token"


def frozen_now() -> datetime:
    """A fixed clock inside the example's cycle (module-level, so the Slack worker process can be handed it too)."""
    return FROZEN_AT


@dataclass
class Call:
    """One request the bot made to the fake Slack: the Web API method (or `response_url`) and its arguments."""

    method: str
    args: dict[str, Any]
    at: float
    status: int = 200
    token: str = ""


@dataclass
class FakeSlack:
    """Records every call; answers like Slack (including Block Kit limit errors); can answer 429 with Retry-After."""

    calls: list[Call] = field(default_factory=list)
    throttled: dict[str, list[int]] = field(default_factory=dict)
    uploads: dict[str, bytes] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    served: Served | None = None
    sockets: list[WebSocket] = field(default_factory=list)
    loop: asyncio.AbstractEventLoop | None = None
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    failing: list[tuple[str, bool | None]] = field(default_factory=list)
    hold_after: tuple[str, threading.Event, threading.Event] | None = None
    holding: dict[str, threading.Event] = field(default_factory=dict)  # method -> released: its calls wait (recorded)
    pushed: dict[str, dict[str, Any]] = field(default_factory=dict)  # Socket Mode envelopes sent, by envelope id
    _ts: int = 0

    @property
    def url(self) -> str:
        """The base URL of the fake (the Web API is under /api/)."""
        assert self.served is not None
        return self.served.url

    @property
    def api_url(self) -> str:
        """What SLACK_API_URL should be."""
        return self.url + "/api/"

    def response_url(self, *, name: str) -> str:
        """A response_url for a slash command or an interaction."""
        return f"{self.url}/respond/{name}"

    def throttle(self, *, method: str, times: int, retry_after: int = 1) -> None:
        """Answer the next `times` calls of `method` with 429 and a Retry-After of `retry_after` seconds."""
        self.throttled[method] = [retry_after] * times

    def fail(self, *, method: str, times: int = 1, in_thread: bool | None = None) -> None:
        """Answer the next `times` calls of `method` (only thread replies, or only top-level posts, when
        `in_thread` says so) with HTTP 500 and nothing stored."""
        self.failing.extend([(method, in_thread)] * times)

    def hold_after_storing(self, *, event_type: str) -> tuple[threading.Event, threading.Event]:
        """Store the next top-level post carrying `event_type` metadata, then hold its answer: (stored, release)."""
        stored, release = threading.Event(), threading.Event()
        self.hold_after = (event_type, stored, release)
        return stored, release

    def hold(self, *, method: str) -> threading.Event:
        """Record every call of `method` from now on, and hold its answer until the returned event is set."""
        release = threading.Event()
        self.holding[method] = release
        return release

    def posts(self, *, channel: str, event_type: str | None = None) -> list[dict[str, Any]]:
        """The messages stored in a channel (top-level and thread replies), optionally only those with that metadata."""
        with self.lock:
            found = list(self.messages.get(channel, []))
        return [m for m in found if event_type is None or (m.get("metadata") or {}).get("event_type") == event_type]

    def _failing_now(self, method: str, args: dict[str, Any]) -> bool:
        in_thread = bool(args.get("thread_ts"))
        with self.lock:
            for n, (name, only) in enumerate(self.failing):
                if name == method and (only is None or only == in_thread):
                    del self.failing[n]
                    return True
        return False

    def _store(self, *, args: dict[str, Any], ts: str) -> dict[str, Any]:
        """Keep a posted message as Slack does: text, blocks, thread and metadata, answerable by history and replies."""
        metadata = args.get("metadata")
        if isinstance(metadata, str):
            metadata = json.loads(metadata)
        message = {"ts": ts, "text": args.get("text"), "blocks": args.get("blocks"), "user": BOT_USER,
                   **({"thread_ts": args["thread_ts"]} if args.get("thread_ts") else {}),
                   **({"metadata": metadata} if metadata else {})}
        with self.lock:
            self.messages.setdefault(str(args.get("channel")), []).append(message)
        return message

    def _history(self, *, args: dict[str, Any]) -> JSONResponse:
        """conversations.history (top-level messages, newest first) or .replies (a thread, oldest first);
        metadata only with include_all_metadata, as Slack answers."""
        with self.lock:
            stored = list(self.messages.get(str(args.get("channel")), []))
        thread = args.get("ts")
        if thread:
            found = [m for m in stored if m["ts"] == thread or m.get("thread_ts") == thread]
        else:
            found = [m for m in reversed(stored) if not m.get("thread_ts")]
        with_metadata = str(args.get("include_all_metadata", "")).lower() in ("1", "true")
        found = [m if with_metadata else {k: v for k, v in m.items() if k != "metadata"} for m in found]
        return JSONResponse({"ok": True, "messages": found[: int(args.get("limit") or 100)], "has_more": False})

    def of(self, method: str) -> list[Call]:
        """The successful calls of one method, in order."""
        with self.lock:
            return [c for c in self.calls if c.method == method and c.status == 200]

    def wait_for(self, method: str, *, count: int = 1, timeout: float = 10.0) -> list[Call]:
        """Wait until `count` successful calls of `method` arrived (follow-ups run after the ack)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.of(method)
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(f"expected {count} call(s) of {method}, got {len(self.of(method))}: {[c.method for c in self.calls]}")

    def _next_ts(self) -> str:
        """A fresh message timestamp."""
        with self.lock:
            self._ts += 1
            return f"1790000000.{self._ts:06d}"

    def _record(self, method: str, args: dict[str, Any], status: int = 200, token: str = "") -> None:
        """Remember one call (and the token it was made with)."""
        with self.lock:
            self.calls.append(Call(method=method, args=args, at=time.monotonic(), status=status, token=token))

    async def _api(self, request: Request) -> JSONResponse:
        """One Web API method, answered as Slack would."""
        method = request.path_params["method"]
        raw = await request.body()
        if request.headers.get("content-type", "").startswith("application/json"):
            args = json.loads(raw or b"{}")
        else:
            args = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            for key in ("blocks", "view"):
                if isinstance(args.get(key), str):
                    args[key] = json.loads(args[key])
        args.update(request.query_params)  # GET methods (conversations.history) carry their arguments in the URL
        waits = self.throttled.get(method)
        if waits:
            retry_after = waits.pop(0)
            self._record(method, args, status=429)
            return JSONResponse({"ok": False, "error": "ratelimited"}, status_code=429, headers={"Retry-After": str(retry_after)})
        if self._failing_now(method, args):
            self._record(method, args, status=500)
            return JSONResponse({"ok": False, "error": "internal_error"}, status_code=500)
        if method == "oauth.v2.access":
            return self._oauth_access(args=args, authorization=request.headers.get("authorization", ""))
        if not request.headers.get("authorization", "").startswith("Bearer "):
            return JSONResponse({"ok": False, "error": "not_authed"})
        token = request.headers["authorization"].removeprefix("Bearer ")
        problem = _block_problem(args)
        if problem:
            self._record(method, args, status=400, token=token)
            return JSONResponse({"ok": False, "error": problem})
        self._record(method, args, token=token)
        released = self.holding.get(method)
        while released is not None and not released.is_set():
            await asyncio.sleep(0.02)
        if method == "apps.connections.open" and not token.startswith("xapp-fake"):  # as Slack answers a wrong token
            return JSONResponse({"ok": False, "error": "not_allowed_token_type" if token.startswith("xoxb-") else "invalid_auth"})
        if method == "apps.connections.open":
            return JSONResponse({"ok": True, "url": self.url.replace("http://", "ws://") + "/socket"})
        if method == "auth.test":
            return JSONResponse({"ok": True, "team_id": TEAM_ID, "team": "krbot", "user_id": BOT_USER, "user": "krbot",
                                 "bot_id": "B0KRBOT001", "url": "https://krbot.slack.com/"})
        if method == "conversations.open":
            return JSONResponse({"ok": True, "channel": {"id": "D" + str(args.get("users", ""))[1:]}})
        if method in ("conversations.history", "conversations.replies"):
            return self._history(args=args)
        if method == "chat.postMessage":
            message = self._store(args=args, ts=self._next_ts())
            held = self.hold_after
            if held and not message.get("thread_ts") and (message.get("metadata") or {}).get("event_type") == held[0]:
                self.hold_after = None
                held[1].set()
                while not held[2].is_set():
                    await asyncio.sleep(0.02)
            return JSONResponse({"ok": True, "channel": args.get("channel"), "ts": message["ts"], "message": message})
        if method == "chat.update":
            ts = args.get("ts") or self._next_ts()
            return JSONResponse({"ok": True, "channel": args.get("channel"), "ts": ts, "message": {"ts": ts, "text": args.get("text")}})
        if method == "files.getUploadURLExternal":
            file_id = f"F0FAKE{len(self.uploads) + 1:04d}"
            return JSONResponse({"ok": True, "upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id})
        if method == "files.completeUploadExternal":
            return JSONResponse({"ok": True, "files": [{"id": f["id"]} for f in json.loads(args.get("files", "[]"))]})
        if method.startswith("views."):
            return JSONResponse({"ok": True, "view": {"id": args.get("view_id") or "V0FAKE0001", "hash": "h2"}})
        return JSONResponse({"ok": True})

    def _oauth_access(self, *, args: dict[str, Any], authorization: str) -> JSONResponse:
        """Slack's half of an install: the app's id and secret (HTTP Basic) and a code `code-TEAM` give TEAM's bot token."""
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        code = str(args.get("code", ""))
        if authorization != expected or not code.startswith("code-"):
            self._record("oauth.v2.access", args, status=400)
            return JSONResponse({"ok": False, "error": "invalid_code" if authorization == expected else "invalid_client"})
        self._record("oauth.v2.access", args)
        team = code.removeprefix("code-")
        return JSONResponse({
            "ok": True, "app_id": "A0KRBOT001", "authed_user": {"id": "U0ADMIN001"}, "scope": "commands,chat:write",
            "token_type": "bot", "access_token": installed_token(team=team), "bot_user_id": BOT_USER,
            "team": {"id": team, "name": f"team {team}"}, "enterprise": None, "is_enterprise_install": False,
        })

    async def _upload(self, request: Request) -> PlainTextResponse:
        """The upload URL of files_upload_v2: keep the bytes under their file id."""
        with self.lock:
            self.uploads[request.path_params["file_id"]] = await request.body()
        return PlainTextResponse("OK - uploaded")

    async def _respond(self, request: Request) -> PlainTextResponse:
        """A post to a response_url."""
        args = json.loads(await request.body() or b"{}")
        problem = _block_problem(args)
        self._record("response_url", {**args, "name": request.path_params["name"]}, status=400 if problem else 200)
        return PlainTextResponse(problem or "ok", status_code=400 if problem else 200)

    async def _socket(self, websocket: WebSocket) -> None:
        """Socket Mode: say hello, then record every acknowledgement the app sends back."""
        await websocket.accept()
        self.loop = asyncio.get_running_loop()
        self.sockets.append(websocket)
        await websocket.send_text(json.dumps({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0KRBOT001"},
                                              "debug_info": {"host": "fake", "approximate_connection_time": 3600}}))
        try:
            while True:
                self._record("socket_ack", json.loads(await websocket.receive_text()))
        except WebSocketDisconnect:
            pass
        finally:
            self.sockets.remove(websocket)

    def push(self, *, envelope: dict[str, Any]) -> None:
        """Send one Socket Mode envelope to the connected app."""
        assert self.loop is not None and self.sockets, "no Socket Mode connection"
        with self.lock:
            self.pushed[envelope["envelope_id"]] = envelope
        sent = asyncio.run_coroutine_threadsafe(self.sockets[-1].send_text(json.dumps(envelope, ensure_ascii=False)), self.loop)
        sent.result(timeout=5)

    def acks(self) -> dict[str, dict[str, Any]]:
        """The Socket Mode acks received, by envelope id (the first of each)."""
        found: dict[str, dict[str, Any]] = {}
        for call in self.of("socket_ack"):
            found.setdefault(str(call.args.get("envelope_id")), call.args)
        return found

    def unacked(self) -> list[dict[str, Any]]:
        """The envelopes sent that no ack answered yet, in the order sent."""
        acked = self.acks()
        with self.lock:
            return [envelope for key, envelope in self.pushed.items() if key not in acked]

    def drop(self) -> int:
        """Close every Socket Mode connection at once, as Slack or the network does (the app connects again)."""
        assert self.loop is not None
        closing = list(self.sockets)
        for websocket in closing:
            asyncio.run_coroutine_threadsafe(websocket.close(code=1011), self.loop).result(timeout=5)
        return len(closing)

    def connected(self, *, timeout: float = 15.0, after: int = 0) -> None:
        """Wait until the app holds a Socket Mode connection (`after`: more than that many were opened in all)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.sockets and len(self.of("apps.connections.open")) > after:
                return
            time.sleep(0.02)
        raise AssertionError("the app did not connect over Socket Mode")

    async def _counts(self, _request: Request) -> JSONResponse:
        """GET /calls: successful calls per method."""
        with self.lock:
            counts: dict[str, int] = {}
            for call in self.calls:
                if call.status == 200:
                    counts[call.method] = counts.get(call.method, 0) + 1
        return JSONResponse(counts)

    def asgi(self) -> Starlette:
        """The fake as an ASGI app: the Web API, response URLs, and GET /calls (successful calls per method)."""
        return Starlette(
            routes=[
                Route("/api/{method}", self._api, methods=["POST", "GET"]),
                Route("/respond/{name}", self._respond, methods=["POST"]),
                Route("/upload/{file_id}", self._upload, methods=["POST"]),
                Route("/calls", self._counts, methods=["GET"]),
                WebSocketRoute("/socket", self._socket),
            ]
        )

    def start(self) -> FakeSlack:
        """Serve the fake on a free local port, in this process."""
        self.served = serve(app=self.asgi())
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self.served is not None:
            self.served.stop()


def _block_problem(args: dict[str, Any]) -> str | None:
    """What Slack would refuse in a message's blocks: more than 50, or a section text over 3,000 characters."""
    blocks = args.get("blocks")
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    if not blocks:
        return None
    if len(blocks) > MAX_BLOCKS:
        return "invalid_blocks"
    for block in blocks:
        text = block.get("text") or {}
        if block.get("type") == "section" and len(text.get("text", "")) > MAX_SECTION:
            return "invalid_blocks"
    return None


# ---------------------------------------------------------------- what Slack does to a request it sends


def signed_headers(*, body: str, secret: str = SIGNING_SECRET, timestamp: int | None = None, content_type: str) -> dict[str, str]:
    """Headers as Slack sends them: X-Slack-Request-Timestamp and the v0 HMAC-SHA256 signature of the body."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(signing_secret=secret).generate_signature(timestamp=stamp, body=body)
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature, "Content-Type": content_type}


def command_body(*, user_id: str, text: str, response_url: str, trigger_id: str, command: str = "/kr") -> str:
    """A slash command's form body, the fields Slack sends."""
    return urlencode(
        {
            "token": "deprecated-verification-token",
            "team_id": TEAM_ID,
            "team_domain": "krbot",
            "channel_id": "C0GENERAL01",
            "channel_name": "general",
            "user_id": user_id,
            "user_name": user_id.lower(),
            "command": command,
            "text": text,
            "api_app_id": "A0KRBOT001",
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger_id,
        }
    )


def interaction_body(payload: dict[str, Any]) -> str:
    """An interactivity request's form body: `payload=` and the JSON, as Slack posts it."""
    return urlencode({"payload": json.dumps(payload, ensure_ascii=False)})


def event_body(*, event: dict[str, Any], event_id: str) -> str:
    """An Events API callback's JSON body."""
    return json.dumps(
        {
            "token": "deprecated-verification-token",
            "team_id": TEAM_ID,
            "api_app_id": "A0KRBOT001",
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER, "is_bot": True}],
        },
        ensure_ascii=False,
    )


@dataclass
class SlackSender:
    """Posts signed requests to the bot's /slack/events over real HTTP, as Slack does."""

    url: str
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=10))
    secret: str = SIGNING_SECRET

    def post(self, *, body: str, content_type: str, timestamp: int | None = None, secret: str | None = None,
             headers: dict[str, str] | None = None) -> httpx.Response:
        """Sign `body` (with another secret or timestamp to forge) and POST it."""
        signed = signed_headers(body=body, secret=secret or self.secret, timestamp=timestamp, content_type=content_type)
        return self.client.post(self.url + "/slack/events", content=body.encode(), headers={**signed, **(headers or {})})

    def command(self, *, user_id: str, text: str, response_url: str, trigger_id: str, **extra: Any) -> httpx.Response:
        """A slash command."""
        body = command_body(user_id=user_id, text=text, response_url=response_url, trigger_id=trigger_id)
        return self.post(body=body, content_type="application/x-www-form-urlencoded", **extra)

    def interaction(self, *, payload: dict[str, Any], **extra: Any) -> httpx.Response:
        """A block_actions or view_submission payload."""
        return self.post(body=interaction_body(payload), content_type="application/x-www-form-urlencoded", **extra)

    def event(self, *, event: dict[str, Any], event_id: str, **extra: Any) -> httpx.Response:
        """An Events API callback."""
        return self.post(body=event_body(event=event, event_id=event_id), content_type="application/json", **extra)

