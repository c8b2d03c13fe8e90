"""The Feishu (Lark) edge: lark-oapi events, card callbacks and messages translated to and from bot.services."""

from __future__ import annotations

import io
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
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
from bot.platforms import feishu_ws
from bot.platforms.base import Drains, InstalledEverywhere, Reminder, Sent
from bot.platforms.feishu_listeners import PLATFORM, FeishuListeners, _text_content

if TYPE_CHECKING:
    from bot.services import UnitOfWork

log = logging.getLogger(__name__)

RATE_LIMITED = 99991400
START_WAIT = 15.0  # seconds `krbot run` waits for the long connection before going on without it (still trying)
DRAIN_SECONDS = 10.0  # how long stop() waits for events in flight to be answered and their answers sent
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
    start_wait: float = START_WAIT,
) -> FeishuPlatform:
    """The Feishu platform from settings; HTTP mode refuses to start without an encrypt key."""
    if not settings.feishu_app_id or not settings.feishu_app_secret:
        raise FeishuSetupError("feishu.no_credentials")
    if http and not settings.feishu_encrypt_key:
        raise FeishuSetupError("feishu.no_encrypt_key")
    return FeishuPlatform(settings=settings, uow=uow, http=http, clock=clock, backoff=backoff, start_wait=start_wait)


class FeishuPlatform(FeishuListeners, Drains, InstalledEverywhere):
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
        start_wait: float = START_WAIT,
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
        self.pending: set[Future[Any]] = set()
        self.pending_lock = threading.Lock()
        self.unknown = feishu_ws.UnknownTypes()
        self.start_wait = start_wait
        self.connection: feishu_ws.LongConnection | None = None
        self._halt = threading.Event()
        self._sweeper: threading.Thread | None = None
        self._stopped = False

    # ------------------------------------------------------------ Platform

    def routes(self) -> list[Any]:
        """`POST /feishu/events`: events and card callbacks, checked before lark-oapi sees them."""
        return [Route("/feishu/events", self._endpoint, methods=["POST"])] if self.http else []

    def start(self) -> None:
        """Open the long connection (unless in HTTP mode), then send what an earlier process owed.

        Refused credentials stop the start (FeishuSetupError: `krbot run` exits 2 naming the variables); a Feishu
        that can't be reached is tried again with backoff in the background, /healthz not ok until it connects.
        """
        if self._sweeper is not None:
            return
        if not self.http and self.connection is None:
            self.connection = feishu_ws.LongConnection(
                app_id=self.settings.feishu_app_id or "", app_secret=self.settings.feishu_app_secret or "",
                domain=self.domain, dispatcher=self.dispatcher, route=self._route_frame, backoff=self.backoff,
            )
            outcome = self.connection.start(wait=self.start_wait)
            if outcome.refused is not None:
                self.connection.stop(timeout=0)
                raise FeishuSetupError("feishu.credentials_refused", app_id=self.settings.feishu_app_id,
                                       said=feishu_ws.describe(outcome.refused))
            if not outcome.connected:
                log.warning("feishu long connection not open after %.0fs (%s): krbot keeps trying with backoff; "
                            "/healthz reports feishu not ok until it connects", self.start_wait,
                            outcome.last_error or "no answer yet")
        self._sweeper = threading.Thread(target=self.sweeping, kwargs={"halt": self._halt}, name="feishu-owed",
                                         daemon=True)
        self._sweeper.start()

    def stop_intake(self) -> None:
        """Take no new event from the long connection (unanswered, Feishu pushes them again); HTTP mode: nothing."""
        if self.connection is not None:
            self.connection.stop_intake()

    def drain(self, *, timeout: float = DRAIN_SECONDS) -> bool:
        """Wait until the events taken are answered on their frames and their answers sent (bounded); True if all."""
        deadline = time.monotonic() + timeout
        answered = self.connection.drain(timeout=timeout) if self.connection is not None else True
        return self.wait_sends(timeout=max(0.0, deadline - time.monotonic())) and answered

    def stop(self) -> None:
        """Stop intake, drain (events answered, owed answers sent; bounded), then close the connection."""
        if self._stopped:
            return
        self._stopped = True
        self.stop_intake()
        drained = self.drain(timeout=DRAIN_SECONDS)
        if self.connection is not None:
            self.connection.stop(timeout=0)
        self._halt.set()
        if not drained:
            log.warning("feishu stopped with sends in flight: the ledger keeps them for the next start")
        self.pool.shutdown(wait=False, cancel_futures=True)

    def reaches(self, *, person: model.Person) -> bool:
        """Someone with a Feishu open id in the OKR file."""
        return bool(person.feishu_id)

    def healthy(self) -> bool:
        """HTTP mode is healthy while serving; the long connection while its socket is open."""
        if self.http:
            return True
        return self.connection is not None and self.connection.connected()

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
