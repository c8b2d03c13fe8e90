"""The once-only path for every message krbot sends unprompted: a ledger row first, then the send, then the mark."""

from __future__ import annotations

import hashlib
import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import tenacity

from bot.core.redact import blank_urls
from bot.metrics import DELIVERIES
from bot.platforms.base import Sent
from bot.retrying import SENDS, GiveUp, RetryPolicy, outer, retry_after, retrying
from storage import ledger, rates
from storage.db import UnitOfWork
from storage.ledger import LEASE, Key, Slot, key_of

log = logging.getLogger("krbot.outbox")

T = TypeVar("T", bound=Slot)
HEADROOM = 0.97  # the share of a platform's rate limit the gate hands out
CHUNK = 100  # items checked against the ledger at once in a fan-out


@dataclass(frozen=True, slots=True)
class Message:
    """A ledger item that is no scheduled slot: a notice after an ack, and later an outbound webhook."""

    workspace_id: int
    kind: str
    target: str
    period: str
    slot: datetime


def notice(*, workspace_id: int, person: str, cause: str, now: datetime, kind: str = "notice") -> Message:
    """The ledger item of telling `person` about `cause` (e.g. "ask:42:approved", an event id): once per cause."""
    period = cause if len(cause) <= 64 else "sha1:" + hashlib.sha1(cause.encode()).hexdigest()
    return Message(workspace_id=workspace_id, kind=kind, target=person[:200], period=period, slot=now)


class LostClaim(GiveUp):
    """Another worker took the claim over (this one outlived its lease): stop without sending."""


def worker_id() -> str:
    """This process's name in the ledger: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def idempotency_key(item: Slot, /) -> str:
    """The key a platform de-duplicates one ledger item's send by (Feishu's uuid, Slack's metadata)."""
    return f"{item.workspace_id}:{item.kind}:{item.target}:{item.period}"


@dataclass
class Outbox:
    """Claims a ledger row, waits its turn at the platform's shared gate, sends under one retry policy, marks the row."""

    uow: UnitOfWork
    policy: RetryPolicy = SENDS
    worker: str = field(default_factory=worker_id)
    lease: timedelta = LEASE
    clock: Callable[[], datetime] | None = None
    rates: dict[str, float] = field(default_factory=dict)
    final: set[Key] = field(default_factory=set)

    def _now(self, fallback: datetime) -> datetime:
        return self.clock() if self.clock is not None else fallback

    def _rate(self, platform: Any) -> float | None:
        return self.rates.get(platform.name) or getattr(platform, "send_rate", None)

    def wait_turn(self, *, platform: Any) -> None:
        """Reserve this send's moment at the platform's gate (shared by every replica) and sleep until it comes.

        The gate runs a little under the platform's limit, so a sender that wakes late for its moment finds the
        platform's bucket with room to spare instead of a 429 that would pause everyone.
        """
        rate = self._rate(platform)
        interval = 1.0 / (rate * HEADROOM) if rate else 0.0
        at = rates.reserve(uow=self.uow, name=platform.name, interval=interval, now=time.time())
        delay = at - time.time()
        if delay > 0:
            time.sleep(delay)

    def hold(self, *, platform: Any, seconds: float) -> None:
        """A platform asked to wait: close its gate for every replica."""
        log.info("%s asked to wait %.1fs: every sender to it waits", platform.name, seconds)
        rates.hold(uow=self.uow, name=platform.name, until=time.time() + seconds)

    def send(
        self,
        *,
        item: Slot,
        now: datetime,
        platform: Any,
        send: Callable[[], Sent],
        find: Callable[[], Sent | None] | None = None,
        again: Callable[[int, BaseException], datetime | None] | None = None,
    ) -> tuple[str, Sent | None]:
        """Claim and send one item: ("sent" | "failed" | "retry" | "busy" — claimed elsewhere or settled —, what was
        accepted).

        `find` looks for a copy the platform already holds; it is asked before any try that may repeat an earlier
        one which reached the platform (a take-over after a crash, or a retry after a failure other than a 429).
        `again` (tries counted so far, last error) may queue a failed item again for later instead ("retry").
        """
        try:
            claim = ledger.claim(uow=self.uow, item=item, worker=self.worker, now=now, lease=self.lease)
        except Exception:  # noqa: BLE001 - the database hiccupped: the next tick claims it again; the others go on
            log.exception("could not claim %s to %s for %s", item.kind, item.target, item.period)
            return "error", None
        if claim is None:
            return "busy", None
        maybe_sent = claim.taken_over

        def renew() -> None:
            if not ledger.attempt(uow=self.uow, row_id=claim.id, worker=self.worker, now=self._now(now)):
                raise LostClaim("another worker took this claim over")

        def once() -> Sent:
            nonlocal maybe_sent
            if maybe_sent and find is not None:
                found = find()
                if found is not None:
                    log.warning("%s to %s for %s was posted before: found it, not posting again",
                                item.kind, item.target, item.period)
                    return found
            self.wait_turn(platform=platform)
            try:
                return send()
            except Exception as error:
                maybe_sent = retry_after(error) is None
                raise

        policy = retrying(
            policy=self.policy, platform=platform.name, before=renew,
            hold=lambda seconds: self.hold(platform=platform, seconds=seconds),
        )
        try:
            with outer():
                sent = policy(once)
        except LostClaim:
            return "busy", None
        except Exception as error:  # noqa: BLE001 - recorded in the ledger, reported in the digest
            failure = error
            later = None if again is None else (lambda attempts: again(attempts, failure))
            said = blank_urls(text=repr(error))  # a receiver's address may carry a key: never logged or stored whole
            if self._mark(row_id=claim.id, now=now, sent=None, error=said, again=later) == "queued":
                log.warning("%s to %s for %s failed; queued to try again: %s", item.kind, item.target, item.period, said)
                DELIVERIES.labels(kind=item.kind, status="retry").inc()
                return "retry", None
            log.error("%s to %s for %s failed after the last try: %s", item.kind, item.target, item.period, said)
            self.final.add(key_of(item))
            DELIVERIES.labels(kind=item.kind, status="failed").inc()
            return "failed", None
        self._mark(row_id=claim.id, now=now, sent=(sent.platform, sent.message_id), error=None)
        self.final.add(key_of(item))
        DELIVERIES.labels(kind=item.kind, status="sent").inc()
        return "sent", sent

    def _mark(
        self, *, row_id: int, now: datetime, sent: tuple[str, str] | None, error: str | None,
        again: Callable[[int], datetime | None] | None = None,
    ) -> str:
        """Mark the row, trying again while the database hiccups: the message is out, the mark must follow."""
        for attempt in tenacity.Retrying(stop=tenacity.stop_after_attempt(5), reraise=True,
                                         wait=tenacity.wait_exponential(multiplier=0.2, max=5)):
            with attempt:
                return ledger.finish(uow=self.uow, row_id=row_id, worker=self.worker, now=self._now(now), sent=sent,
                                     error=error, again=again)
        raise AssertionError("unreachable: tenacity re-raises the last error")

    def each(self, *, items: Sequence[T], one: Callable[[T], str]) -> list[tuple[T, str]]:
        """Run `one` over many items on a few threads of its own; (item, result) in order, the first error raised.

        Daemon threads, no executor: a drain still going when the process ends neither holds its exit up nor asks a
        thread pool that has shut down for a thread."""
        workers = max(1, min(self.policy.workers, len(items)))
        if workers == 1:
            return [(item, one(item)) for item in items]
        results: list[str] = [""] * len(items)
        errors: list[BaseException] = []
        lock = threading.Lock()
        order = iter(range(len(items)))

        def work() -> None:
            while True:
                with lock:
                    index = None if errors else next(order, None)
                if index is None:
                    return
                try:
                    results[index] = one(items[index])
                except BaseException as error:  # noqa: BLE001 - raised again in the caller's thread
                    with lock:
                        errors.append(error)
                    return

        threads = [threading.Thread(target=work, name="krbot-send", daemon=True) for _ in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        return list(zip(items, results, strict=True))

    def fan_out(
        self, *, items: Sequence[T], one: Callable[[T], str], taken: Callable[[Sequence[T]], set[Key]]
    ) -> list[tuple[T, str]]:
        """Like `each`, for many items that other replicas may be sending too: start at a random place in the
        list and ask the ledger a chunk at a time what is already taken, so replicas spread over the list
        instead of queueing behind each other's claims. A taken item counts as "busy"."""
        if len(items) <= CHUNK:
            return self.each(items=items, one=one)
        start = random.randrange(len(items))
        order = [*items[start:], *items[:start]]
        known: dict[int, set[Key]] = {}
        lock = threading.Lock()

        def checked(index: int) -> str:
            chunk = index // CHUNK
            with lock:
                if chunk not in known:
                    known[chunk] = taken(order[chunk * CHUNK:(chunk + 1) * CHUNK])
            return "busy" if key_of(order[index]) in known[chunk] else one(order[index])

        results = self.each(items=list(range(len(order))), one=checked)  # type: ignore[arg-type]
        return [(order[index], result) for index, result in results]

    def notify(self, *, item: Slot, platform: Any, person: Any, text: str, now: datetime) -> str:
        """Tell one person something once (a notice after an ack, an escalation): "sent", "failed" or "busy".

        Build `item` with `notice(...)`: the same notice for the same cause is one ledger row, so told once.
        """
        key = idempotency_key(item)
        status, _ = self.send(
            item=item, now=now, platform=platform,
            send=lambda: platform.notify(person=person, text=text, idempotency_key=key),
        )
        return status


def _notices(*, uow: UnitOfWork, platform: str, reply: Any, workspace: str, cause: str,
             now: datetime) -> list[tuple[Message, Any, str]]:
    """(ledger item, person, text) of each person a stored reply names who is reachable on `platform`."""
    from bot import services
    from bot.i18n import translate

    if not reply.notices:
        return []
    workspace_id = services.workspace_id_of(uow=uow, workspace=workspace)
    found = []
    for told in reply.notices:
        person = services.person_of(uow=uow, key=told.person, at=now, workspace=workspace)
        if person is None or not getattr(person, f"{platform}_id", True):  # no id on this platform: skip
            continue
        item = notice(workspace_id=workspace_id, person=person.key, cause=f"{cause}:{told.key}", now=now)
        found.append((item, person, translate(told.key, lang=reply.lang, locale=told.locale, **told.params)))
    return found


def tell_notices(*, uow: UnitOfWork, platform: Any, reply: Any, workspace: str, cause: str, now: datetime) -> None:
    """Tell each person a stored reply names (ask decided, goal changed, status dropped) on `platform`, through the
    ledger: one row per person and cause, so a retried or replayed request tells nobody twice."""
    told = _notices(uow=uow, platform=platform.name, reply=reply, workspace=workspace, cause=cause, now=now)
    box = Outbox(uow=uow)
    for item, person, text in told:
        box.notify(item=item, platform=platform, person=person, text=text, now=now)


# ---------------------------------------------------------------- follow-ups owed for what a request stored
# One path for both platforms: a request's transaction queues its follow-ups (an answer after the ack, a notice, a
# Feishu reply) with what they send; after the commit they are sent through the outbox; what a stopped process still
# owed is found by `owed` at the next start or sweep, and sent once.

OWED = ("answer", "notice", "reply")  # the kinds a request's follow-up owes, queued in the request's own transaction
OWED_LEASE = timedelta(seconds=20)  # a follow-up's claim older than this is a dead process's: taken over (found first)


@dataclass(frozen=True, slots=True)
class Owed:
    """A follow-up a request's transaction queued: what it sends, and the lease to claim it with (none when the process
    that held it is gone)."""

    item: Message
    payload: dict[str, Any]
    lease: timedelta
    claimed_at: datetime


def owe(*, uow: UnitOfWork, rows: Sequence[tuple[Message, dict[str, Any]]]) -> None:
    """Queue follow-ups with what they send, in the transaction under way (inside `uow.atomic()`: the request's own), so
    that a crash after the ack leaves them owed instead of lost; a row already there is left as it is."""
    ledger.owe(uow=uow, items=rows)


def owe_notices(*, uow: UnitOfWork, platform: str, reply: Any, workspace: str, cause: str, now: datetime) -> None:
    """Queue the notices `tell_notices` will send for this reply, in the transaction that stores it (so a crash after
    the ack leaves them owed, and `tell_notices` claims the same rows: told once)."""
    told = _notices(uow=uow, platform=platform, reply=reply, workspace=workspace, cause=cause, now=now)
    owe(uow=uow, rows=[(item, {"platform": platform, "workspace": workspace, "person": person.key, "text": text})
                       for item, person, text in told])


def owed(*, uow: UnitOfWork, platform: str, now: datetime, lease: timedelta = OWED_LEASE) -> list[Owed]:
    """Follow-ups still owed on `platform`: queued, or claimed by a process of this host that is gone (taken at once)
    or by one whose lease ran out; oldest first."""
    found = []
    for row in ledger.owed(uow=uow, kinds=OWED):
        payload = dict(row.payload or {})
        if payload.get("platform", row.period.partition(":")[0]) != platform:  # Feishu's replies: "feishu:<cause>"
            continue
        taken = lease
        if row.status == "claimed":
            if claimed_by_a_dead_process(worker=row.claimed_by):
                taken = timedelta(0)
            elif row.claimed_at >= now - lease:
                continue  # a live sender's, or not yet expired
        item = Message(workspace_id=row.workspace_id, kind=row.kind, target=row.target, period=row.period,
                       slot=row.claimed_at)
        found.append(Owed(item=item, payload=payload, lease=taken, claimed_at=row.claimed_at))
    return found


def notice_send(*, uow: UnitOfWork, platform: Any, item: Slot, payload: dict[str, Any]) -> Sent:
    """Send an owed notice to the person it names, as the OKR file has them now (one who left: given up, not retried)."""
    from bot import services

    person = services.person_of(uow=uow, key=str(payload.get("person")), at=datetime.now(UTC),
                                workspace=payload.get("workspace"))
    if person is None:
        raise GiveUp(f"{payload.get('person')} is no longer in the OKR file")
    return platform.notify(person=person, text=str(payload.get("text") or ""), idempotency_key=idempotency_key(item))


def claimed_by_a_dead_process(*, worker: str | None) -> bool:
    """True when `worker` (host:pid:suffix) ran on this host in a process that is gone: its claim can be taken now."""
    host, _, rest = (worker or "").partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit() or int(pid_text) == os.getpid():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, someone else's
        return False
    return False
