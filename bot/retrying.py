"""One retry policy for every call krbot makes to Slack or Feishu: tenacity, honouring Retry-After, one level deep."""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

import tenacity
from tenacity import RetryCallState

from bot.core.errors import KrbotError
from bot.metrics import PLATFORM_ERRORS, PLATFORM_RETRIES

log = logging.getLogger("krbot.retrying")

T = TypeVar("T")

_OUTER = contextvars.ContextVar("krbot_outer_retry", default=False)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try one call: failures back off exponentially with jitter; rate limits wait as long as told."""

    tries: int = 5
    backoff: float = 1.0
    backoff_max: float = 60.0
    rate_limited_waits: int = 100
    workers: int = 16
    every_failure: bool = True  # False: only rate limits, dropped connections and 5xx are retried


SENDS = RetryPolicy()
IN_REQUEST = RetryPolicy(tries=3, backoff=0.25, backoff_max=2.0, rate_limited_waits=3, every_failure=False)


class GiveUp(Exception):  # noqa: N818 - a signal, not an error
    """Raised inside a retried call to stop at once (another worker took the claim over)."""


def retry_after(error: BaseException | None, /) -> float | None:
    """Seconds a rate-limited platform asked us to wait (an error's `retry_after`, or its response's Retry-After)."""
    if error is None:
        return None
    seconds = getattr(error, "retry_after", None)
    if seconds is None:
        headers = getattr(getattr(error, "response", None), "headers", None)
        header = headers.get("Retry-After") or headers.get("retry-after") if hasattr(headers, "get") else None
        if header is None:
            return None
        try:
            seconds = float(str(header))
        except ValueError:
            try:
                seconds = (parsedate_to_datetime(str(header)) - datetime.now(UTC)).total_seconds()
            except (TypeError, ValueError):
                return None
    return max(0.0, float(seconds))


def _status(error: BaseException) -> int | None:
    for holder in (error, getattr(error, "response", None)):
        for name in ("status", "status_code"):
            value = getattr(holder, name, None)
            if isinstance(value, int):
                return value
    return None


def transient(error: BaseException, /) -> bool:
    """A failure worth trying again whatever the policy: rate limited, a dropped connection, or a 5xx."""
    if retry_after(error) is not None or isinstance(error, OSError | TimeoutError):
        return True
    if type(error).__module__.startswith(("httpx", "urllib3", "requests")):
        return True
    status = _status(error)
    return status is not None and (status >= 500 or status == 429)


@contextlib.contextmanager
def outer() -> Iterator[None]:
    """Inside this block the caller retries the whole send, so the platform calls inside it are tried once."""
    token = _OUTER.set(True)
    try:
        yield
    finally:
        _OUTER.reset(token)


def _backoff(policy: RetryPolicy, failures: int) -> float:
    """Exponential backoff with jitter after the n-th failure (tenacity's waits)."""
    state = RetryCallState(retry_object=tenacity.Retrying(), fn=None, args=(), kwargs={})
    state.attempt_number = max(1, failures)
    wait = tenacity.wait_exponential(multiplier=policy.backoff, max=policy.backoff_max) + tenacity.wait_random(
        0, policy.backoff / 4
    )
    return float(wait(state))


def pause(*, policy: RetryPolicy, error: BaseException, failures: int, limited: int) -> float | None:
    """Seconds to wait before trying again after `error`, or None to give up.

    `failures` and `limited` count the tries so far (this one included) that failed, and that were rate limited:
    a rate limit waits as long as told, up to `rate_limited_waits` times, without growing the backoff.
    """
    if isinstance(error, GiveUp | KrbotError):
        return None
    seconds = retry_after(error)
    if seconds is not None:
        return seconds if limited <= policy.rate_limited_waits else None
    if not (policy.every_failure or transient(error)) or failures >= policy.tries:
        return None
    return _backoff(policy, failures)


def retrying(
    *, policy: RetryPolicy, platform: str, hold: Callable[[float], None] | None = None,
    before: Callable[[], None] | None = None,
) -> tenacity.Retrying:
    """A tenacity Retrying for one call under `policy`; `hold` is told each Retry-After (a shared gate waits it out
    for every sender at once, so the call itself does not sleep), `before` runs before each try after the first."""
    counts = {"failures": 0, "limited": 0}
    waits: dict[int, float | None] = {}

    def decided(state: RetryCallState) -> float | None:
        if state.attempt_number not in waits:
            error = state.outcome.exception() if state.outcome else None
            if error is None:
                return None
            PLATFORM_ERRORS.labels(platform=platform).inc()
            counts["limited" if retry_after(error) is not None else "failures"] += 1
            waits[state.attempt_number] = pause(policy=policy, error=error, **counts)
        return waits[state.attempt_number]

    def wait(state: RetryCallState) -> float:
        seconds = decided(state) or 0.0
        error = state.outcome.exception() if state.outcome else None
        if hold is not None and retry_after(error) is not None:
            hold(seconds)
            return 0.0
        return seconds

    def counted(state: RetryCallState) -> None:
        PLATFORM_RETRIES.labels(platform=platform).inc()
        error = state.outcome.exception() if state.outcome else None
        log.info("%s call failed (%s); trying again in %.2fs", platform, error,
                 state.next_action.sleep if state.next_action else 0.0)

    def before_each(state: RetryCallState) -> None:
        if before is not None and state.attempt_number > 1:
            before()

    return tenacity.Retrying(
        stop=lambda state: decided(state) is None, wait=wait, retry=tenacity.retry_if_exception_type(), reraise=True,
        before=before_each, before_sleep=counted,
    )


def call(fn: Callable[[], T], /, *, policy: RetryPolicy = IN_REQUEST, platform: str) -> T:
    """Call `fn` under the policy; when an outer send retries as a whole (see `outer`), just once."""
    if _OUTER.get():
        return fn()
    return retrying(policy=policy, platform=platform)(fn)


def is_outer() -> bool:
    """True inside `outer()`."""
    return _OUTER.get()


__all__ = ["IN_REQUEST", "SENDS", "GiveUp", "RetryPolicy", "call", "outer", "pause", "retry_after", "retrying",
           "transient"]
