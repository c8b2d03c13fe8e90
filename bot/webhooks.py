"""Webhook deliveries sent through the outbox: drained right after the commit that queued them, and by the scheduler's
`webhooks` job (which takes over what a crashed process left, queues digest.posted, and tells admins of give-ups)."""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bot import services
from bot.core.redact import blank_url, blank_urls
from bot.core.webhooks import KIND
from bot.i18n import translate
from bot.metrics import WEBHOOKS
from bot.outbox import Message, Outbox, notice, worker_id
from bot.platforms.base import Sent
from bot.retrying import RetryPolicy, pause
from bot.webhook_post import TIMEOUT, WAIT_CAP, Receiver, WebhookFailed, post
from storage import ledger, webhooks
from storage.db import UnitOfWork
from storage.ledger import key_of
from storage.models import DeliveryRow

log = logging.getLogger("krbot.webhooks")

# Within one drain: a receiver's Retry-After (up to WAIT_CAP) is waited out once; any other failure waits for a later drain.
IN_DRAIN = RetryPolicy(tries=1, backoff=1.0, backoff_max=10.0, rate_limited_waits=1, workers=8, every_failure=False)
# Across drains: 8 tries in all, 30 s, 1, 2, 4, 8, 16 and 32 min apart (tenacity's exponential wait, with jitter), so
# the last try is about an hour after the first; a longer Retry-After is honoured.
ACROSS = RetryPolicy(tries=8, backoff=30.0, backoff_max=3600.0, rate_limited_waits=8)
# The longest a drain holds one delivery's claim: each try (one, and one more after each Retry-After waited out) with its
# whole-exchange deadline (TIMEOUT) after its turn at the receiver's gate (a Retry-After another sender was told, at most
# WAIT_CAP), the Retry-After waits themselves, and the marks after. The lease is twice that, so no second process takes a
# claim over while its try may still be going; and a claim is renewed while its try is in flight (`Drainer.keep`), so
# even a try that outlived its deadline is never sent again meanwhile: only a dead process's claim runs out.
TRIES_IN_DRAIN = IN_DRAIN.tries + IN_DRAIN.rate_limited_waits
MARKING = 10.0  # seconds for the marks after a try (retried while the database hiccups)
LONGEST_CLAIM = TRIES_IN_DRAIN * (TIMEOUT + WAIT_CAP) + IN_DRAIN.rate_limited_waits * WAIT_CAP + MARKING
LEASE = timedelta(seconds=2 * LONGEST_CLAIM)  # a claim older than this is a crashed sender's: taken over
TOLD_WITHIN = timedelta(days=2)  # failures this recent get their admin DM (once each, through the ledger)


def _real_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Drainer:
    """Sends queued webhook rows: claim, signed POST under the retry policy, mark sent or queue again or give up."""

    uow: UnitOfWork
    policy: RetryPolicy = IN_DRAIN
    schedule: RetryPolicy = ACROSS
    lease: timedelta = LEASE
    timeout: float = TIMEOUT
    worker: str = field(default_factory=worker_id)
    outbox: Outbox = field(init=False)
    _flying: set[int] = field(default_factory=set, init=False)  # rows whose try is in flight: their claims renewed
    _keeper: threading.Thread | None = field(default=None, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        self.outbox = Outbox(uow=self.uow, policy=self.policy, worker=self.worker, lease=self.lease, clock=_real_now)

    def later(self, *, attempts: int, error: BaseException) -> datetime | None:
        """When a failed delivery is tried again after `attempts` tries, or None to give up."""
        seconds = pause(policy=self.schedule, error=error, failures=attempts, limited=0)
        if seconds is None or attempts >= self.schedule.tries:
            return None
        asked = error.asked if isinstance(error, WebhookFailed) and error.asked is not None else 0.0
        return datetime.now(UTC) + timedelta(seconds=max(seconds, asked))

    def keep(self, *, row_id: int, send: Callable[[], Sent]) -> Sent:
        """One try, its claim renewed every quarter lease while it is in flight (a receiver however slow keeps it)."""
        with self._lock:
            self._flying.add(row_id)
            if self._keeper is None:
                self._keeper = threading.Thread(target=self._renew, name="krbot-webhook-leases", daemon=True)
                self._keeper.start()
        try:
            return send()
        finally:
            with self._lock:
                self._flying.discard(row_id)

    def _renew(self) -> None:
        """While tries are in flight: renew their claims; the thread ends when none is left."""
        every = self.lease.total_seconds() / 4
        while True:
            time.sleep(every)
            with self._lock:
                flying = set(self._flying)
                if not flying:
                    self._keeper = None
                    return
            try:
                webhooks.renew(uow=self.uow, row_ids=flying, worker=self.worker, now=datetime.now(UTC))
            except Exception:  # noqa: BLE001 - the database hiccupped: the next renewal (within the lease) tries again
                log.warning("could not renew the claims of %d webhook deliveries in flight", len(flying), exc_info=True)

    def deliver(self, *, row: DeliveryRow, now: datetime | None = None) -> str:
        """One row through the outbox: "sent", "retry" (queued for later), "failed" (given up) or "busy".

        Claimed at the real moment it starts (not the drain's), so a long drain never writes a claim already old."""
        payload = row.payload or {}
        moment = now or datetime.now(UTC)
        item = Message(workspace_id=row.workspace_id, kind=KIND, target=row.target, period=row.period, slot=moment)
        status, _ = self.outbox.send(
            item=item, now=moment, platform=Receiver(name=row.target),
            send=lambda: self.keep(row_id=row.id, send=lambda: post(payload=payload, timeout=self.timeout)),
            again=lambda attempts, error: self.later(attempts=attempts, error=error),
        )
        if status != "busy":
            WEBHOOKS.labels(event=payload.get("event", "?"), outcome=status).inc()
        return status

    def drain(self, *, now: datetime | None = None, workspace_id: int | None = None) -> Counter[str]:
        """Send every webhook row due now (of one workspace, when given); the count of each result."""
        counts: Counter[str] = Counter()
        while True:
            rows = webhooks.due(uow=self.uow, workspace_id=workspace_id, now=now or datetime.now(UTC), lease=self.lease)
            results = self.outbox.each(items=rows, one=lambda row: self.deliver(row=row, now=now))
            counts.update(status for _, status in results)
            if len(rows) < 500 or all(status == "busy" for _, status in results):
                return counts


def tell_admins(*, uow: UnitOfWork, platforms: Sequence[Any], workspace_id: int, workspace: str, lang: str,
                now: datetime, outbox: Outbox) -> int:
    """One DM to each admin per webhook delivery given up on (the ledger makes it once); how many were sent."""
    failed = webhooks.failed_since(uow=uow, workspace_id=workspace_id, since=now - TOLD_WITHIN)
    if not failed or not platforms:
        return 0
    owed = []
    for admin in services.workspace_admins(uow=uow, workspace=workspace, at=now):
        platform = next((p for p in platforms if getattr(admin, f"{p.name}_id", True)), None)
        if platform is not None:
            owed += [(admin, platform, row, notice(workspace_id=workspace_id, person=admin.key, now=now,
                                                   cause=f"webhook:{row.target}:{row.period}")) for row in failed]
    final, live = ledger.settled(uow=uow, items=[item for *_, item in owed], now=now)  # read, not claim, what is told
    told = 0
    for admin, platform, row, item in owed:
        if key_of(item) in final or key_of(item) in live:
            continue
        payload = row.payload or {}
        text = translate("webhook.failed", lang=lang, event=payload.get("event", "?"),
                         url=blank_url(url=payload.get("url", "")), id=row.period, attempts=row.attempts,
                         error=blank_urls(text=row.error or "")[:300])
        told += outbox.notify(item=item, platform=platform, person=admin, text=text, now=now) == "sent"
    return told


def job(*, uow: UnitOfWork, platforms: Sequence[Any], view: Any, now: datetime,
        drainer: Drainer | None = None) -> Counter[str]:
    """The scheduler's `webhooks` job for one workspace: digest.posted queued for the digests posted by `now` (the
    schedule's clock), then every due row sent and the admins told of give-ups (on the real clock: these are real
    HTTP tries, whatever time a simulation says)."""
    hooks = webhooks.with_webhooks(uow=uow).get(view.workspace_id)
    drainer = drainer or Drainer(uow=uow)
    counts: Counter[str] = Counter()
    if hooks is not None:
        services.queue_digest_posted(uow=uow, workspace=hooks, workspace_id=view.workspace_id,
                                     since=now - TOLD_WITHIN)
    counts.update(drainer.drain(workspace_id=view.workspace_id))
    counts["escalated"] += tell_admins(uow=uow, platforms=platforms, workspace_id=view.workspace_id,
                                       workspace=view.workspace, lang=view.lang, now=datetime.now(UTC),
                                       outbox=Outbox(uow=uow))
    return +counts  # only what happened: no zero counts in the tick's log


# ---------------------------------------------------------------- right after the commit, in this process


class Kicker:
    """A background thread per database that drains the workspaces a commit just queued webhooks for.

    It holds its unit of work weakly (an app that is gone takes its engine and connections with it), and its thread
    ends after a quiet minute (the next kick starts another)."""

    def __init__(self, *, uow: UnitOfWork) -> None:
        self._uow = weakref.ref(uow)
        self._wanted: set[int] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._thread: threading.Thread | None = None

    def kick(self, *, workspace_ids: set[int]) -> None:
        """Ask for a drain of these workspaces soon; returns at once."""
        with self._lock:
            self._wanted |= workspace_ids
            self._idle.clear()
            self._wake.set()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="krbot-webhooks", daemon=True)
                self._thread.start()

    def wait(self, *, timeout: float) -> bool:
        """Wait until every kicked drain is done (or `timeout` seconds); True when idle."""
        return self._idle.wait(timeout)

    def _run(self) -> None:
        while True:
            woken = self._wake.wait(timeout=IDLE_END)
            with self._lock:
                self._wake.clear()
                wanted, self._wanted = self._wanted, set()
                if (not woken and not wanted) or _CLOSING.is_set():
                    self._thread = None
                    self._idle.set()
                    return
            uow = self._uow()
            for workspace_id in sorted(wanted) if uow is not None else ():
                if _CLOSING.is_set():  # the process is ending: what is left stays queued for the scheduler's job
                    break
                try:
                    Drainer(uow=uow).drain(workspace_id=workspace_id)
                except Exception:  # noqa: BLE001 - the scheduler's job sends what this missed
                    if _CLOSING.is_set():
                        log.info("the process ended during a webhook drain: what it left is sent by the webhooks job")
                    else:
                        log.exception("webhook drain after commit failed for workspace %s", workspace_id)
            del uow
            with self._lock:
                if not self._wanted:
                    self._idle.set()


_KICKERS: weakref.WeakKeyDictionary[Any, Kicker] = weakref.WeakKeyDictionary()
_INSTALLED = threading.Lock()
_CLOSING = threading.Event()  # set when the process ends: no drain starts after it
_GAVE_UP = threading.Event()  # set when a command's wait for its drains ran out: the exit does not wait again
IDLE_END = 60.0  # seconds without a kick after which the drain thread ends
EXIT_WAIT = 5.0  # seconds a finishing process (`krbot checkin`, an import) gives its drains before it exits


def _after_commit(session: Any) -> None:
    queued = webhooks.queued_in(session)
    if queued and not _CLOSING.is_set():
        kicker = _KICKERS.get(session.get_bind())
        if kicker is not None:
            kicker.kick(workspace_ids=queued)


def _after_rollback(session: Any) -> None:
    webhooks.queued_in(session)  # nothing was queued after all


def _at_exit(hook: Callable[[], None]) -> None:
    """Run `hook` when the main thread ends, before the interpreter stops its thread pools (so a drain under way may
    still use them); Python's own `atexit` runs later, after them, where a drain's first send would fail."""
    register = getattr(threading, "_register_atexit", None)  # what concurrent.futures itself uses (CPython ≥ 3.9)
    if register is None:
        atexit.register(hook)
        return
    register(hook)


def install(*, uow: UnitOfWork) -> Kicker:
    """Drain this database's webhooks right after each commit that queued some (best effort, in the background)."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    with _INSTALLED:
        if not event.contains(Session, "after_commit", _after_commit):
            event.listen(Session, "after_commit", _after_commit)
            event.listen(Session, "after_rollback", _after_rollback)
            _at_exit(_finish)
        kicker = _KICKERS.get(uow.engine)
        if kicker is None:
            kicker = _KICKERS[uow.engine] = Kicker(uow=uow)
    return kicker


def finish_drains(*, uow: UnitOfWork | None = None, timeout: float = EXIT_WAIT) -> bool:
    """Wait (at most `timeout` seconds in all) for the drains this process's commits kicked (on `uow`'s database, when
    given); True when all ended. A short command calls it before it returns: what a drain leaves stays owed."""
    end = time.monotonic() + timeout
    kickers = list(_KICKERS.values()) if uow is None else [k for k in (_KICKERS.get(uow.engine),) if k is not None]
    done = all([kicker.wait(timeout=max(0.0, end - time.monotonic())) for kicker in kickers])
    if not done:
        _GAVE_UP.set()
        log.info("webhook drains still under way after %.0fs: what they leave is sent by the webhooks job", timeout)
    return done


def _finish() -> None:
    """At exit: give the drains under way a few seconds (unless a command already did), then let none start."""
    if not _GAVE_UP.is_set():
        finish_drains()
    _CLOSING.set()
