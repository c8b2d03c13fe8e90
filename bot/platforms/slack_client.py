"""Slack's Web API as krbot calls it: clients under the one retry policy, and digest posts marked to be found again."""

from __future__ import annotations

import time
from typing import Any

from slack_sdk import WebClient
from slack_sdk.http_retry.handler import RetryHandler

from bot import retrying
from bot.metrics import PLATFORM_ERRORS, PLATFORM_RETRIES
from bot.platforms.base import Sent

PLATFORM = "slack"
SLACK_API_URL = "https://slack.com/api/"
DIGEST_EVENT = "krbot_digest"  # the message metadata a digest post carries, found again after a crash
ANSWER_EVENT = "krbot_answer"  # the message metadata an answer after an ack carries, found again after a crash

__all__ = ["ANSWER_EVENT", "DIGEST_EVENT", "SLACK_API_URL", "SharedPolicy", "find_marked", "make_client", "post_marked"]


class SharedPolicy(RetryHandler):
    """slack_sdk's retry hook (which Bolt copies into each request's client) deciding by krbot's one retry policy:
    429 waits its Retry-After, dropped connections and 5xx back off; inside the outbox, which retries a whole
    send, a call is tried once."""

    def __init__(self, *, policy: retrying.RetryPolicy = retrying.IN_REQUEST) -> None:
        super().__init__(max_retry_count=policy.tries + policy.rate_limited_waits)
        self.policy = policy

    def _can_retry(self, *, state: Any, request: Any, response: Any = None, error: Any = None) -> bool:
        if retrying.is_outer() or (error is None and (response is None or response.status_code < 429)):
            return False
        failure = _HttpFailure(response) if response is not None else error
        counts = state.__dict__.setdefault("krbot_counts", {"failures": 0, "limited": 0})
        counts["limited" if retrying.retry_after(failure) is not None else "failures"] += 1
        PLATFORM_ERRORS.labels(platform=PLATFORM).inc()
        state.krbot_wait = retrying.pause(policy=self.policy, error=failure, **counts)
        return state.krbot_wait is not None

    def prepare_for_next_attempt(self, *, state: Any, request: Any, response: Any = None, error: Any = None) -> None:
        """Wait as the policy decided, then try again."""
        PLATFORM_RETRIES.labels(platform=PLATFORM).inc()
        state.next_attempt_requested = True
        time.sleep(state.krbot_wait or 0.0)
        state.increment_current_attempt()


class _HttpFailure(Exception):
    """A 429 or 5xx answer seen by slack_sdk's retry hook, as the policy reads failures: a status and a wait."""

    def __init__(self, response: Any) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.status = int(response.status_code)
        header = next((v for k, v in (response.headers or {}).items() if k.lower() == "retry-after"), None)
        value = header[0] if isinstance(header, list) and header else header
        try:
            self.retry_after = float(value) if value is not None and self.status == 429 else None
        except ValueError:
            self.retry_after = None


def make_client(*, token: str | None, base_url: str | None = None) -> WebClient:
    """A WebClient retrying by krbot's one policy, against `base_url` (Slack's own by default)."""
    url = (base_url or SLACK_API_URL).rstrip("/") + "/"
    return WebClient(token=token, base_url=url, retry_handlers=[SharedPolicy()], timeout=10)


def post_marked(
    *, client: WebClient, post: dict[str, Any], channel: str, thread: str | None, key: str, about: dict[str, str],
    event_type: str = DIGEST_EVENT,
) -> Sent:
    """chat.postMessage with metadata naming the workspace, the period and the key (in `thread` when given)."""
    metadata = {"event_type": event_type, "event_payload": {**about, "key": key}}
    extra = {"thread_ts": thread} if thread else {}
    posted = client.chat_postMessage(channel=channel, metadata=metadata, **extra, **post)
    return Sent(platform=PLATFORM, message_id=str(posted["ts"]), extra={"channel": str(posted.get("channel") or channel)})


def find_marked(
    *, client: WebClient, channel: str, thread: str | None, key: str, event_type: str = DIGEST_EVENT
) -> Sent | None:
    """The message posted under `key`: looked up in the channel's recent history, or in the thread's replies."""
    if thread:
        found = client.conversations_replies(channel=channel, ts=thread, include_all_metadata=True, limit=200)
    else:
        found = client.conversations_history(channel=channel, include_all_metadata=True, limit=200)
    for message in found.get("messages") or []:
        metadata = message.get("metadata") or {}
        if metadata.get("event_type") == event_type and (metadata.get("event_payload") or {}).get("key") == key:
            return Sent(platform=PLATFORM, message_id=str(message["ts"]), extra={"channel": channel})
    return None
