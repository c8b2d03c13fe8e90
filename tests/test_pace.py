"""The "needs X more a week than its trend" amount, rounded the way its unit is counted."""

from __future__ import annotations

import pytest

from bot.core.pace import extra_per_week

CASES = [
    # gap, weeks, unit, expected
    (0.25, 6.0, "%", 0.04),  # 0.041666 points a week → 0.04 points
    (0.01, 6.0, "%", 0.01),  # never "0.00 points": at least one hundredth
    (132.6, 6.0, "orders", 23.0),  # 22.1 orders a week → 23 (whole orders, rounded up)
    (132.0, 6.0, "单", 22.0),  # exactly 22
    (7404.0, 6.0, "EUR", 1200.0),  # 1,234 € → 1,200 € (two significant digits)
    (10.5, 7.0, "h", 1.5),  # 1.5 h
    (2.74, 1.0, "USD", 2.7),  # $2.74 → $2.7
]


@pytest.mark.parametrize(("gap", "weeks", "unit", "expected"), CASES)
def test_extra_per_week(gap: float, weeks: float, unit: str, expected: float) -> None:
    """Worked out by hand: gap / weeks, then the unit's rounding."""
    assert extra_per_week(gap=gap, weeks=weeks, unit=unit) == pytest.approx(expected)
