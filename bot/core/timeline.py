"""The time axis of a forecast: days since 00:00 of the cycle's first day, calendar days, check-in histories.

x is elapsed time in days (86,400 s) since 00:00 of `cycle.start` in `as_of`'s timezone; a deadline
date is read at its end, 00:00 of the next day (for a cycle 2026-10-01..2026-12-31 the end is x = 92).
Check-ins with a naive `at` are read in `as_of`'s timezone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from bot.core.model import Checkin, Cycle

SECONDS_PER_DAY = 86400.0
DAY_END_SLACK = 0.001  # seconds: an as-of of a date alone (23:59:59.999999) is already the end of that day


@dataclass(frozen=True, slots=True)
class Entry:
    """One check-in on the axis: its timestamp, its calendar day (workspace timezone) and itself."""

    stamp: float
    day: date
    checkin: Checkin


History = list[Entry]  # sorted by time, all at or before as_of; among equal times the later in the input last


@dataclass(frozen=True, slots=True)
class Window:
    """The time axis: timezone, cycle start and end, and as-of, as timestamps."""

    tz: tzinfo
    start: float
    as_of: float
    cycle_end: date
    cycle_end_stamp: float

    @classmethod
    def of(cls, *, cycle: Cycle, as_of: datetime) -> Window:
        """The window of a cycle read at as_of (which must be timezone-aware)."""
        if as_of.tzinfo is None or as_of.utcoffset() is None:
            raise ValueError("as_of")
        tz = as_of.tzinfo
        start = datetime.combine(cycle.start, time(), tzinfo=tz).timestamp()
        end = datetime.combine(cycle.end + timedelta(days=1), time(), tzinfo=tz).timestamp()
        return cls(tz=tz, start=start, as_of=as_of.timestamp(), cycle_end=cycle.end, cycle_end_stamp=end)

    def stamp(self, moment: datetime) -> float:
        """A moment as a POSIX timestamp (naive moments are read in the window's timezone)."""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self.tz)
        return moment.timestamp()

    def end_of(self, day: date) -> float:
        """The end of a day (00:00 of the next day) as a timestamp."""
        return datetime.combine(day + timedelta(days=1), time(), tzinfo=self.tz).timestamp()

    def ended(self, day: date) -> bool:
        """True when as-of is at the end of the day or after it (a date alone as-of is its end): results, not trends."""
        return self.as_of >= self.end_of(day) - DAY_END_SLACK

    def days(self, stamp: float) -> float:
        """A timestamp as fractional days since the cycle's start."""
        return (stamp - self.start) / SECONDS_PER_DAY

    def day_of(self, stamp: float) -> date:
        """The calendar day of a timestamp in the window's timezone."""
        return datetime.fromtimestamp(stamp, self.tz).date()

    @property
    def after_cycle(self) -> bool:
        """True when as-of is past the end of the cycle's last day."""
        return self.as_of >= self.cycle_end_stamp - DAY_END_SLACK


def group(*, checkins: Iterable[Checkin], window: Window, code: str | None = None) -> dict[str, History]:
    """Check-ins at or before as_of, by code, each list sorted by time (stable)."""
    stamped: dict[str, list[tuple[float, Checkin]]] = {}
    for checkin in checkins:
        if code is not None and checkin.code != code:
            continue
        stamp = window.stamp(checkin.at)
        if stamp <= window.as_of:
            stamped.setdefault(checkin.code, []).append((stamp, checkin))
    grouped: dict[str, History] = {}
    days: dict[int, tuple[float, float, date]] = {}  # shared by every code: a workspace's KRs report on the same days
    for key, items in stamped.items():
        items.sort(key=lambda item: item[0])
        grouped[key] = _entries(items=items, window=window, days=days)
    return grouped


DAY_BUCKET = 900.0  # seconds: timezones are offset by whole quarter hours (nearly all), so a bucket lies in one day


def _entries(*, items: list[tuple[float, Checkin]], window: Window, days: dict[int, tuple[float, float, date]]) -> History:
    """Time-ordered check-ins as entries with their calendar day (a day's bounds reckoned once, then looked up)."""
    history: History = []
    day, low, high = None, 0.0, -1.0
    for stamp, checkin in items:
        if not low <= stamp < high:
            bucket = int(stamp // DAY_BUCKET)
            known = days.get(bucket)
            if known is not None and known[0] <= stamp < known[1]:  # checked: an odd offset only costs a reckoning
                low, high, day = known
            else:
                day = window.day_of(stamp)
                low = datetime.combine(day, time(), tzinfo=window.tz).timestamp()
                high = window.end_of(day)
                days[bucket] = (low, high, day)
        history.append(Entry(stamp=stamp, day=day, checkin=checkin))  # type: ignore[arg-type]
    return history


def daily_points(*, history: History, name: str, window: Window) -> list[tuple[float, float]]:
    """The latest value of each calendar day in the cycle up to as-of, as (x in days, value), by day."""
    latest: dict[date, tuple[float, float]] = {}
    start, end = window.start, window.cycle_end_stamp
    for entry in history:
        raw = entry.checkin.values.get(name)
        if raw is not None and start <= entry.stamp <= end:
            latest[entry.day] = ((entry.stamp - start) / SECONDS_PER_DAY, float(raw))
    return list(latest.values())  # the history is in time order, so the days are too


def daily_points_of(*, history: History, names: Iterable[str], window: Window) -> dict[str, list[tuple[float, float]]]:
    """daily_points of several measures of one history, read in one pass."""
    latest: dict[str, dict[date, tuple[float, float]]] = {name: {} for name in names}
    start, end = window.start, window.cycle_end_stamp
    for entry in history:
        if start <= entry.stamp <= end:
            x = (entry.stamp - start) / SECONDS_PER_DAY
            for name, raw in entry.checkin.values.items():
                days = latest.get(name)
                if days is not None and raw is not None:
                    days[entry.day] = (x, float(raw))
    return {name: list(days.values()) for name, days in latest.items()}


def value_at(*, history: History, name: str, stamp: float) -> tuple[float, datetime] | None:
    """The latest value of a measure at or before a timestamp, with its check-in's time."""
    for entry in reversed(history):
        if entry.stamp <= stamp:
            raw = entry.checkin.values.get(name)
            if raw is not None:
                return float(raw), entry.checkin.at
    return None


def as_of_moment(*, text: str, tz: tzinfo) -> datetime:
    """An as-of time typed by a person: a date alone is the end of that day, a time without a zone is in `tz`."""
    text = text.strip()
    if len(text) == 10:  # YYYY-MM-DD
        return datetime.combine(date.fromisoformat(text), time.max, tzinfo=tz)
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=tz)
