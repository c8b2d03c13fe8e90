"""How much more a week a measure needs than its trend, rounded the way its unit is counted."""

from __future__ import annotations

import math

from bot.core.values import unit_family

SIGNIFICANT = 2  # money, durations and plain numbers: two significant digits (€1,234.5 → €1,200)
POINT_DECIMALS = 2  # a percent measure moves in percentage points: 0.0412 → 0.04 points


def _significant(amount: float, digits: int) -> float:
    """The amount rounded to `digits` significant digits."""
    if amount == 0 or not math.isfinite(amount):
        return amount
    return round(amount, digits - 1 - math.floor(math.log10(abs(amount))))


def extra_per_week(*, gap: float, weeks: float, unit: str | None) -> float:
    """The gap spread over the weeks left, rounded for the unit: whole counts (up), points to 0.01, else 2 digits."""
    amount = gap / weeks
    family = unit_family(unit=unit)
    if family == "count":
        return float(math.ceil(amount - 1e-9))  # 22.1 orders a week means 23: nobody sells a tenth of an order
    if family == "percent":
        return max(round(amount, POINT_DECIMALS), 10.0**-POINT_DECIMALS)
    return _significant(amount, SIGNIFICANT)
