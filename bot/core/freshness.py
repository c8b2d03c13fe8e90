"""Where a number shown in the digest came from (typed or synced), how old it is, and how its data source last went."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.core import model

_SAME = 1e-9


@dataclass(frozen=True, slots=True)
class PullStatus:
    """How a sourced measure's pulls last went (one row of `source_pulls`): the last good pull and the last failure."""

    code: str
    measure: str
    ok_at: datetime | None = None  # the last pull that stored a value
    value: float | None = None  # what it pulled then
    failed_at: datetime | None = None  # the last pull that failed or found nothing
    error: str | None = None  # why, in words an owner can act on


Pulls = Mapping[tuple[str, str], PullStatus]  # by (code, measure name)


@dataclass(frozen=True, slots=True)
class Freshness:
    """A shown number's origin and age: typed or synced, since when, and its source's last failure if it failed last."""

    synced: bool | None  # None: no check-in gave the number (the baseline, or nothing yet)
    at: datetime | None  # when the number was last known: its check-in, or a later good pull that found it again
    age_days: int | None  # whole days since `at`; set when older than the period, or when the last pull failed
    sourced: bool = False  # the measure pulls its value from a data source
    pulled_at: datetime | None = None  # the last good pull at or before the as-of time
    failed_at: datetime | None = None  # set when the last pull at or before the as-of time failed or found nothing
    error: str | None = None  # that failure, in the source's words

    @property
    def typed(self) -> bool:
        """True when a person typed the number."""
        return self.synced is False

    @property
    def failing(self) -> bool:
        """True when the measure's last pull failed or returned nothing."""
        return self.failed_at is not None


def _origin(history: Sequence[model.Checkin], name: str) -> model.Checkin | None:
    """The latest check-in of the history (sorted by time) that holds a value of the measure."""
    for checkin in reversed(history):
        if checkin.values.get(name) is not None:
            return checkin
    return None


def _before(moment: datetime | None, as_of: datetime) -> datetime | None:
    """The moment when it lies at or before the as-of time (a past digest knows nothing later)."""
    return moment if moment is not None and moment <= as_of else None


def freshness(
    *,
    measure: model.Measure,
    code: str,
    history: Sequence[model.Checkin],
    pulls: Pulls,
    period_start: datetime,
    as_of: datetime,
) -> Freshness:
    """A measure's shown number: who gave it (typed or synced), when, its age when older than the period, and its
    source's last failure when the last pull at or before `as_of` failed (`history`: its code's check-ins ≤ as_of)."""
    pull = pulls.get((code, measure.name))
    origin = _origin(history, measure.name)
    sourced = measure.source is not None
    pulled_at = _before(pull.ok_at, as_of) if pull else None
    failed_at = _before(pull.failed_at, as_of) if pull else None
    if failed_at is not None and pulled_at is not None and pulled_at >= failed_at:
        failed_at = None  # a good pull came after the failure
    at = origin.at if origin is not None else None
    if origin is not None and origin.synced and pulled_at is not None and pulled_at > origin.at and pull is not None:
        shown = origin.values.get(measure.name)
        if pull.value is None or shown is None or abs(pull.value - shown) <= _SAME * max(1.0, abs(shown)):
            at = pulled_at  # a later pull found the same number again: it is that fresh
    age = None
    if at is not None and (at < period_start or failed_at is not None):
        age = max(0, (as_of - at) // timedelta(days=1))
    return Freshness(
        synced=None if origin is None else origin.synced,
        at=at,
        age_days=age,
        sourced=sourced,
        pulled_at=pulled_at,
        failed_at=failed_at,
        error=(pull.error if pull else None) if failed_at is not None else None,
    )

