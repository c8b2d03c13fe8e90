"""Connecting under the outbound rule and the exchange's deadline: an httpcore network backend and its streams.

httpx hands the URL's host name to `GuardedBackend.connect_tcp`; it resolves the name itself (within the time left),
drops every refused address, connects to an allowed one and checks the peer it actually reached, so a name that
answers a public address to a first look-up and loopback to the next (DNS rebinding) cannot pass: there is one
look-up, and its answer is what is checked and connected to. TLS keeps the host name for SNI and certificates.
Every read and write of a `GuardedStream` waits at most the time left of the current exchange, and one watchdog
thread shuts its socket down at the deadline (a trickling TLS handshake included): wall clock, not per read.
"""

from __future__ import annotations

import contextvars
import heapq
import itertools
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpcore

from bot.outbound.addresses import Allowance, IPAddress, literal, refusal

Resolver = Callable[[str, int], Sequence[str]]  # (host, port) → the addresses it names, as text


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the system's resolver (getaddrinfo: /etc/hosts, DNS) gives for `host`, first answer first."""
    answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in answers))


@dataclass
class Exchange:
    """One request's state: its deadline on the monotonic clock, the operator's allowance, the socket in use."""

    seconds: float
    allowance: Allowance
    deadline: float = 0.0
    expired: bool = False
    finished: bool = False
    sock: socket.socket | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def left(self) -> float:
        """Seconds left before the deadline (≤ 0 once it passed)."""
        return self.deadline - time.monotonic()

    def over(self) -> bool:
        """Whether the deadline has passed (the watchdog fired, or the clock says so)."""
        return self.expired or self.left() <= 0

    def use(self, *, sock: socket.socket) -> None:
        """Note the socket the exchange now waits on, so the watchdog can shut it (at once, when already late)."""
        with self.lock:
            self.sock = sock
            late = self.expired
        if late:
            _shut(sock=sock)

    def expire(self) -> None:
        """The watchdog: at the deadline, shut the socket down so that no read or handshake waits any longer."""
        with self.lock:
            if self.finished:
                return
            self.expired = True
            sock = self.sock
        if sock is not None:
            _shut(sock=sock)


def _shut(*, sock: socket.socket) -> None:
    """Shut a socket down both ways (the plain socket's shutdown, also under TLS), so blocked calls return."""
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass


class _Watchdog:
    """One daemon thread that shuts the sockets of exchanges past their deadline (a timer thread per exchange would
    cost half a millisecond to start, on every webhook try)."""

    def __init__(self) -> None:
        self._due: list[tuple[float, int, Exchange]] = []
        self._wake = threading.Condition()
        self._numbers = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, *, exchange: Exchange) -> None:
        """Expire `exchange` at its deadline unless it finished before."""
        with self._wake:
            heapq.heappush(self._due, (exchange.deadline, next(self._numbers), exchange))
            if self._thread is None or not self._thread.is_alive():  # the first exchange, or a forked process
                self._thread = threading.Thread(target=self._run, name="krbot-outbound-watchdog", daemon=True)
                self._thread.start()
            elif self._due[0][2] is exchange:
                self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while self._due and self._due[0][2].finished:
                    heapq.heappop(self._due)
                wait = self._due[0][0] - time.monotonic() if self._due else None
                if wait is None or wait > 0:
                    self._wake.wait(wait)
                    continue
                exchange = heapq.heappop(self._due)[2]
            exchange.expire()


_WATCHDOG = _Watchdog()
_CURRENT: contextvars.ContextVar[Exchange | None] = contextvars.ContextVar("krbot_outbound_exchange", default=None)


@contextmanager
def exchange_scope(*, seconds: float, allowance: Allowance) -> Iterator[Exchange]:
    """The exchange the calling thread runs now: its deadline `seconds` from now, kept by the watchdog."""
    exchange = Exchange(seconds=seconds, allowance=allowance, deadline=time.monotonic() + seconds)
    token = _CURRENT.set(exchange)
    try:
        _WATCHDOG.watch(exchange=exchange)
    except RuntimeError:  # no new threads at interpreter shutdown: the per-call time limits still hold
        pass
    try:
        yield exchange
    finally:
        with exchange.lock:
            exchange.finished = True
        _CURRENT.reset(token)


def current() -> Exchange:
    """The exchange of the calling thread; a stream used outside one is a mistake of ours."""
    exchange = _CURRENT.get()
    if exchange is None:
        raise RuntimeError("an outbound connection used outside an exchange (bot.outbound.client opens one)")
    return exchange


def _time_left(*, timeout: float | None, exchange: Exchange, late: type[Exception]) -> float:
    """The time a call may wait: the phase's timeout cut to what is left of the exchange; `late` once it is over."""
    left = exchange.left()
    if exchange.expired or left <= 0:
        raise late(f"the exchange's {exchange.seconds:g} s are over")
    return left if timeout is None else min(timeout, left)


class GuardedStream(httpcore.NetworkStream):
    """A connection whose every call waits at most the time left, and whose peer is checked for each exchange."""

    def __init__(self, *, inner: httpcore.NetworkStream, host: str, peer: IPAddress) -> None:
        self._inner = inner
        self._host = host
        self._peer = peer

    def _socket(self) -> socket.socket:
        return self._inner.get_extra_info("socket")

    # httpcore calls these positionally, in its own names
    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """At most `max_bytes`, waiting no longer than the exchange has left."""
        exchange = current()
        exchange.use(sock=self._socket())
        data = self._inner.read(max_bytes, timeout=_time_left(timeout=timeout, exchange=exchange,
                                                              late=httpcore.ReadTimeout))
        if not data and exchange.expired:  # the watchdog's shutdown, not the end of the answer
            raise httpcore.ReadTimeout(f"the exchange's {exchange.seconds:g} s are over")
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        """Send `buffer`, waiting no longer than the exchange has left; a kept-alive connection is checked again."""
        exchange = current()
        refused = refusal(host=self._host, address=self._peer, allowance=exchange.allowance)
        if refused is not None:
            raise refused
        exchange.use(sock=self._socket())
        self._inner.write(buffer, timeout=_time_left(timeout=timeout, exchange=exchange, late=httpcore.WriteTimeout))

    def close(self) -> None:
        """Close the connection."""
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        """The TLS handshake (SNI and certificate on the URL's host name), within the time left."""
        exchange = current()
        exchange.use(sock=self._socket())
        wait = _time_left(timeout=timeout, exchange=exchange, late=httpcore.ConnectTimeout)
        inner = self._inner.start_tls(ssl_context, server_hostname=server_hostname, timeout=wait)
        return GuardedStream(inner=inner, host=self._host, peer=self._peer)

    def get_extra_info(self, info: str) -> Any:
        """What httpcore asks of the connection (its socket, TLS object, addresses, readability)."""
        return self._inner.get_extra_info(info)


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore's sync backend, resolving and connecting only to the addresses the outbound rule allows."""

    def __init__(self, *, resolver: Resolver | None = None) -> None:
        self._plain = httpcore.SyncBackend()
        self._resolver = resolver or system_resolver

    def connect_tcp(self, *, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        """A connection to the first allowed address `host` resolves to that answers; the refusal when none is."""
        exchange = current()
        failure: Exception | None = None
        for address in self._allowed(host=host, port=port, exchange=exchange):
            wait = _time_left(timeout=timeout, exchange=exchange, late=httpcore.ConnectTimeout)
            try:
                stream = self._plain.connect_tcp(host=str(address), port=port, timeout=wait,
                                                 local_address=local_address, socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                failure = error
                continue
            peer = literal(host=str(stream.get_extra_info("server_addr")[0]))
            refused = refusal(host=host, address=peer, allowance=exchange.allowance) if peer is not None else None
            if peer is None or refused is not None:
                stream.close()
                raise refused or httpcore.ConnectError(f"connected to {host}, but not to an IP address")
            return GuardedStream(inner=stream, host=host, peer=peer)
        assert failure is not None
        raise failure

    def _allowed(self, *, host: str, port: int, exchange: Exchange) -> list[IPAddress]:
        """The addresses of `host` that may be reached, resolved within the time left; the refusal when none may."""
        named = refusal(host=host, address=None, allowance=exchange.allowance)
        if named is not None:
            raise named
        written = literal(host=host)
        answers = [written] if written is not None else self._resolve(host=host, port=port, exchange=exchange)
        allowed = [a for a in answers if refusal(host=host, address=a, allowance=exchange.allowance) is None]
        if not allowed:
            refused = refusal(host=host, address=answers[0], allowance=exchange.allowance)
            assert refused is not None
            raise refused
        return allowed

    def _resolve(self, *, host: str, port: int, exchange: Exchange) -> list[IPAddress]:
        """The resolver's answer for `host` as addresses, waited for no longer than the exchange has left."""
        outcome: dict[str, Any] = {}

        def look_up() -> None:
            try:
                outcome["answers"] = list(self._resolver(host, port))
            except (OSError, UnicodeError) as error:
                outcome["error"] = error

        worker = threading.Thread(target=look_up, name=f"resolve-{host}", daemon=True)
        try:
            worker.start()
            worker.join(_time_left(timeout=None, exchange=exchange, late=httpcore.ConnectTimeout))
        except RuntimeError:  # no new threads at interpreter shutdown: look up here
            look_up()
        if "error" in outcome:
            raise httpcore.ConnectError(f"{host} could not be resolved: {outcome['error']}")
        if "answers" not in outcome:
            raise httpcore.ConnectTimeout(f"{host} was not resolved within {exchange.seconds:g} s")
        addresses = [address for address in map(lambda text: literal(host=text), outcome["answers"]) if address]
        if not addresses:
            raise httpcore.ConnectError(f"{host} resolves to no address")
        return addresses

    def connect_unix_socket(self, *, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        """Never: outbound exchanges go over TCP only."""
        raise httpcore.ConnectError("outbound exchanges do not use unix sockets")

    def sleep(self, seconds: float) -> None:
        """httpcore's pause between connection retries (none are configured)."""
        time.sleep(seconds)
