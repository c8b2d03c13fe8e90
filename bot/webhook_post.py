"""One signed POST of a webhook delivery to its receiver, with a timeout; a refusal raised with what the receiver said."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import Any

from bot.core.webhooks import DELIVERY, EVENT, SIGNATURE, TIMESTAMP, body_bytes, sign
from bot.platforms.base import Sent
from bot.retrying import retry_after

TIMEOUT = 10.0  # seconds per request
WAIT_CAP = 10.0  # the longest Retry-After waited out within one drain; a longer one waits for a later drain


class WebhookFailed(Exception):
    """A receiver that did not answer 2xx, or a delivery that could not be signed: the reason, and any Retry-After."""

    def __init__(self, reason: str, *, status: int | None = None, asked: float | None = None) -> None:
        super().__init__(reason)
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
    """One pooled HTTP client per process (httpx, imported when the first webhook goes out)."""
    global _CLIENT
    with _LOCK:
        if _CLIENT is None:
            import httpx

            _CLIENT = httpx.Client(follow_redirects=False)
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
    """POST one queued delivery, signed afresh; raise WebhookFailed unless the receiver answers 2xx."""
    variable = payload["secret_env"]
    secret = os.environ.get(variable)
    if not secret:
        raise WebhookFailed(f"the environment variable {variable} (the webhook's signing secret) is not set")
    body = body_bytes(body=payload["body"])
    headers = signed_headers(secret=secret, body=body, delivery=payload["body"]["id"], event=payload["event"])
    response = _client().post(payload["url"], content=body, headers=headers, timeout=timeout)
    if not 200 <= response.status_code < 300:
        asked = retry_after(_Answered(response)) if response.status_code in (429, 503) else None
        raise WebhookFailed(
            f"HTTP {response.status_code} from {payload['url']}: {response.text[:200]}",
            status=response.status_code, asked=asked,
        )
    return Sent(platform="webhook", message_id=str(response.status_code))


@dataclass(frozen=True, slots=True)
class _Answered:
    """A response in the shape `retry_after` reads its Retry-After header from."""

    response: Any
