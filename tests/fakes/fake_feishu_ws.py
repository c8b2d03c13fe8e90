"""Feishu's long-connection endpoint for lark.ws.Client: the endpoint POST, then protobuf frames over a WebSocket."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from lark_oapi.ws.enum import FrameType
from lark_oapi.ws.pb.pbbp2_pb2 import Frame
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

APP_SECRET_INVALID = 10014  # what Feishu answers an app id with the wrong secret
SYSTEM_BUSY = 1
SERVICE_ID = 7


def data_frame(*, kind: str, payload: bytes, message_id: str, seq: int = 0, total: int = 1) -> Frame:
    """A DATA frame as Feishu pushes it: headers type, message_id, sum, seq, trace_id; the event JSON as payload."""
    frame = Frame()
    for key, value in {"type": kind, "message_id": message_id, "sum": str(total), "seq": str(seq),
                       "trace_id": "tr-" + message_id}.items():
        header = frame.headers.add()
        header.key, header.value = key, value
    frame.method = FrameType.DATA.value
    frame.SeqID, frame.LogID, frame.service = seq, 1, SERVICE_ID
    frame.payload = payload
    return frame


def control_frame(*, kind: str, payload: bytes = b"") -> Frame:
    """A CONTROL frame (ping or pong)."""
    frame = Frame()
    header = frame.headers.add()
    header.key, header.value = "type", kind
    frame.method = FrameType.CONTROL.value
    frame.SeqID, frame.LogID, frame.service = 0, 0, SERVICE_ID
    frame.payload = payload
    return frame


def header_of(frame: Frame, key: str) -> str | None:
    """A frame header's value, None when absent."""
    return next((h.value for h in frame.headers if h.key == key), None)


@dataclass
class FakeLongConnection:
    """The long-connection side of the fake Feishu: who connected, the frames pushed, the answers the client gave.

    `refuse` makes the endpoint POST fail: "secret" (checked anyway: a wrong AppSecret gets code 10014),
    "busy" (code 1, system busy) or "down" (HTTP 503); set it back to None and the next try connects.
    """

    app_id: str
    app_secret: str
    base_url: str = ""
    refuse: str | None = None
    endpoint_calls: int = 0
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    pings: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    _sockets: list[WebSocket] = field(default_factory=list)
    _loop: asyncio.AbstractEventLoop | None = None
    _answered: threading.Condition = field(default_factory=threading.Condition)

    def routes(self) -> list[BaseRoute]:
        """The endpoint POST and the WebSocket, to add to the fake Open API's app."""
        return [Route("/callback/ws/endpoint", self._endpoint, methods=["POST"]), WebSocketRoute("/ws", self._socket)]

    # -- test helpers

    def connections(self) -> int:
        """Sockets open right now."""
        with self.lock:
            return len(self._sockets)

    def wait_connected(self, *, count: int = 1, timeout: float = 20.0) -> None:
        """Wait until `count` clients hold a socket."""
        deadline = time.monotonic() + timeout
        while self.connections() < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"no long connection after {timeout}s ({self.endpoint_calls} endpoint calls)")
            time.sleep(0.02)

    def push(self, payload: dict[str, Any] | bytes, *, kind: str = "event", message_id: str | None = None,
             parts: int = 1) -> str:
        """Push one event (kind "event") or card callback (kind "card") to the connected client; its frame's id.

        `parts` splits the payload over that many frames (sum/seq), as Feishu does with large ones."""
        body = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()
        message_id = message_id or f"ws-{uuid.uuid4().hex[:12]}"
        size = -(-len(body) // parts)
        frames = [data_frame(kind=kind, payload=body[n * size:(n + 1) * size], message_id=message_id, seq=n,
                             total=parts) for n in range(parts)]
        with self.lock:
            sockets, loop = list(self._sockets), self._loop
        if not sockets or loop is None:
            raise AssertionError("no client is connected to the long connection")
        for frame in frames:
            asyncio.run_coroutine_threadsafe(sockets[-1].send_bytes(frame.SerializeToString()), loop).result(5)
        return message_id

    def answer_to(self, message_id: str, *, timeout: float = 15.0) -> dict[str, Any]:
        """The payload of the client's answer frame to one push (`code`, maybe `data`); waits for it."""
        with self._answered:
            if not self._answered.wait_for(lambda: message_id in self.answers, timeout=timeout):
                raise AssertionError(f"the client never answered frame {message_id}")
            return self.answers[message_id]

    def deliver(self, payload: dict[str, Any], *, kind: str = "event", tries: int = 3) -> list[dict[str, Any]]:
        """Push as Feishu does: an answer other than code 200 is pushed again (up to `tries`); every answer, in order."""
        answers: list[dict[str, Any]] = []
        for _ in range(tries):
            answers.append(self.answer_to(self.push(payload, kind=kind)))
            if answers[-1].get("code") == 200:
                break
        return answers

    def answered(self, message_id: str) -> dict[str, Any] | None:
        """The answer to one push if there is one yet."""
        with self._answered:
            return self.answers.get(message_id)

    def drop(self) -> None:
        """Close every socket from the server side, as when Feishu's gateway goes away."""
        with self.lock:
            sockets, loop = list(self._sockets), self._loop
        for socket in sockets:
            if loop is not None:
                asyncio.run_coroutine_threadsafe(socket.close(code=1001), loop).result(5)

    # -- the protocol

    async def _endpoint(self, request: Request) -> JSONResponse:
        """POST /callback/ws/endpoint: the socket's URL and the client's config, for the right AppID and AppSecret."""
        body = await request.json()
        with self.lock:
            self.endpoint_calls += 1
            refuse = self.refuse
        if refuse == "down":
            return JSONResponse({"code": 503, "msg": "service unavailable"}, status_code=503)
        if refuse == "busy":
            return JSONResponse({"code": SYSTEM_BUSY, "msg": "system busy"})
        if body.get("AppID") != self.app_id or body.get("AppSecret") != self.app_secret:
            return JSONResponse({"code": APP_SECRET_INVALID, "msg": "app secret invalid"})
        ws_url = self.base_url.replace("http://", "ws://") + f"/ws?device_id=dev-{uuid.uuid4().hex[:8]}&service_id={SERVICE_ID}"
        config = {"ReconnectCount": -1, "ReconnectInterval": 1, "ReconnectNonce": 0, "PingInterval": 120}
        return JSONResponse({"code": 0, "msg": "ok", "data": {"URL": ws_url, "ClientConfig": config}})

    async def _socket(self, socket: WebSocket) -> None:
        """One client's socket: pings answered with pongs, answer frames recorded by message id."""
        await socket.accept()
        with self.lock:
            self._sockets.append(socket)
            self._loop = asyncio.get_running_loop()
        try:
            while True:
                frame = Frame()
                frame.ParseFromString(await socket.receive_bytes())
                if frame.method == FrameType.CONTROL.value:
                    with self.lock:
                        self.pings += 1
                    await socket.send_bytes(control_frame(kind="pong").SerializeToString())
                    continue
                answer = json.loads(frame.payload)
                with self._answered:
                    self.answers[header_of(frame, "message_id") or ""] = answer
                    self._answered.notify_all()
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            with self.lock:
                if socket in self._sockets:
                    self._sockets.remove(socket)
