"""The Feishu (Lark) edge: lark-oapi events, card callbacks and messages translated to and from bot.services."""

from __future__ import annotations

import asyncio
import io
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import lark_oapi as lark
from lark_oapi.api.im.v1 import (
    CreateMessageRequest,
    CreateMessageRequestBody,
    PatchMessageRequest,
    PatchMessageRequestBody,
    ReplyMessageRequest,
    ReplyMessageRequestBody,
)
from starlette.routing import Route

from bot import retrying
from bot.config import Settings
from bot.core import model
from bot.core.digest import Digest
from bot.core.errors import KrbotError
from bot.i18n import error_message
from bot.platforms import feishu_cards as cards
from bot.platforms import feishu_form as forms
from bot.platforms.base import Drains, Reminder, Sent
from bot.platforms.feishu_listeners import PLATFORM, FeishuListeners, _text_content

if TYPE_CHECKING:
    from bot.services import UnitOfWork

log = logging.getLogger(__name__)

RATE_LIMITED = 99991400
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


class FeishuPlatform(FeishuListeners, Drains):
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
        built = forms.checkin_cards(rows=reminder.rows, lang=reminder.lang, chaser=reminder.chaser,
                                    words_only=reminder.words_only)
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
