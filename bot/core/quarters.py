"""Calendar quarters: which quarter a day is in, and a date moved by whole quarters keeping what it was aligned to."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

DAYS_PER_QUARTER = 365.2425 / 4


def quarter_start(*, day: date) -> date:
    """The first day of the calendar quarter holding `day`."""
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def quarters_between(*, start: date, day: date) -> int:
    """Whole quarters from the quarter holding `start` to the quarter holding `day` (negative when `day` is earlier)."""
    first, last = quarter_start(day=start), quarter_start(day=day)
    return (last.year - first.year) * 4 + (last.month - first.month) // 3


def _add_months(*, day: date, months: int) -> date:
    """`day` moved by `months` calendar months; the last day of a month stays the last day of its month."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    length = calendar.monthrange(year, month + 1)[1]
    last = day.day == calendar.monthrange(day.year, day.month)[1]
    return date(year, month + 1, length if last else min(day.day, length))


def moved(*, day: date, quarters: int) -> date:
    """`day` moved by whole quarters: a month's first or last day stays its month's first or last (a cycle, a deadline
    at a quarter's end), any other day keeps its weekday (the nearest whole number of weeks)."""
    if day.day == 1 or day.day == calendar.monthrange(day.year, day.month)[1]:
        return _add_months(day=day, months=3 * quarters)
    return day + timedelta(weeks=round(quarters * DAYS_PER_QUARTER / 7))


def quarter_name(*, day: date) -> str:
    """The quarter holding `day` as the OKR files name cycles: `2027-Q1`."""
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
