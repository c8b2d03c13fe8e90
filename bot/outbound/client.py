"""One exchange through the guarded client: the URL's scheme checked, the request sent without following redirects,
the answer read within the exchange's deadline and counted to its cap; each failure a `source.*` KrbotError that
names its kind (too slow, too large, refused, redirected, could not connect)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import httpcore
import httpx

from bot.config import variable
from bot.core.errors import KrbotError
from bot.core.redact import blank_url, plain_quote
from bot.outbound import DEADLINE_SECONDS, LIMIT_BYTES
from bot.outbound.addresses import Allowance, check_scheme, read_allowance
from bot.outbound.decoding import ACCEPTED, decoded
from bot.outbound.network import Exchange, GuardedBackend, Resolver, exchange_scope

KEPT_ALIVE = 20  # idle connections the pool keeps (webhook receivers are few)


class _GuardedTransport(httpx.HTTPTransport):
    """httpx's transport over an httpcore pool whose network backend is the guarded one (httpx takes no backend)."""

    def __init__(self, *, resolver: Resolver | None) -> None:
        # not super().__init__(): it would build (and load certificates for) a pool that is never used
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False), max_connections=100,
            max_keepalive_connections=KEPT_ALIVE, keepalive_expiry=5.0, retries=0,
            network_backend=GuardedBackend(resolver=resolver),
        )


def operator_allowance() -> Allowance:
    """KRBOT_OUTBOUND_ALLOW as krbot's settings read it: the environment, else ./.env (read again when it changes)."""
    return _allowance(text=variable(name="KRBOT_OUTBOUND_ALLOW"))


@lru_cache(maxsize=8)
def _allowance(*, text: str | None) -> Allowance:
    return read_allowance(text=text)


def _seconds_shown(*, seconds: float) -> float | int:
    """Seconds as a person writes them: 10, or 0.5."""
    return int(seconds) if float(seconds).is_integer() else round(seconds, 1)


def failure(*, error: Exception, exchange: Exchange) -> KrbotError:
    """What an HTTP error means here: too slow once the deadline passed, else could not connect (with its words)."""
    if exchange.over() or isinstance(error, httpx.TimeoutException):
        return KrbotError("source.timeout", seconds=_seconds_shown(seconds=exchange.seconds))
    return KrbotError("source.connect", detail=plain_quote(text=str(error) or type(error).__name__))


def _location(*, response: httpx.Response) -> str:
    """Where a redirect pointed, made absolute and blanked (no credentials, no query string)."""
    location = response.headers.get("location", "")
    if not location:
        return ""
    try:
        return blank_url(url=str(response.url.join(location)))
    except (httpx.InvalidURL, ValueError):
        return blank_url(url=location)


@dataclass(frozen=True, slots=True)
class Reply:
    """An answer whose status line and headers came; its body is read on request, within the deadline and cap."""

    status: int
    headers: httpx.Headers
    response: httpx.Response
    exchange: Exchange
    limit: int

    def read(self) -> bytes:
        """The whole body (at most `limit` bytes once decompressed); a larger or slower one is a failure."""
        declared = self.headers.get("content-length", "")
        if not self.headers.get("content-encoding") and declared.isdigit() and int(declared) > self.limit:
            raise KrbotError("source.too_big", limit=self.limit)
        body, problem = self._take()
        if problem is not None:
            raise problem
        return body

    def read_part(self) -> bytes:
        """As much of the body as comes within the deadline, up to `limit` bytes (to quote what a receiver said)."""
        return self._take()[0]

    def _take(self) -> tuple[bytes, KrbotError | None]:
        """The body's bytes up to the cap, and what stopped the reading early (None when it came whole)."""
        kept = bytearray()
        encoding = self.headers.get("content-encoding", "")
        try:
            for piece in decoded(chunks=self.response.iter_raw(), encoding=encoding):
                if self.exchange.over():
                    return bytes(kept), failure(error=httpx.ReadTimeout("deadline"), exchange=self.exchange)
                if len(kept) + len(piece) > self.limit:
                    kept += piece[: self.limit - len(kept)]
                    return bytes(kept), KrbotError("source.too_big", limit=self.limit)
                kept += piece
        except KrbotError as error:
            return bytes(kept), error
        except (httpx.HTTPError, httpx.StreamError) as error:
            return bytes(kept), failure(error=error, exchange=self.exchange)
        if self.exchange.expired:  # the watchdog ended it: a cut answer, however it looked to the parser
            return bytes(kept), failure(error=httpx.ReadTimeout("deadline"), exchange=self.exchange)
        return bytes(kept), None


class OutboundClient:
    """One pooled HTTP client for sources and webhooks: guarded addresses, no redirects, one deadline, one cap."""

    def __init__(self, *, resolver: Resolver | None = None, allowance: Allowance | None = None) -> None:
        """`allowance` fixed for tests; by default KRBOT_OUTBOUND_ALLOW is read (environment or .env) per exchange."""
        self._allowance = allowance
        self._client = httpx.Client(transport=_GuardedTransport(resolver=resolver), follow_redirects=False,
                                    trust_env=False, timeout=DEADLINE_SECONDS)

    @contextmanager
    def exchange(self, *, method: str, url: str, headers: Mapping[str, str] | None = None,
                 content: bytes | None = None, seconds: float = DEADLINE_SECONDS,
                 limit: int = LIMIT_BYTES) -> Iterator[Reply]:
        """Send one request and hold its answer for the `with` block; all of it within `seconds` of wall clock."""
        check_scheme(url=url)
        allowance = self._allowance or operator_allowance()
        sent = httpx.Headers({"Accept-Encoding": ACCEPTED})
        sent.update(dict(headers or {}))
        with exchange_scope(seconds=seconds, allowance=allowance) as exchange:
            try:
                request = self._client.build_request(method, url, headers=sent, content=content, timeout=seconds)
                response = self._client.send(request, stream=True)
            except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as error:
                raise failure(error=error, exchange=exchange) from None
            try:
                if 300 <= response.status_code < 400:
                    raise KrbotError("source.redirected", location=_location(response=response))
                yield Reply(status=response.status_code, headers=response.headers, response=response,
                            exchange=exchange, limit=limit)
            finally:
                response.close()

    def get(self, *, url: str, headers: Mapping[str, str] | None = None, seconds: float = DEADLINE_SECONDS,
            limit: int = LIMIT_BYTES) -> tuple[int, bytes]:
        """A GET's status and whole body (the body read only for 2xx); failures as `exchange` raises them."""
        with self.exchange(method="GET", url=url, headers=headers, seconds=seconds, limit=limit) as reply:
            return reply.status, reply.read() if 200 <= reply.status < 300 else b""

    def close(self) -> None:
        """Close every pooled connection."""
        self._client.close()

    def __enter__(self) -> OutboundClient:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()
