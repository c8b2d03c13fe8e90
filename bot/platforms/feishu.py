"""The Feishu (Lark) edge: lark-oapi events, card callbacks and messages translated to and from bot.services."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import io
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import lark_oapi as lark
from lark_oapi.api.im.v1 import (
    CreateMessageRequest,
    CreateMessageRequestBody,
    PatchMessageRequest,
    PatchMessageRequestBody,
    ReplyMessageRequest,
    ReplyMessageRequestBody,
)
from lark_oapi.core.utils import AESCipher
from lark_oapi.event.callback.model.p2_card_action_trigger import (
    P2CardActionTrigger,
    P2CardActionTriggerResponse,
)
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot import commands, retrying, services
from bot.charts import matrix_png
from bot.config import Settings
from bot.core import model
from bot.core.digest import Digest
from bot.core.errors import KrbotError
from bot.i18n import error_message, translate
from bot.platforms import feishu_cards as cards
from bot.platforms.base import Reminder, Sent
from bot.render import render_reply
from storage.db import UnitOfWork

log = logging.getLogger(__name__)

PLATFORM = "feishu"
WINDOW_SECONDS = 300
RATE_LIMITED = 99991400
HANDLED = {"im.message.receive_v1", "application.bot.menu_v6", "card.action.trigger"}
_MENTION_KEY = re.compile(r"@_user_\d+|@_all")
_UUID_NAMESPACE = uuid.UUID("5d7c1c0e-8f0a-4c1e-9d55-6b1f3b8a2f10")


class FeishuError(RuntimeError):
    """The Open API refused a call (after retries when it was rate limiting); its HTTP status and wait, when known."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class FeishuSetupError(KrbotError):
    """Feishu can't start with these settings; shown to the operator in both languages."""

    def __str__(self) -> str:
        """The catalog's sentence, in Chinese and in English."""
        return " / ".join(error_message(self, lang=lang) for lang in ("zh", "en"))


def message_uuid(*, key: str) -> str:
    """The deterministic `uuid` Feishu de-duplicates sends by: one idempotency key, one message."""
    return str(uuid.uuid5(_UUID_NAMESPACE, key))


def build(
    *,
    settings: Settings,
    uow: UnitOfWork,
    http: bool,
    clock: Callable[[], datetime] | None = None,
    backoff: float = 0.5,
) -> FeishuPlatform:
    """The Feishu platform from settings; HTTP mode refuses to start without an encrypt key."""
    if not settings.feishu_app_id or not settings.feishu_app_secret:
        raise FeishuSetupError("feishu.no_credentials")
    if http and not settings.feishu_encrypt_key:
        raise FeishuSetupError("feishu.no_encrypt_key")
    return FeishuPlatform(settings=settings, uow=uow, http=http, clock=clock, backoff=backoff)


def _ws_client_class() -> type:
    """lark.ws.Client that also answers card callbacks arriving as CARD frames (the SDK drops them: oapi-sdk-python#126)."""
    import base64
    import http as http_status

    from lark_oapi.core.json import JSON
    from lark_oapi.ws.const import HEADER_MESSAGE_ID, HEADER_SEQ, HEADER_SUM, HEADER_TYPE
    from lark_oapi.ws.enum import MessageType
    from lark_oapi.ws.model import Response as WsResponse

    def header(frame: Any, key: str) -> str | None:
        """A frame header's value, None when absent."""
        return next((h.value for h in frame.headers if h.key == key), None)

    class CardAwareClient(lark.ws.Client):  # type: ignore[misc,name-defined]
        async def _handle_data_frame(self, frame: Any) -> None:
            """CARD frames handled like EVENT frames, the callback's answer sent back in the ACK."""
            if header(frame, HEADER_TYPE) != MessageType.CARD.value:
                await super()._handle_data_frame(frame)
                return
            payload = frame.payload
            if int(header(frame, HEADER_SUM) or 1) > 1:
                payload = self._combine(
                    header(frame, HEADER_MESSAGE_ID), int(header(frame, HEADER_SUM)), int(header(frame, HEADER_SEQ)), payload
                )
                if payload is None:
                    return
            answer = WsResponse(code=http_status.HTTPStatus.OK)
            try:
                result = self._event_handler._do_without_validation(payload)
                if result is not None:
                    answer.data = base64.b64encode(JSON.marshal(result).encode("utf-8"))
            except Exception:
                log.exception("feishu card callback over the long connection failed")
                answer = WsResponse(code=http_status.HTTPStatus.INTERNAL_SERVER_ERROR)
            frame.payload = JSON.marshal(answer).encode("utf-8")
            await self._write_message(frame.SerializeToString())

    return CardAwareClient


class FeishuPlatform:
    """Feishu through lark-oapi: the callback URL or the long connection in, the Open API out."""

    name = PLATFORM
    send_rate = 50.0  # messages per second for one app, shared by every replica through the outbox's gate

    def __init__(
        self,
        *,
        settings: Settings,
        uow: UnitOfWork,
        http: bool,
        clock: Callable[[], datetime] | None = None,
        backoff: float = 0.5,
        workers: int | None = None,
    ) -> None:
        self.settings = settings
        self.uow = uow
        self.http = http
        self.clock = clock or (lambda: datetime.now(UTC))
        self.backoff = backoff
        self.policy = retrying.RetryPolicy(tries=6, backoff=backoff, backoff_max=30.0, rate_limited_waits=5,
                                           every_failure=False)
        self.domain = (settings.feishu_domain or lark.FEISHU_DOMAIN).rstrip("/")
        self.encrypt_key = settings.feishu_encrypt_key or ""
        self.verification_token = settings.feishu_verification_token or ""
        self.client = (
            lark.Client.builder()
            .app_id(settings.feishu_app_id or "")
            .app_secret(settings.feishu_app_secret or "")
            .domain(self.domain)
            .timeout(10)
            .log_level(lark.LogLevel.WARNING)
            .build()
        )
        self.dispatcher = (
            lark.EventDispatcherHandler.builder(self.encrypt_key, self.verification_token, lark.LogLevel.WARNING)
            .register_p2_im_message_receive_v1(self._on_message)
            .register_p2_application_bot_menu_v6(self._on_menu)
            .register_p2_card_action_trigger(self._on_card)
            .build()
        )
        self.pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="feishu-send")
        sqlite = uow.engine.dialect.name == "sqlite"
        self.workers = ThreadPoolExecutor(max_workers=workers or (1 if sqlite else 4), thread_name_prefix="feishu-work")
        # SQLite has one writer: queue this process's writers on a lock (woken at once) rather than on
        # SQLite's busy handler (which sleeps up to 100 ms a try), so a claim never waits long.
        self._writes: Any = threading.Lock() if sqlite else contextlib.nullcontext()
        self._ws_thread: threading.Thread | None = None
        self._ws_loop: asyncio.AbstractEventLoop | None = None
        self._ws_client: Any = None

    # ------------------------------------------------------------ Platform

    def routes(self) -> list[Any]:
        """`POST /feishu/events`: events and card callbacks, checked before lark-oapi sees them."""
        return [Route("/feishu/events", self._endpoint, methods=["POST"])] if self.http else []

    def start(self) -> None:
        """Open the long connection (lark.ws.Client) in its own thread with its own event loop, unless in HTTP mode."""
        if self.http or self._ws_thread is not None:
            return
        self._ws_thread = threading.Thread(target=self._run_ws, name="feishu-ws", daemon=True)
        self._ws_thread.start()

    def stop(self) -> None:
        """Close the long connection and let pending sends finish."""
        thread, deadline = self._ws_thread, time.monotonic() + 5
        while thread is not None and thread.is_alive() and time.monotonic() < deadline:
            loop = self._ws_loop
            if loop is not None and not loop.is_closed():
                try:
                    loop.call_soon_threadsafe(loop.stop)
                except RuntimeError:  # closed meanwhile: the thread is ending
                    pass
            thread.join(timeout=0.1)
        self._ws_thread = None
        self.workers.shutdown(wait=True)
        self.pool.shutdown(wait=True)

    def healthy(self) -> bool:
        """HTTP mode is healthy while serving; the long connection while its socket is open."""
        if self.http:
            return True
        return bool(self._ws_thread and self._ws_thread.is_alive() and getattr(self._ws_client, "_conn", None))

    def send_reminder(self, *, reminder: Reminder, idempotency_key: str) -> Sent:
        """DM the check-in card (a chaser looks different) to the person."""
        if not reminder.person.feishu_id:
            raise FeishuError(f"{reminder.person.key} has no feishu id")
        built = cards.checkin_cards(rows=reminder.rows, lang=reminder.lang, chaser=reminder.chaser)
        ids = self._send_cards(receive_id=reminder.person.feishu_id, id_type="open_id", built=built, key=idempotency_key)
        return Sent(platform=PLATFORM, message_id=ids[0], extra={"message_ids": ids})

    def post_digest(self, *, digest: Digest, channel: str, idempotency_key: str) -> Sent:
        """Post the digest card(s) to the boss chat."""
        built = cards.digest_cards(digest=digest)
        ids = self._send_cards(receive_id=channel, id_type="chat_id", built=built, key=idempotency_key)
        return Sent(platform=PLATFORM, message_id=ids[0], extra={"message_ids": ids})

    def digest_posts(self, *, digest: Digest) -> list[dict[str, Any]]:
        """The digest as cards: conclusions on top of the first, more cards only past the size limit."""
        return cards.digest_cards(digest=digest)

    def send_post(
        self, *, post: dict[str, Any], channel: str, thread: str | None, idempotency_key: str, about: dict[str, str]
    ) -> Sent:
        """Send one digest card to the boss chat under the key's deterministic uuid (Feishu sends it once)."""
        message_id = self.create(receive_id=channel, id_type="chat_id", msg_type="interactive",
                                 content=cards.content_of(post), key=idempotency_key)
        return Sent(platform=PLATFORM, message_id=message_id)

    def find_post(self, *, channel: str, thread: str | None, idempotency_key: str, workspace: str | None = None) -> Sent | None:
        """Nothing to look up: a send again under the same uuid is one message on Feishu."""
        return None

    def notify(self, *, person: model.Person, text: str, idempotency_key: str) -> Sent:
        """A text message to one person."""
        if not person.feishu_id:
            raise FeishuError(f"{person.key} has no feishu id")
        message_id = self.create(
            receive_id=person.feishu_id, id_type="open_id", msg_type="text", content=_text_content(text), key=idempotency_key
        )
        return Sent(platform=PLATFORM, message_id=message_id)

    # ------------------------------------------------------------ Open API (with retries on rate limits)

    def _call(self, what: str, request: Callable[[], Any]) -> Any:
        """One Open API call under krbot's one retry policy: rate limits (code 99991400, HTTP 429) and 5xx are retried."""

        def once() -> Any:
            response = request()
            if response.success():
                return response
            status = response.raw.status_code if response.raw is not None else None
            limited = response.code == RATE_LIMITED or status == 429
            headers = getattr(response.raw, "headers", None) or {}
            reset = headers.get("x-ogw-ratelimit-reset") if hasattr(headers, "get") else None
            raise FeishuError(
                f"feishu {what} failed: code={response.code} status={status} msg={response.msg}",
                status=429 if limited else status, retry_after=float(reset) if limited and reset else None,
            )

        return retrying.call(once, policy=self.policy, platform=PLATFORM)

    def create(self, *, receive_id: str, id_type: str, msg_type: str, content: str, key: str) -> str:
        """Send a message; the uuid from `key` makes a retry a no-op."""
        body = (
            CreateMessageRequestBody.builder()
            .receive_id(receive_id)
            .msg_type(msg_type)
            .content(content)
            .uuid(message_uuid(key=key))
            .build()
        )
        request = CreateMessageRequest.builder().receive_id_type(id_type).request_body(body).build()
        return self._call("create", lambda: self.client.im.v1.message.create(request)).data.message_id

    def upload_image(self, *, png: bytes) -> str:
        """Upload a PNG for messages; its image key."""
        from lark_oapi.api.im.v1 import CreateImageRequest, CreateImageRequestBody

        body = CreateImageRequestBody.builder().image_type("message").image(io.BytesIO(png)).build()
        request = CreateImageRequest.builder().request_body(body).build()
        return self._call("image", lambda: self.client.im.v1.image.create(request)).data.image_key

    def reply(self, *, message_id: str, msg_type: str, content: str, in_thread: bool, key: str) -> str:
        """Reply to a message (in its thread for groups); the uuid from `key` makes a retry a no-op."""
        body = (
            ReplyMessageRequestBody.builder()
            .msg_type(msg_type)
            .content(content)
            .reply_in_thread(in_thread)
            .uuid(message_uuid(key=key))
            .build()
        )
        request = ReplyMessageRequest.builder().message_id(message_id).request_body(body).build()
        return self._call("reply", lambda: self.client.im.v1.message.reply(request)).data.message_id

    def update_card(self, *, message_id: str, card: dict[str, Any]) -> None:
        """Replace a card the bot sent (message patch)."""
        body = PatchMessageRequestBody.builder().content(cards.content_of(card)).build()
        request = PatchMessageRequest.builder().message_id(message_id).request_body(body).build()
        self._call("patch", lambda: self.client.im.v1.message.patch(request))

    def _send_cards(self, *, receive_id: str, id_type: str, built: list[dict[str, Any]], key: str) -> list[str]:
        """Send cards in order, each with its own uuid derived from `key`; their message ids."""
        return [
            self.create(
                receive_id=receive_id, id_type=id_type, msg_type="interactive", content=cards.content_of(card),
                key=key if n == 0 else f"{key}#{n}",
            )
            for n, card in enumerate(built)
        ]

    # ------------------------------------------------------------ HTTP callback

    async def _endpoint(self, request: Request) -> Response:
        """`POST /feishu/events`: 401 unless every check passes, the challenge answered, the rest to lark-oapi."""
        body = await request.body()
        verdict = self._check(body=body, headers=request.headers)
        if verdict is None:
            return JSONResponse({"msg": "unauthorized"}, status_code=401)
        if verdict.get("type") == "url_verification":
            return JSONResponse({"challenge": verdict.get("challenge", "")})
        event_type = (verdict.get("header") or {}).get("event_type")
        if event_type not in HANDLED:
            return JSONResponse({"msg": "ignored"})
        raw = lark.RawRequest()
        raw.uri = request.url.path
        raw.body = body
        raw.headers = {
            "X-Lark-Request-Timestamp": request.headers.get("x-lark-request-timestamp", ""),
            "X-Lark-Request-Nonce": request.headers.get("x-lark-request-nonce", ""),
            "X-Lark-Signature": request.headers.get("x-lark-signature", ""),
            "X-Request-Id": request.headers.get("x-request-id", ""),
        }
        answer = await run_in_threadpool(self.dispatcher.do, raw)
        status = answer.status_code or 200
        if status >= 500:
            return JSONResponse({"msg": "failed"}, status_code=500)
        return Response(content=answer.content, status_code=status, media_type="application/json")

    def _check(self, *, body: bytes, headers: Any) -> dict[str, Any] | None:
        """The decrypted push when it passes every check (encryption, ±5 min, signature, token), else None."""
        try:
            outer = json.loads(body)
            sealed = outer.get("encrypt") if isinstance(outer, dict) else None
            if not isinstance(sealed, str) or not self.encrypt_key:
                return None
            plain = json.loads(AESCipher(self.encrypt_key).decrypt_str(sealed))
            if not isinstance(plain, dict):
                return None
        except (ValueError, TypeError, UnicodeDecodeError):
            return None
        if plain.get("type") == "url_verification":
            return plain if self._token_ok(plain.get("token")) else None
        timestamp = headers.get("x-lark-request-timestamp") or ""
        nonce = headers.get("x-lark-request-nonce") or ""
        signature = headers.get("x-lark-signature") or ""
        try:
            moment = int(timestamp)
        except ValueError:
            return None
        if abs(time.time() - moment) > WINDOW_SECONDS:
            return None
        expected = hashlib.sha256((timestamp + nonce + self.encrypt_key).encode() + body).hexdigest()
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            return None
        token = (plain.get("header") or {}).get("token") if plain.get("schema") else plain.get("token")
        return plain if self._token_ok(token) else None

    def _token_ok(self, token: Any) -> bool:
        """True when the verification token matches (constant time), or none is configured."""
        if not self.verification_token:
            return True
        return isinstance(token, str) and hmac.compare_digest(token.encode(), self.verification_token.encode())

    # ------------------------------------------------------------ long connection

    def _run_ws(self) -> None:
        """The ws client's own thread: a fresh loop installed where lark_oapi.ws.client keeps its module-level one."""
        import lark_oapi.ws.client as ws_module

        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        ws_module.loop = loop
        self._ws_loop = loop
        try:
            self._ws_client = _ws_client_class()(
                self.settings.feishu_app_id or "",
                self.settings.feishu_app_secret or "",
                event_handler=self.dispatcher,
                domain=self.domain,
                log_level=lark.LogLevel.WARNING,
            )
            self._ws_client.start()
        except RuntimeError as error:  # loop.stop() from stop() ends run_until_complete
            log.info("feishu long connection stopped: %s", error)
        except Exception:
            log.exception("feishu long connection failed")
        finally:
            try:
                for task in asyncio.all_tasks(loop):
                    task.cancel()
                loop.run_until_complete(asyncio.sleep(0))
            except RuntimeError:
                pass
            loop.close()

    # ------------------------------------------------------------ events

    def _claim(self, ids: list[str]) -> bool:
        """Claim every id (event id, message id) together in the database; False when any was seen before."""
        with self._writes:
            return services.claim_events(uow=self.uow, platform=PLATFORM, event_ids=ids, at=self.clock())

    def _release(self, ids: list[str]) -> None:
        """Forget claims, so that a re-delivery is handled."""
        for event_id in ids:
            services.release_event(uow=self.uow, platform=PLATFORM, event_id=event_id)

    def _on_message(self, data: Any) -> None:
        """Claim the message (event id and message id) and answer Feishu at once; the command runs in a worker."""
        event = data.event
        message = event.message
        if event.sender is None or event.sender.sender_type != "user" or message is None:
            return
        ids = [f"event:{data.header.event_id}", f"message:{message.message_id}"]
        if not self._claim(ids):
            return
        self.workers.submit(self._process_message, message=message, open_id=event.sender.sender_id.open_id, ids=ids)

    def _process_message(self, *, message: Any, open_id: str, ids: list[str]) -> None:
        """Run one chat message's command and reply; on failure forget the claim and say so."""
        try:
            with self._writes:
                outgoing = self._answer_message(message=message, open_id=open_id)
        except Exception:
            log.exception("feishu message %s failed", message.message_id)
            try:
                self._release(ids)
            except Exception:
                log.exception("feishu message %s: claim not released", message.message_id)
            outgoing = [("text", _text_content(translate("feishu.failed", lang=self._workspace_lang(None))))]
            self._send_replies(message_id=message.message_id, outgoing=outgoing,
                               in_thread=message.chat_type == "group", tag=f"failed:{time.time_ns()}")
            return
        private = message.chat_type == "group" and any(kind == "interactive" for kind, _ in outgoing)
        if private:  # forms and report previews are for the sender only: sent to them directly
            self._send_direct(open_id=open_id, outgoing=outgoing, key=f"reply:{message.message_id}")
        elif outgoing:
            self._send_replies(message_id=message.message_id, outgoing=outgoing, in_thread=message.chat_type == "group")

    def _answer_message(self, *, message: Any, open_id: str) -> list[tuple[str, str]]:
        """The replies (msg_type, content) to one chat message."""
        mentions = message.mentions or []
        if message.chat_type == "group" and not mentions:
            return []
        lang_of = self._workspace_lang
        who = services.find_person(uow=self.uow, platform=PLATFORM, user_id=open_id)
        if who is None:
            return [("text", _text_content(translate("feishu.unknown_user", lang=lang_of(None))))]
        workspace, person = who
        if message.message_type != "text":
            return [("text", _text_content(translate("feishu.only_text", lang=lang_of(workspace))))]
        text = _command_text(message.content)
        reply = services.run_command(
            uow=self.uow,
            person=person,
            text=text,
            at=self.clock(),
            workspace=workspace,
            source=PLATFORM,
            event_key=f"feishu:{message.message_id}",
        )
        self._tell(reply=reply, workspace=workspace, source=f"message:{message.message_id}")
        if reply.ok and reply.key == "reply.list" and reply.params.get("form_hint"):
            built = cards.checkin_cards(rows=reply.params["rows"], lang=reply.lang)
            return [("interactive", cards.content_of(card)) for card in built]
        if reply.ok and reply.key == "reply.matrix":
            chart = matrix_png(quadrants=reply.params["quadrants"], lang=reply.lang)
            text = ("text", _text_content(render_reply(reply=reply)))
            if chart is None:  # no CJK-capable font on this machine: the text matrix says it all
                return [text]
            return [text, ("image", json.dumps({"image_key": self.upload_image(png=chart[0])}))]
        if reply.ok and reply.key == "reply.report" and reply.digest is not None:
            head = translate(reply.key, lang=reply.lang, **reply.params)
            built = cards.digest_cards(digest=reply.digest, lang=reply.lang)
            return [("text", _text_content(head)), *(("interactive", cards.content_of(card)) for card in built)]
        return [("text", _text_content(render_reply(reply=reply)))]

    def _send_replies(
        self, *, message_id: str, outgoing: list[tuple[str, str]], in_thread: bool, tag: str = "ok"
    ) -> None:
        """Reply to a message (in thread for groups), each reply with a deterministic uuid."""
        try:
            for n, (msg_type, content) in enumerate(outgoing):
                self.reply(
                    message_id=message_id, msg_type=msg_type, content=content, in_thread=in_thread,
                    key=f"reply:{message_id}:{tag}:{n}",
                )
        except Exception:
            log.exception("feishu reply to %s failed", message_id)

    def _tell(self, *, reply: services.Reply, workspace: str, source: str) -> None:
        """Send the reply's notices (ask decided, goal changed …) to the people they name, from a worker, once per source."""
        for notice in reply.notices:
            key = f"notice:{source}:{notice.person}:{notice.key}"
            self.pool.submit(self._notify_one, notice=notice, lang=reply.lang, workspace=workspace, key=key)

    def _notify_one(self, *, notice: services.Notice, lang: str, workspace: str, key: str) -> None:
        """Deliver one notice to its person, once per key."""
        try:
            person = services.person_of(uow=self.uow, key=notice.person, at=self.clock(), workspace=workspace)
            if person is None or not person.feishu_id:
                return
            text = translate(notice.key, lang=lang, **notice.params)
            self.notify(person=person, text=text, idempotency_key=key)
        except Exception:
            log.exception("feishu notice to %s failed", notice.person)

    def _workspace_lang(self, workspace: str | None) -> str:
        """The workspace language for a message, zh when it can't be read."""
        try:
            return services.workspace_language(uow=self.uow, workspace=workspace)
        except Exception:  # only a fallback for the words of an error message
            return "zh"

    def _on_menu(self, data: Any) -> None:
        """The bot menu: the check-in card, sent to the clicker directly."""
        operator = data.event.operator
        open_id = operator.operator_id.open_id if operator and operator.operator_id else None
        if not open_id or not self._claim([f"event:{data.header.event_id}"]):
            return
        try:
            who = services.find_person(uow=self.uow, platform=PLATFORM, user_id=open_id)
            if who is None:
                outgoing = [("text", _text_content(translate("feishu.unknown_user", lang=self._workspace_lang(None))))]
            else:
                workspace, person = who
                try:
                    rows = services.list_krs(uow=self.uow, person=person, at=self.clock(), workspace=workspace)
                    built = cards.checkin_cards(rows=rows.params["rows"], lang=rows.lang)
                    outgoing = [("interactive", cards.content_of(card)) for card in built]
                except KrbotError as error:
                    outgoing = [("text", _text_content(error_message(error, lang=self._workspace_lang(workspace))))]
        except Exception:
            self._release([f"event:{data.header.event_id}"])
            raise
        self.pool.submit(self._send_direct, open_id=open_id, outgoing=outgoing, key=f"menu:{data.header.event_id}")

    def _send_direct(self, *, open_id: str, outgoing: list[tuple[str, str]], key: str) -> None:
        """Send messages to one person's direct chat, each with a deterministic uuid."""
        try:
            for n, (msg_type, content) in enumerate(outgoing):
                self.create(receive_id=open_id, id_type="open_id", msg_type=msg_type, content=content, key=f"{key}:{n}")
        except Exception:
            log.exception("feishu message to %s failed", open_id)

    # ------------------------------------------------------------ card callbacks

    def _on_card(self, data: P2CardActionTrigger) -> P2CardActionTriggerResponse:
        """A card callback: the check-in form or an ask's button, answered with a toast and maybe a new card."""
        event = data.event
        open_id = event.operator.open_id if event and event.operator else None
        action = event.action if event else None
        value = (action.value if action else None) or {}
        who = services.find_person(uow=self.uow, platform=PLATFORM, user_id=open_id) if open_id else None
        if who is None:
            return _toast("error", translate("feishu.unknown_user", lang=self._workspace_lang(None)))
        workspace, person = who
        try:
            if value.get("a") == "checkin":
                return self._submit_checkin(
                    person=person, workspace=workspace, value=value, form=(action.form_value if action else None) or {},
                    event_id=data.header.event_id,
                )
            if value.get("a") == "ask":
                return self._decide(person=person, workspace=workspace, value=value)
        except KrbotError as error:
            return _toast("error", error_message(error, lang=self._workspace_lang(workspace)))
        return _toast("info", translate("feishu.card.unknown_action", lang=self._workspace_lang(workspace)))

    def _submit_checkin(
        self, *, person: str, workspace: str, value: dict[str, Any], form: dict[str, Any], event_id: str
    ) -> P2CardActionTriggerResponse:
        """A check-in form: fields checked first (errors back on the card), then stored once per callback."""
        code = str(value.get("code") or "")
        names = [str(n) for n in value.get("measures") or []]
        texts = {names[j]: str(form.get(f"m{j}") or "").strip() for j in range(len(names))}
        at = self.clock()
        problems = services.validate_checkin(uow=self.uow, person=person, code=code, values=texts, at=at, workspace=workspace)
        listing = services.list_krs(uow=self.uow, person=person, at=at, workspace=workspace)
        lang = listing.lang
        if problems:
            errors = {name: error_message(error, lang=lang) for name, error in problems.items()}
            built = cards.checkin_cards(rows=listing.params["rows"], lang=lang, values={code: form}, errors={code: errors})
            first = next(iter(errors.values()))
            return _toast("error", translate("feishu.checkin.invalid", lang=lang) + " — " + first,
                          card=cards.card_with_form(cards=built, code=code))
        update = commands.Update(
            code=code,
            values=tuple(commands.MeasureValue(measure=name, text=text) for name, text in texts.items() if text),
            note=_field(form, "note"),
            next_step=_field(form, "next"),
            risk=_field(form, "risk"),
            asks=tuple(a for a in [_field(form, "ask")] if a),
        )
        reply = services.record_checkin(
            uow=self.uow, person=person, update=update, at=at, workspace=workspace, source=PLATFORM,
            event_key=f"feishu-card:{event_id}",
        )
        text = render_reply(reply=reply)
        if not reply.ok:
            return _toast("error", text)
        self._tell(reply=reply, workspace=workspace, source=f"card:{event_id}")
        listing = services.list_krs(uow=self.uow, person=person, at=at, workspace=workspace)
        built = cards.checkin_cards(rows=listing.params["rows"], lang=lang, saved={code: text})
        return _toast("success", text, card=cards.card_with_form(cards=built, code=code))

    def _decide(self, *, person: str, workspace: str, value: dict[str, Any]) -> P2CardActionTriggerResponse:
        """An Approve/Decline button: decided by the service (boss or admin only), card updated, asker told."""
        ask_id = int(value.get("id") or 0)
        at = self.clock()
        reply = services.decide_ask(
            uow=self.uow, person=person, ask_id=ask_id, approve=bool(value.get("ok")), at=at, workspace=workspace
        )
        self._tell(reply=reply, workspace=workspace, source=f"ask:{ask_id}:{reply.params.get('status')}")
        text = render_reply(reply=reply)
        card = None
        as_of = value.get("as_of")
        if isinstance(as_of, str):
            digest, decisions = services.compose_as_posted(
                uow=self.uow, as_of=datetime.fromisoformat(as_of), workspace=workspace
            )
            card = cards.card_with_ask(cards=cards.digest_cards(digest=digest, decisions=decisions), ask_id=ask_id)
        return _toast("success" if reply.key == "ask.decided" else "info", text, card=card)


def _field(form: dict[str, Any], name: str) -> str | None:
    """A form field's text, None when left empty."""
    text = str(form.get(name) or "").strip()
    return text or None


def _toast(kind: str, text: str, *, card: dict[str, Any] | None = None) -> P2CardActionTriggerResponse:
    """A card callback answer: a toast, and the card to show instead when given."""
    answer: dict[str, Any] = {"toast": {"type": kind, "content": cards.plain(text)[:500]}}
    if card is not None:
        answer["card"] = {"type": "raw", "data": card}
    return P2CardActionTriggerResponse(answer)


def _text_content(text: str) -> str:
    """The `content` of a text message, user words made inert."""
    return json.dumps({"text": cards.plain(text)}, ensure_ascii=False)


def _command_text(content: str | None) -> str:
    """The `/kr …` text of a message: mention keys stripped, the prefix added when the user left it out."""
    try:
        text = str(json.loads(content or "{}").get("text") or "")
    except ValueError:
        text = ""
    text = _MENTION_KEY.sub(" ", text).strip()
    if not re.match(r"^[/／]?kr(\s|$)", text, re.IGNORECASE):
        text = "/kr " + text
    return text
