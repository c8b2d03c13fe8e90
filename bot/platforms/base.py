"""The neutral vocabulary every chat backend speaks (errbot-style): a platform sends, serves and reports health."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.core import model
from bot.core.digest import Digest


@dataclass(frozen=True, slots=True)
class Reminder:
    """What a reminder or chaser DM carries: the person's KRs with last value and target (list_krs rows)."""

    workspace: str
    lang: str
    person: model.Person
    rows: Sequence[dict[str, Any]]
    chaser: bool = False

    @property
    def locale(self) -> str | None:
        """The locale the person's numbers are written in (the rows carry it), None for the language's way."""
        return next((m.get("locale") for row in self.rows for m in row.get("measures", ())), None)

    @property
    def words_only(self) -> bool:
        """True when every number of the person's KRs is synced from a data source: ask only for words (§9)."""
        measures = [m for row in self.rows for m in row.get("measures", ())]
        return bool(measures) and all(m.get("synced") for m in measures)


@dataclass(frozen=True, slots=True)
class Sent:
    """A message the platform accepted: its id (for updates and the delivery ledger)."""

    platform: str
    message_id: str
    extra: dict[str, Any] = field(default_factory=dict)


class Platform(Protocol):
    """One chat backend (Slack, Feishu, console): the scheduler and services reach people only through this."""

    name: str

    def send_reminder(self, *, reminder: Reminder, idempotency_key: str) -> Sent:
        """DM one reminder (or chaser) with a way to check in; raises on failure so the caller retries."""
        ...

    def post_digest(self, *, digest: Digest, channel: str, idempotency_key: str) -> Sent:
        """Post the digest to the boss channel: conclusions first, the rest threaded or folded."""
        ...

    def notify(self, *, person: model.Person, text: str, idempotency_key: str) -> Sent:
        """Tell one person something (an ask decided, a goal changed, a KR gone stale)."""
        ...

    def routes(self) -> list[Any]:
        """Starlette routes this platform serves in HTTP mode (empty when it needs none)."""
        ...

    def start(self) -> None:
        """Open long-lived connections (Socket Mode, Feishu long connection), if this platform uses them."""
        ...

    def stop_intake(self) -> None:
        """Take no new request or event (SIGTERM): what was received already is still handled and answered."""
        ...

    def drain(self, *, timeout: float) -> bool:
        """Wait up to `timeout` seconds for what is in flight and what it owes; True when all finished."""
        ...

    def stop(self) -> None:
        """Close what start() opened."""
        ...

    def healthy(self) -> bool:
        """True while the platform's connection is usable."""
        ...

    def reaches(self, *, person: model.Person) -> bool:
        """Whether this platform can send to the person (Slack: a member id; Feishu: an open id; the console: anyone)."""
        ...

    def installed_in(self, *, workspace: str | None) -> bool:
        """Whether krbot is still installed where this platform reaches `workspace` (False after an uninstall)."""
        ...


class Drains:
    """The stop_intake/drain defaults of a platform with nothing of its own to drain (its stop() finishes its work)."""

    def stop_intake(self) -> None:
        """Nothing to stop taking before stop()."""

    def drain(self, *, timeout: float) -> bool:
        """Nothing in flight to wait for."""
        return True


class InstalledEverywhere:
    """The installed_in of a platform that no workspace can uninstall krbot from (Feishu's one app, the console)."""

    def installed_in(self, *, workspace: str | None) -> bool:
        """Always installed."""
        return True
