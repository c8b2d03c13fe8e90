"""ISO weeks as the web's week picker and share links name them (2026-W44): read, written, and their last day."""

from __future__ import annotations

import re
from datetime import date, timedelta

from bot.core.errors import KrbotError

_WEEK = re.compile(r"^\s*(\d{4})-?[Ww](\d{1,2})\s*$")


def read_week(*, text: str) -> tuple[int, int]:
    """(year, week) of `2026-W44` (or `2026W44`, `2026-w44`); refused with an example when it is no ISO week."""
    found = _WEEK.match(text or "")
    if found is not None:
        year, week = int(found.group(1)), int(found.group(2))
        try:
            date.fromisocalendar(year, week, 1)
        except ValueError:
            pass
        else:
            return year, week
    raise KrbotError("web.week_unreadable", word=text, example=week_of(day=date.today()))


def week_of(*, day: date) -> str:
    """The ISO week a day falls in, as `2026-W44`."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def last_day(*, text: str) -> date:
    """The Sunday that ends an ISO week."""
    year, week = read_week(text=text)
    return date.fromisocalendar(year, week, 7)


def neighbours(*, text: str) -> tuple[str, str]:
    """The weeks before and after an ISO week."""
    sunday = last_day(text=text)
    return week_of(day=sunday - timedelta(days=7)), week_of(day=sunday + timedelta(days=7))
