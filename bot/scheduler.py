"""The schedule's jobs — reminders, chasers and the weekly digest — each sent once per period through the outbox."""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot import services, webhooks
from bot.core.errors import KrbotError
from bot.i18n import translate
from bot.jobs.registry import JOBS
from bot.outbox import Outbox, idempotency_key, worker_id
from bot.owed import (
    CHASER_LEAD,
    DAYS,
    GRACE,
    Due,
    Outcome,
    Weekly,
    away_now,
    last_slot,
    next_slot,
    next_times,
    owed_chasers,
    owed_digests,
    owed_reminders,
    parse_weekly,
    period_of,
    slot_on,
    week_slot,
)
from bot.platforms.base import Platform, Reminder, Sent
from bot.retrying import RetryPolicy, retry_after
from bot.syncing import sync_job
from storage import ledger
from storage.db import UnitOfWork
from storage.ledger import LEASE, Key, claim, key_of, record_missed, settled
from storage.models import DeliveryRow

__all__ = [
    "CHASER_LEAD", "DAYS", "GRACE", "JOBS", "Due", "KrbotError", "Outcome", "RetryPolicy", "Runner",
    "Weekly", "away_now", "claim", "last_slot", "next_slot", "next_times", "owed_chasers", "owed_digests",
    "owed_reminders", "parse_weekly", "period_of", "retry_after", "slot_on", "week_slot", "worker_id",
]

log = logging.getLogger("krbot.scheduler")

GONE = object()  # the platforms that reach an item lost their install in its workspace
FINAL_MEMORY = 200_000
PRESYNC = 20.0  # seconds a reminder or digest waits for its pull; past that it goes out with the values stored
THREAD = "thread"


def _installed(platform: Platform, workspace: str, seen: dict[tuple[str, str], bool]) -> bool:
    """Whether krbot is still installed where `platform` reaches `workspace`; a "no" is logged once per job run."""
    key = (platform.name, workspace)
    if key not in seen:
        seen[key] = platform.installed_in(workspace=workspace)
        if not seen[key]:
            log.warning("%s: krbot's install for workspace %s is gone (uninstalled or revoked): skipped, nothing sent",
                        platform.name, workspace)
    return seen[key]


def _threaded(platform: Any) -> bool:
    """True for a platform that posts a digest as a headline and parts, each a ledger item (Slack, Feishu)."""
    return callable(getattr(platform, "digest_posts", None))


@dataclass
class Runner:
    """Works out what is owed and hands each message to the outbox: claim, send with retries, mark."""

    uow: UnitOfWork
    platforms: Sequence[Platform]
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    worker: str = field(default_factory=worker_id)
    lease: timedelta = LEASE
    clock: Callable[[], datetime] | None = None
    rates: dict[str, float] = field(default_factory=dict)
    presync: float = PRESYNC
    outbox: Outbox = field(init=False)

    def __post_init__(self) -> None:
        self.outbox = Outbox(uow=self.uow, policy=self.policy, worker=self.worker, lease=self.lease, clock=self.clock,
                             rates=self.rates)

    @property
    def final(self) -> set[Key]:
        """Keys known final (sent, failed, missed): a cache, the ledger stays the judge."""
        return self.outbox.final

    def _settled(self, *, items: Sequence[Due], now: datetime) -> set[Key]:
        """Keys no one may claim now; final states are remembered, so an idle tick reads the ledger rarely."""
        unknown = [item for item in items if key_of(item) not in self.final]
        live: set[Key] = set()
        if unknown:
            final, live = settled(uow=self.uow, items=unknown, now=now, lease=self.lease)
            self.final.update(final)
        return self.final | live

    def message_of(self, *, item: Due) -> str | None:
        """The platform's id of a message this ledger marked sent."""
        return ledger.sent_message(uow=self.uow, item=item)

    def _platform_for(self, item: Due, seen: dict[tuple[str, str], bool]) -> Any:
        """The platform an item goes out on: its own, or the first that reaches its person where krbot is still
        installed; None when none reaches them, GONE when those that do lost their install."""
        if item.platform is not None:
            return item.platform if _installed(item.platform, item.workspace, seen) else GONE
        assert item.person is not None
        reaching = [p for p in self.platforms if p.reaches(person=item.person)]
        return next((p for p in reaching if _installed(p, item.workspace, seen)), GONE if reaching else None)

    def installed_only(self, *, items: Sequence[Due], outcome: Outcome) -> list[Due]:
        """The items whose platform is still installed for their workspace; the others counted "not installed"."""
        seen: dict[tuple[str, str], bool] = {}
        kept = [item for item in items if self._platform_for(item, seen) is not GONE]
        outcome.counts["not installed"] += len(items) - len(kept)
        return kept

    def send_all(self, *, items: Sequence[Due], now: datetime, payload: Callable[[Due, Any, str], Sent]) -> Outcome:
        """Send many items through the outbox concurrently; count the results (a workspace whose install is gone is
        skipped, not failed)."""
        outcome = Outcome()
        seen: dict[tuple[str, str], bool] = {}
        chosen = {id(item): self._platform_for(item, seen) for item in items}  # asked once, before the threads

        def one(item: Due) -> str:
            platform = chosen[id(item)]
            if platform is None:
                return "unreachable"
            if platform is GONE:
                return "not installed"
            key = idempotency_key(item)
            status, _ = self.outbox.send(item=item, now=now, platform=platform,
                                         send=lambda: payload(item, platform, key))
            return status

        def taken(chunk: Sequence[Due]) -> set[Key]:
            return self._settled(items=chunk, now=now)

        for item, result in self.outbox.fan_out(items=items, one=one, taken=taken):
            outcome.counts[result] += 1
            if result == "sent":
                outcome.sent.append(item)
        return outcome

    # ------------------------------------------------------------ the jobs

    def sync(self, *, view: services.ScheduleView, now: datetime, force: bool = False, period: str | None = None,
             people: set[str] | None = None) -> Outcome:
        """Pull the workspace's data sources owed now, once per slot (bot/syncing.py); tell owners of failures."""
        return sync_job(uow=self.uow, outbox=self.outbox, view=view, now=now, force=force, period=period,
                        people=people, worker=self.worker,
                        reach=lambda person: next((p for p in self.platforms if p.reaches(person=person)), None))

    def sync_first(self, *, view: services.ScheduleView, now: datetime, period: str,
                   people: set[str] | None = None) -> Outcome:
        """The pull before a reminder or digest, waited for `presync` seconds at most: past that the message goes out
        with the values stored (the pull goes on in its own thread, or is left; its claim keeps others off it)."""
        done: list[Outcome] = []
        thread = threading.Thread(
            target=lambda: done.append(self.sync(view=view, now=now, period=period, people=people)),
            name=f"krbot-presync-{view.workspace_id}", daemon=True,
        )
        thread.start()
        thread.join(self.presync)
        if done:
            return done[0]
        log.warning("the pull before %s of %s did not end within %.0fs: sent with the values stored, the pull goes on",
                    period, view.workspace, self.presync)
        late = Outcome()
        late.counts["pull late"] += 1
        return late

    def _pending(self, *, due: list[Due], late: list[Due], now: datetime, outcome: Outcome) -> list[Due]:
        """Drop what the ledger already settled; log what is past its grace window as missed."""
        done = self._settled(items=[*due, *late], now=now)
        for item in late:
            if key_of(item) not in done:
                if record_missed(uow=self.uow, item=item, now=now):
                    outcome.counts["missed"] += 1
                self.final.add(key_of(item))
        if outcome.counts["missed"]:
            log.warning("%d %s(s) of %s were due before the grace window and are logged as missed, not sent",
                        outcome.counts["missed"], late[0].kind, late[0].period)
        pending = [item for item in due if key_of(item) not in done]
        outcome.counts["already"] += len(due) - len(pending)
        return pending

    def reminders(self, *, view: services.ScheduleView, now: datetime, force: bool = False, chaser: bool = False) -> Outcome:
        """Reminders (or chasers) owed in one workspace: each owner's KRs with last value and target."""
        outcome = Outcome()
        owed = owed_chasers if chaser else owed_reminders
        due, late, skipped = owed(view=view, now=now, force=force)
        outcome.counts["skipped"] += skipped
        pending = self._pending(due=due, late=late, now=now, outcome=outcome)
        if not pending:
            return outcome
        if not chaser:  # the numbers pulled first, so the reminder shows them (§9)
            outcome.add(self.sync_first(view=view, now=now, period=f"reminder {pending[0].period}",
                                        people={item.target for item in pending}))
        rows = services.reminder_rows(
            uow=self.uow, people=[item.target for item in pending], at=now, workspace=view.workspace
        )

        def payload(item: Due, platform: Any, key: str) -> Sent:
            assert item.person is not None
            reminder = Reminder(
                workspace=view.workspace, lang=view.lang, person=item.person, rows=rows.get(item.target, []),
                chaser=chaser,
            )
            return platform.send_reminder(reminder=reminder, idempotency_key=key)

        outcome.add(self.send_all(items=pending, now=now, payload=payload))
        return outcome

    # ------------------------------------------------------------ the digest: a headline and its parts

    def _queue_digest(self, *, items: Sequence[Due], digest: Any, now: datetime) -> None:
        """Rows first: each threaded platform's headline and parts, with what each posts, before any is sent."""
        rows: list[tuple[Due, dict[str, Any]]] = []
        for item in items:
            about = {"workspace": item.workspace, "period": item.period}
            for n, post in enumerate(item.platform.digest_posts(digest=digest)):
                part = item if n == 0 else Due(
                    kind=THREAD, workspace_id=item.workspace_id, workspace=item.workspace, lang=item.lang,
                    target=f"{item.target}#{n}", period=item.period, slot=item.slot, platform=item.platform,
                )
                rows.append((part, {"post": post, "channel": item.channel, "about": about}))
        ledger.enqueue(uow=self.uow, items=rows, now=now)

    def _send_post(self, *, item: Due, row: DeliveryRow, thread: str | None, now: datetime) -> str:
        """One queued post through the outbox, looked up on the platform first when an earlier try may have posted it."""
        platform, key = item.platform, idempotency_key(item)
        assert row.payload is not None
        post, channel, about = row.payload["post"], row.payload["channel"], row.payload["about"]
        status, _ = self.outbox.send(
            item=item, now=now, platform=platform,
            send=lambda: platform.send_post(post=post, channel=channel, thread=thread, idempotency_key=key, about=about),
            find=lambda: platform.find_post(channel=channel, thread=thread, idempotency_key=key,
                                            workspace=about.get("workspace")),
        )
        return status

    def _post_group(self, *, head: Due, head_row: DeliveryRow | None, parts: list[DeliveryRow], now: datetime) -> Outcome:
        """The headline (when still owed), then its parts in order, each a ledger item retried on its own."""
        outcome = Outcome()
        if head_row is not None:
            status = self._send_post(item=head, row=head_row, thread=None, now=now)
            outcome.counts[status] += 1
            if status != "sent":
                return outcome
            outcome.sent.append(head)
        thread = ledger.sent_message(uow=self.uow, item=head)
        if thread is None:
            return outcome
        for row in sorted(parts, key=lambda part: int(part.target.rsplit("#", 1)[1])):
            part = Due(kind=THREAD, workspace_id=head.workspace_id, workspace=head.workspace, lang=head.lang,
                       target=row.target, period=row.period, slot=head.slot, platform=head.platform)
            outcome.counts["part " + self._send_post(item=part, row=row, thread=thread, now=now)] += 1
        return outcome

    def _post_threaded(self, *, view: services.ScheduleView, periods: set[str], now: datetime) -> Outcome:
        """Every headline and part of this period's digest still owed in the ledger (new, or left by a crash)."""
        outcome = Outcome()
        heads = {(row.target, row.period): row for row in ledger.unfinished(
            uow=self.uow, workspace_id=view.workspace_id, kind="digest", now=now, lease=self.lease) if row.period in periods}
        parts: dict[tuple[str, str], list[DeliveryRow]] = defaultdict(list)
        for row in ledger.unfinished(uow=self.uow, workspace_id=view.workspace_id, kind=THREAD, now=now, lease=self.lease):
            if row.period in periods:
                parts[(row.target.rsplit("#", 1)[0], row.period)].append(row)
        by_name = {platform.name: platform for platform in self.platforms if _threaded(platform)}
        groups = []
        for target, period in sorted({*heads, *parts}):
            platform = by_name.get(target.split(":", 1)[0])
            if platform is not None:
                head = Due(kind="digest", workspace_id=view.workspace_id, workspace=view.workspace, lang=view.lang,
                           target=target, period=period, slot=now, platform=platform)
                groups.append((head, heads.get((target, period)), parts.get((target, period), [])))
        for _, done in self.outbox.each(items=groups, one=lambda group: self._post_group(
                head=group[0], head_row=group[1], parts=group[2], now=now)):
            outcome.add(done)  # type: ignore[arg-type]
        return outcome

    def digest(self, *, view: services.ScheduleView, now: datetime, force: bool = False, by_hand: bool = False) -> Outcome:
        """The digest owed to each boss channel, then a word to the accountable person of each stale KR and to
        the owner of each overdue task (once per task and due date); `by_hand`: the digest of this minute only."""
        outcome = Outcome()
        due, late, _ = owed_digests(view=view, platforms=self.platforms, now=now, force=force, by_hand=by_hand)
        due = self.installed_only(items=due, outcome=outcome)
        pending = self._pending(due=due, late=late, now=now, outcome=outcome)
        escalations: Any = ()
        overdue: Any = ()
        if pending:
            outcome.add(self.sync_first(view=view, now=now, period=f"digest {pending[0].period}"))
            run = services.digest_run(uow=self.uow, as_of=now, workspace=view.workspace)
            digest, escalations, overdue = run.digest, run.escalations, run.overdue
            self._queue_digest(items=[item for item in pending if _threaded(item.platform)], digest=digest, now=now)

            def post(item: Due, platform: Any, key: str) -> Sent:
                assert item.channel is not None
                return platform.post_digest(digest=digest, channel=item.channel, idempotency_key=key)

            outcome.add(self.send_all(items=[item for item in pending if not _threaded(item.platform)], now=now,
                                      payload=post))
        if any(_threaded(item.platform) for item in due):
            outcome.add(self._post_threaded(view=view, periods={item.period for item in due}, now=now))
        if not pending or by_hand:  # the stale and overdue words belong to the weekly digest
            return outcome
        notices = [
            Due(
                kind="escalation", workspace_id=view.workspace_id, workspace=view.workspace, lang=view.lang,
                target=f"{stale.code}>{stale.person.key}",
                period="since " + (stale.last_at.date().isoformat() if stale.last_at else "start"),
                slot=pending[0].slot, person=stale.person,
                text=translate(
                    "scheduler.escalation", lang=view.lang, code=stale.code, title=stale.title, owner=stale.owner,
                    days=stale.days, last=stale.last_at.date().isoformat() if stale.last_at else "",
                ),
            )
            for stale in escalations
        ]
        today = now.astimezone(ZoneInfo(view.timezone)).date()
        notices += [
            Due(
                kind="overdue", workspace_id=view.workspace_id, workspace=view.workspace, lang=view.lang,
                target=f"{kr.code}>{task.title}>{person.key}"[:200], period="due " + task.due.isoformat(),
                slot=pending[0].slot, person=person,
                text=translate(
                    "scheduler.overdue", lang=view.lang, code=kr.code, title=task.title, due=task.due.isoformat(),
                    days=(today - task.due).days,
                ),
            )
            for person, kr, task in overdue
        ]
        told = self._settled(items=notices, now=now)
        todo = [item for item in notices if key_of(item) not in told]

        def tell(item: Due, platform: Any, key: str) -> Sent:
            assert item.person is not None and item.text is not None
            return platform.notify(person=item.person, text=item.text, idempotency_key=key)

        escalated = self.send_all(items=todo, now=now, payload=tell)
        outcome.counts["escalated"] += escalated.counts["sent"]
        outcome.counts["failed"] += escalated.counts["failed"]
        return outcome

    def run(
        self, *, job: str, now: datetime, force: bool = False, views: list[services.ScheduleView] | None = None
    ) -> Outcome:
        """One job over every workspace at `now`; `force` sends what the current period owes whatever the hour."""
        if job not in JOBS:
            raise KrbotError("scheduler.unknown_job", word=job, known=", ".join(JOBS))
        outcome = Outcome()
        for view in services.schedule_views(uow=self.uow, at=now) if views is None else views:
            try:
                if job == "sync":
                    outcome.add(self.sync(view=view, now=now, force=force))
                elif job == "digest":
                    outcome.add(self.digest(view=view, now=now, force=force))
                elif job == "webhooks":  # after the digest, so a digest just posted is told at once
                    outcome.counts.update(webhooks.job(uow=self.uow, platforms=self.platforms, view=view, now=now))
                else:
                    outcome.add(self.reminders(view=view, now=now, force=force, chaser=job == "chasers"))
            except Exception:  # noqa: BLE001 - one workspace failing never stops the others
                log.exception("%s failed for workspace %s", job, view.workspace)
                outcome.counts["error"] += 1
        return outcome

    def tick(self, *, now: datetime) -> Outcome:
        """Everything due at `now`, one job after another (a simulation's tick with its own clock, and a replica in the
        process tests); `krbot run`'s timer starts each job in a lane of its own instead (bot/timer.py)."""
        outcome = Outcome()
        if len(self.final) > FINAL_MEMORY:
            self.final.clear()  # only a cache: the ledger stays the judge
        views = services.schedule_views(uow=self.uow, at=now)
        for job in JOBS:
            outcome.add(self.run(job=job, now=now, views=views))
        return outcome
