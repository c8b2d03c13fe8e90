"""A measure's `min:`/`max:` bounds checked against its own numbers (a `%` measure is 0–100 unless it says otherwise)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PERCENT_BOUNDS = (0.0, 100.0)


def bounds_problem(
    *, unit: str | None, minimum: float | None, maximum: float | None, numbers: Mapping[str, float | None],
    milestone: bool,
) -> tuple[str, dict[str, Any]] | None:
    """What is wrong with a measure's bounds, as a catalog key suffix and its words; None when they hold.

    `numbers` are the measure's baseline, target or limit by field name; `unit` is already canonical."""
    if milestone:
        return ("bounds_milestone", {}) if minimum is not None or maximum is not None else None
    if minimum is not None and maximum is not None and minimum >= maximum:
        return "bounds_order", {"low": minimum, "high": maximum}
    declared = minimum is not None or maximum is not None
    low, high = (minimum, maximum) if declared or unit != "%" else PERCENT_BOUNDS
    for field, number in numbers.items():
        if number is None:
            continue
        if (low is not None and number < low) or (high is not None and number > high):
            return "bounds_outside", {"which": field, "number": number, "low": low, "high": high, "declared": declared}
    return None
