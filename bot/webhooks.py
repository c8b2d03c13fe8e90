"""Webhook deliveries sent through the outbox: drained right after the commit that queued them, and by the scheduler's
`webhooks` job (which takes over what a crashed process left, queues digest.posted, and tells admins of give-ups)."""

from __future__ import annotations

import atexit
import logging
import threading
import weakref
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bot import services
from bot.core.webhooks import KIND
from bot.i18n import translate
from bot.metrics import WEBHOOKS
from bot.outbox import Message, Outbox, notice, worker_id
from bot.retrying import RetryPolicy, pause
from bot.webhook_post import TIMEOUT, Receiver, WebhookFailed, post
from storage import ledger, webhooks
from storage.db import UnitOfWork
from storage.ledger import key_of
from storage.models import DeliveryRow

log = logging.getLogger("krbot.webhooks")

# Within one drain: a receiver's Retry-After (up to 10 s) is waited out once; any other failure waits for a later drain.
IN_DRAIN = RetryPolicy(tries=1, backoff=1.0, backoff_max=10.0, rate_limited_waits=1, workers=8, every_failure=False)
# Across drains: 8 tries in all, 30 s, 1, 2, 4, 8, 16 and 32 min apart (tenacity's exponential wait, with jitter), so
# the last try is about an hour after the first; a longer Retry-After is honoured.
ACROSS = RetryPolicy(tries=8, backoff=30.0, backoff_max=3600.0, rate_limited_waits=8)
LEASE = timedelta(minutes=2)  # a claim older than this is a crashed sender's: taken over (a try lasts ≤ 10 s)
TOLD_WITHIN = timedelta(days=2)  # failures this recent get their admin DM (once each, through the ledger)


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

    def __post_init__(self) -> None:
        self.outbox = Outbox(uow=self.uow, policy=self.policy, worker=self.worker, lease=self.lease)

    def later(self, *, attempts: int, error: BaseException) -> datetime | None:
        """When a failed delivery is tried again after `attempts` tries, or None to give up."""
        seconds = pause(policy=self.schedule, error=error, failures=attempts, limited=0)
        if seconds is None or attempts >= self.schedule.tries:
            return None
        asked = error.asked if isinstance(error, WebhookFailed) and error.asked is not None else 0.0
        return datetime.now(UTC) + timedelta(seconds=max(seconds, asked))

    def deliver(self, *, row: DeliveryRow, now: datetime) -> str:
        """One row through the outbox: "sent", "retry" (queued for later), "failed" (given up) or "busy"."""
        payload = row.payload or {}
        item = Message(workspace_id=row.workspace_id, kind=KIND, target=row.target, period=row.period, slot=now)
        status, _ = self.outbox.send(
            item=item, now=now, platform=Receiver(name=row.target),
            send=lambda: post(payload=payload, timeout=self.timeout),
            again=lambda attempts, error: self.later(attempts=attempts, error=error),
        )
        if status != "busy":
            WEBHOOKS.labels(event=payload.get("event", "?"), outcome=status).inc()
        return status

    def drain(self, *, now: datetime | None = None, workspace_id: int | None = None) -> Counter[str]:
        """Send every webhook row due now (of one workspace, when given); the count of each result."""
        moment = now or datetime.now(UTC)
        counts: Counter[str] = Counter()
        while True:
            rows = webhooks.due(uow=self.uow, workspace_id=workspace_id, now=moment, lease=self.lease)
            results = self.outbox.each(items=rows, one=lambda row: self.deliver(row=row, now=moment))
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
        text = translate("webhook.failed", lang=lang, event=payload.get("event", "?"), url=payload.get("url", ""),
                         id=row.period, attempts=row.attempts, error=(row.error or "")[:300])
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
                if not woken and not wanted:
                    self._thread = None
                    return
            uow = self._uow()
            for workspace_id in sorted(wanted) if uow is not None else ():
                try:
                    Drainer(uow=uow).drain(workspace_id=workspace_id)
                except Exception:  # noqa: BLE001 - the scheduler's job sends what this missed
                    log.exception("webhook drain after commit failed for workspace %s", workspace_id)
            del uow
            with self._lock:
                if not self._wanted:
                    self._idle.set()


_KICKERS: weakref.WeakKeyDictionary[Any, Kicker] = weakref.WeakKeyDictionary()
_INSTALLED = threading.Lock()
IDLE_END = 60.0  # seconds without a kick after which the drain thread ends
EXIT_WAIT = 5.0  # seconds a finishing process (`krbot checkin`, an import) gives its drains before it exits


def _after_commit(session: Any) -> None:
    queued = webhooks.queued_in(session)
    if queued:
        kicker = _KICKERS.get(session.get_bind())
        if kicker is not None:
            kicker.kick(workspace_ids=queued)


def _after_rollback(session: Any) -> None:
    webhooks.queued_in(session)  # nothing was queued after all


def install(*, uow: UnitOfWork) -> Kicker:
    """Drain this database's webhooks right after each commit that queued some (best effort, in the background)."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    with _INSTALLED:
        if not event.contains(Session, "after_commit", _after_commit):
            event.listen(Session, "after_commit", _after_commit)
            event.listen(Session, "after_rollback", _after_rollback)
            atexit.register(_finish)
        kicker = _KICKERS.get(uow.engine)
        if kicker is None:
            kicker = _KICKERS[uow.engine] = Kicker(uow=uow)
    return kicker


def _finish() -> None:
    """At exit: give the drains under way a few seconds (what they leave, the scheduler's job takes over)."""
    for kicker in list(_KICKERS.values()):
        kicker.wait(timeout=EXIT_WAIT)
