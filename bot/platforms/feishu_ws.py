"""Feishu's long connection: lark.ws.Client in a thread of its own, connected with backoff, drained before it closes.

Wrong credentials and a Feishu that can't be reached are told apart at the endpoint POST: an answer with an error
code (lark-oapi's ClientException: the app id or secret refused) will not get better by trying again, so the start
fails; no answer, a 5xx or "system busy" is transient, so the connection is tried again with backoff until it opens.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import lark_oapi as lark
import requests
import tenacity
from lark_oapi.core.json import JSON
from lark_oapi.ws.const import (
    GEN_ENDPOINT_URI,
    HEADER_BIZ_RT,
    HEADER_MESSAGE_ID,
    HEADER_SEQ,
    HEADER_SUM,
    HEADER_TYPE,
    INTERNAL_ERROR,
    OK,
    SYSTEM_BUSY,
)
from lark_oapi.ws.exception import ClientException, ServerException
from lark_oapi.ws.model import EndpointResp
from lark_oapi.ws.model import Response as WsResponse

from bot.core.redact import plain_quote

log = logging.getLogger(__name__)

ENDPOINT_TIMEOUT = 10.0  # seconds for the endpoint POST (lark-oapi sets none: a silent network would hang the start)
BACKOFF_MAX = 60.0
FRAME_KINDS = ("event", "card")

Route = Callable[[bytes], Awaitable[tuple[int, Any]]]


class CredentialsRefused(ClientException):
    """The endpoint answered FEISHU_APP_ID / FEISHU_APP_SECRET with an error code: trying again will not help."""


class Stopped(Exception):  # noqa: N818 - a signal, not an error
    """stop() came while the connection was still being tried."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """How the first try to connect ended: connected, refused (with Feishu's code and words), or still trying."""

    connected: bool
    refused: CredentialsRefused | None = None
    last_error: str | None = None


def _header(frame: Any, key: str) -> str | None:
    """A frame header's value, None when absent."""
    return next((h.value for h in frame.headers if h.key == key), None)


def client_class() -> type:
    """lark.ws.Client whose DATA frames (events and CARD callbacks alike) go to krbot's route off the loop, whose
    endpoint POST has a timeout and says which failures are the credentials, and whose reconnects back off."""

    class KrbotWsClient(lark.ws.Client):  # type: ignore[misc,name-defined]
        connection: LongConnection | None = None

        def _get_conn_url(self) -> str:
            """lark-oapi's endpoint POST, with a timeout; an error code in the answer is CredentialsRefused."""
            response = requests.post(
                self._domain + GEN_ENDPOINT_URI, json={"AppID": self._app_id, "AppSecret": self._app_secret},
                headers={**self._headers, "locale": "zh", "User-Agent": self._user_agent}, timeout=ENDPOINT_TIMEOUT,
            )
            if response.status_code != 200:
                raise ServerException(response.status_code, f"HTTP {response.status_code}")
            answer = JSON.unmarshal(response.content.decode("utf-8"), EndpointResp)
            if answer.code in (SYSTEM_BUSY, INTERNAL_ERROR):
                raise ServerException(answer.code, answer.msg or "system busy")
            if answer.code != OK or answer.data is None or not answer.data.URL:
                raise CredentialsRefused(answer.code if answer.code is not None else -1, answer.msg or "")
            if answer.data.ClientConfig is not None:
                self._configure(answer.data.ClientConfig)
            return str(answer.data.URL)

        async def _receive_message_loop(self) -> None:
            """lark-oapi's receive loop, remembered so that stop_intake can end it."""
            if self.connection is not None:
                self.connection.receiver = asyncio.current_task()
            await super()._receive_message_loop()

        async def _reconnect(self) -> None:
            """After a drop: connect again with krbot's backoff (lark-oapi's own waits minutes between tries)."""
            if self.connection is not None:
                await self.connection.reconnect()

        async def _handle_data_frame(self, frame: Any) -> None:
            """An event or card callback: routed, then answered on its frame; after stop_intake, left unanswered."""
            connection = self.connection
            if connection is None or connection.closing or _header(frame, HEADER_TYPE) not in FRAME_KINDS:
                return  # unanswered: Feishu pushes it again (to the next connection)
            payload = frame.payload
            total = int(_header(frame, HEADER_SUM) or 1)
            if total > 1:
                payload = self._combine(_header(frame, HEADER_MESSAGE_ID), total, int(_header(frame, HEADER_SEQ) or 0),
                                        payload)
                if payload is None:
                    return
            if not connection.take():
                return
            try:
                started = time.monotonic()
                try:
                    code, result = await connection.route(payload)
                except Exception:  # the route answers its own failures; this is a bug: say 500 so Feishu retries
                    log.exception("feishu frame failed")
                    code, result = 500, None
                answer = WsResponse(code=code)
                if result is not None:
                    answer.data = base64.b64encode(JSON.marshal(result).encode("utf-8"))
                timing = frame.headers.add()
                timing.key, timing.value = HEADER_BIZ_RT, str(int((time.monotonic() - started) * 1000))
                frame.payload = JSON.marshal(answer).encode("utf-8")
                await self._write_message(frame.SerializeToString())
            finally:
                connection.end()

    return KrbotWsClient


class LongConnection:
    """One lark.ws.Client, its thread and loop: start() connects with backoff, stop() drains then closes."""

    def __init__(
        self, *, app_id: str, app_secret: str, domain: str, dispatcher: Any, route: Route, backoff: float = 0.5
    ) -> None:
        self.app_id, self.app_secret, self.domain = app_id, app_secret, domain
        self.dispatcher, self.route, self.backoff = dispatcher, route, backoff
        self.client: Any = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None
        self.receiver: asyncio.Task[Any] | None = None
        self.closing = False
        self.refused: CredentialsRefused | None = None
        self.last_error: str | None = None
        self._in_flight = 0
        self._idle = threading.Condition()
        self._first = threading.Event()
        self._stop: asyncio.Event | None = None
        self._ping: asyncio.Task[Any] | None = None

    # ------------------------------------------------------------ from the caller's thread

    def start(self, *, wait: float) -> Outcome:
        """Open the connection in its own thread; wait up to `wait` seconds for the first outcome."""
        self.thread = threading.Thread(target=self._run, name="feishu-ws", daemon=True)
        self.thread.start()
        self._first.wait(timeout=wait)
        return Outcome(connected=self.connected(), refused=self.refused, last_error=self.last_error)

    def connected(self) -> bool:
        """True while the socket is open and taking frames."""
        alive = self.thread is not None and self.thread.is_alive()
        return bool(alive and not self.closing and self.client is not None and self.client._conn is not None)

    def stop_intake(self) -> None:
        """Take no new frame (those that come stay unanswered, so Feishu pushes them again); end the receive loop."""
        with self._idle:
            self.closing = True
        loop, receiver = self.loop, self.receiver
        if loop is not None and receiver is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(receiver.cancel)
            except RuntimeError:  # the loop closed meanwhile
                pass

    def drain(self, *, timeout: float) -> bool:
        """Wait until every frame taken is answered, at most `timeout` seconds; True when none is left."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout=timeout)

    def stop(self, *, timeout: float) -> bool:
        """Stop intake, drain (bounded), then close the socket and end the thread; True when nothing was cut off."""
        self.stop_intake()
        drained = self.drain(timeout=timeout)
        if not drained:
            log.warning("feishu long connection closed with %d frame(s) unanswered: Feishu pushes them again",
                        self._in_flight)
        loop, stop = self.loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(stop.set)
            except RuntimeError:
                pass
        if self.thread is not None:
            self.thread.join(timeout=5)
        return drained

    # ------------------------------------------------------------ frames in flight (the loop's thread)

    def take(self) -> bool:
        """Count a frame as taken, unless intake has stopped (then False: it is left unanswered)."""
        with self._idle:
            if self.closing:
                return False
            self._in_flight += 1
            return True

    def end(self) -> None:
        """A frame was answered (or could not be)."""
        with self._idle:
            self._in_flight -= 1
            self._idle.notify_all()

    # ------------------------------------------------------------ the connection's own thread and loop

    def _run(self) -> None:
        """A fresh loop, installed where lark_oapi.ws.client keeps its module-level one; the client served on it."""
        import lark_oapi.ws.client as ws_module

        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        ws_module.loop = loop
        self.loop = loop
        try:
            self.client = client_class()(self.app_id, self.app_secret, event_handler=self.dispatcher,
                                         domain=self.domain, log_level=lark.LogLevel.WARNING)
            self.client.connection = self
            loop.run_until_complete(self._serve())
        except Exception:
            log.exception("feishu long connection failed")
        finally:
            self._first.set()
            for task in asyncio.all_tasks(loop):
                task.cancel()
            try:
                loop.run_until_complete(asyncio.sleep(0))
            except RuntimeError:
                pass
            loop.close()

    async def _serve(self) -> None:
        """Connect (with backoff), ping, and hold the connection until stop(); then close the socket."""
        self._stop = asyncio.Event()
        try:
            opened = await self._open(again=False)
        finally:
            self._first.set()
        if not opened:
            return
        self._ping = asyncio.get_running_loop().create_task(self.client._ping_loop())
        await self._stop.wait()
        self._ping.cancel()
        if self.receiver is not None:
            self.receiver.cancel()
        await self.client._disconnect()

    async def _sleep(self, seconds: float) -> None:
        """The backoff's wait, cut short by stop()."""
        assert self._stop is not None
        try:
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)
        except TimeoutError:
            pass

    async def _connect(self) -> None:
        """Try until connected: transient failures back off (exponential, jittered, at most a minute apart)."""

        def note(state: tenacity.RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            self.last_error = f"{type(error).__name__}: {error}"
            log.warning("feishu long connection: %s unreachable (%s); trying again in %.1fs", self.domain,
                        self.last_error, state.upcoming_sleep)

        retrying = tenacity.AsyncRetrying(
            retry=tenacity.retry_if_not_exception_type((CredentialsRefused, Stopped)),
            wait=tenacity.wait_exponential_jitter(multiplier=self.backoff, max=BACKOFF_MAX, jitter=self.backoff),
            sleep=self._sleep, before_sleep=note, reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                if self.closing or (self._stop is not None and self._stop.is_set()):
                    raise Stopped()
                await self.client._connect()
        self.last_error = None
        log.info("feishu long connection open")

    async def reconnect(self) -> None:
        """After Feishu dropped the socket: connect again, unless stopping; refused credentials end the tries."""
        await self._open(again=True)

    async def _open(self, *, again: bool) -> bool:
        """Connect (with backoff) unless stopping: True once open. Refused credentials end the tries (kept in `refused`;
        start() names them, a reconnection logs them)."""
        if self.closing:
            return False
        try:
            await self._connect()
        except Stopped:
            return False
        except CredentialsRefused as refused:
            self.refused = refused
            if again:
                log.error("feishu refused the long connection on reconnect: %s", describe(refused))
            return False
        return True


class UnknownTypes:
    """Event types krbot does not read, each logged the first time it comes (then acknowledged quietly)."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def note(self, *, event_type: str) -> None:
        """Log an event type krbot does not read, once per type and process."""
        with self._lock:
            if event_type in self._seen:
                return
            self._seen.add(event_type)
        log.info("feishu event type %s is not one krbot reads: acknowledged and ignored (logged once)",
                 plain_quote(text=event_type, limit=80))


def describe(refused: ClientException) -> str:
    """Feishu's code and words for a refusal, quoted plainly."""
    return f"code {refused.code}: {plain_quote(text=str(refused.args[0] if refused.args else ''), limit=120)}"


def frame_text(payload: bytes) -> dict[str, Any] | None:
    """A frame's JSON object, None when it is not one."""
    try:
        plain = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    return plain if isinstance(plain, dict) else None
