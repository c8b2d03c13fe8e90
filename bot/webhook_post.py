"""One signed POST of a webhook delivery to its receiver through the guarded outbound client (no loopback or
metadata address, no redirect, 10 s for the whole try, 1 MB read at most); a refusal raised with what the receiver
said."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from bot.core.errors import KrbotError
from bot.core.redact import blank_url, plain_quote
from bot.core.webhooks import DELIVERY, EVENT, SIGNATURE, TIMESTAMP, body_bytes, sign
from bot.outbound import DEADLINE_SECONDS
from bot.platforms.base import Sent
from bot.pulling import environment
from bot.retrying import retry_after

TIMEOUT = DEADLINE_SECONDS  # seconds for one try's whole exchange: connect, send, read (wall clock)
QUOTED = 200  # characters of a refusing receiver's answer kept in the reason
WAIT_CAP = 10.0  # the longest Retry-After waited out within one drain; a longer one waits for a later drain


class WebhookFailed(Exception):
    """A receiver that did not answer 2xx, or a delivery that could not be signed: the reason, and any Retry-After."""

    def __init__(self, reason: str, *, status: int | None = None, asked: float | None = None,
                 key: str | None = None, params: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.key = key  # the catalog key of the reason (webhook.*), with its words, to say it in another language
        self.params = params or {}
        self.status = status
        self.asked = asked  # seconds the receiver asked us to wait (Retry-After), as given
        self.retry_after = None if asked is None else min(asked, WAIT_CAP)

    def __repr__(self) -> str:
        return str(self)


@dataclass(frozen=True, slots=True)
class Receiver:
    """A receiver as the outbox sees a platform: a name for its shared send gate, and no rate of its own."""

    name: str
    send_rate: float | None = None


_CLIENT: Any = None
_LOCK = threading.Lock()


def _client() -> Any:
    """One pooled guarded client per process (bot.outbound, with httpx, imported when the first webhook goes out)."""
    global _CLIENT
    with _LOCK:
        if _CLIENT is None:
            from bot.outbound.client import OutboundClient

            _CLIENT = OutboundClient()
        return _CLIENT


def signed_headers(*, secret: str, body: bytes, delivery: str, event: str, timestamp: int | None = None) -> dict[str, str]:
    """The headers of one try: the signature over timestamp and body, the delivery id and the event."""
    moment = int(time.time()) if timestamp is None else timestamp
    return {
        "Content-Type": "application/json",
        "User-Agent": "krbot-webhooks",
        TIMESTAMP: str(moment),
        SIGNATURE: sign(secret=secret, timestamp=moment, body=body),
        DELIVERY: delivery,
        EVENT: event,
    }


def post(*, payload: dict[str, Any], timeout: float = TIMEOUT) -> Sent:
    """POST one queued delivery, signed afresh, within `timeout` for the whole exchange; raise WebhookFailed unless the
    receiver answers 2xx (its reason blanks the URL's credentials and query, and quotes ≤ 200 characters it said)."""
    url = payload["url"]
    secret = _secret(name=payload["secret_env"], url=url)
    body = body_bytes(body=payload["body"])
    headers = signed_headers(secret=secret, body=body, delivery=payload["body"]["id"], event=payload["event"])
    try:
        with _client().exchange(method="POST", url=url, headers=headers, content=body, seconds=timeout) as reply:
            said = reply.read_part()  # read (to the cap, within the deadline) so a kept-alive connection is reused
    except KrbotError as error:
        raise _failed(key=_WORDS.get(error.key, error.key), url=url, **error.params) from None
    if not 200 <= reply.status < 300:
        asked = retry_after(_Answered(reply)) if reply.status in (429, 503) else None
        detail = plain_quote(text=said.decode("utf-8", "replace"), limit=QUOTED)
        raise _failed(key="webhook.http_status", url=url, status=reply.status, detail=detail, asked=asked)
    return Sent(platform="webhook", message_id=str(reply.status))


def _secret(*, name: str, url: str) -> str:
    """The signing secret in the variable `name` — one the operator allowed (KRBOT_SOURCE_ENVS), from the environment
    or .env as krbot's own settings — or the failed try that says what is missing."""
    try:
        return environment(name=name)
    except KrbotError as error:
        if error.key == "source.env_missing":
            raise WebhookFailed(f"the environment variable {name} (the webhook's signing secret) is not set") from None
        raise _failed(key=error.key, url=url, **error.params) from None


_WORDS = {f"source.{kind}": f"webhook.{kind}" for kind in ("timeout", "redirected", "address_refused", "scheme",
                                                           "connect")}


def _failed(*, key: str, url: str, asked: float | None = None, **params: Any) -> WebhookFailed:
    """A failed try, its reason in the ledger's words (English, the URL blanked), with the status and Retry-After."""
    from bot.i18n import translate

    reason = translate(key, lang="en", url=blank_url(url=url), **params)
    return WebhookFailed(reason, status=params.get("status"), asked=asked, key=key,
                         params={"url": blank_url(url=url), **params})


@dataclass(frozen=True, slots=True)
class _Answered:
    """A response in the shape `retry_after` reads its Retry-After header from."""

    response: Any
