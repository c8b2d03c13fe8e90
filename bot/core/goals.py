"""The rules a goal change must pass (no repeat, no silent reversal) and the weekly pace it asks for, rounded sensibly."""

from __future__ import annotations

import math
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from bot.core.errors import KrbotError

Value = float | date | str


def same_value(old: Value | None, new: Value) -> bool:
    """True when a change would set what is already there (numbers compared to a billionth of their size)."""
    if old is None:
        return False
    if isinstance(old, float | int) and isinstance(new, float | int):
        return math.isclose(float(old), float(new), rel_tol=1e-9, abs_tol=0.0)
    return old == new


def check_repeat(*, measure: str | None, field: str, old: Value | None, new: Value, unit: str | None) -> None:
    """Refuse a change to the value already in force ("already 2.2%")."""
    if same_value(old, new):
        shown_unit = unit if isinstance(new, float | int) else None
        raise KrbotError("change.same", measure=measure or "", field=field, current=new if shown_unit or isinstance(new, float | int) else str(new), unit=shown_unit)


def check_direction(
    *,
    measure: str,
    field: str,
    baseline: float,
    target: float,
    new: float,
    unit: str | None,
    insist: bool,
) -> None:
    """Refuse a target or baseline that puts the target on the other side of the baseline, unless insisted on with `!`.

    A flat goal (target equal to baseline) is refused always: there would be nothing to reach.
    """
    new_baseline, new_target = (new, target) if field == "baseline" else (baseline, new)
    if math.isclose(new_baseline, new_target, rel_tol=1e-12, abs_tol=0.0):
        raise KrbotError("change.flat", measure=measure)
    was_up, now_up = target > baseline, new_target > new_baseline
    if was_up != now_up and not insist:
        raise KrbotError(
            "change.reverses",
            measure=measure,
            field=field,
            baseline=new_baseline,
            target=new_target,
            old_baseline=baseline,
            old_target=target,
            unit=unit,
            was_up=was_up,
        )


def _decimals(number: float) -> int:
    """How many decimals a goal number is written with (1.5 -> 1, 500000 -> 0)."""
    exponent = Decimal(repr(float(number))).normalize().as_tuple().exponent
    return max(0, -int(exponent))


def round_pace(*, amount: float, baseline: float, target: float) -> float:
    """A weekly amount to two significant digits, no finer than one decimal beyond the goal's own numbers.

    0.0417 on a 1.5 → 2.0 goal is 0.04; 7,202.3 on a 0 → 80,000 goal is 7,200; 0.003 keeps one digit: 0.003.
    """
    if amount == 0 or not math.isfinite(amount):
        return amount
    value = Decimal(repr(float(amount)))
    two = value.quantize(Decimal(1).scaleb(value.adjusted() - 1), rounding=ROUND_HALF_UP)
    finest = Decimal(1).scaleb(-(max(_decimals(baseline), _decimals(target)) + 1))
    if two.as_tuple().exponent < finest.as_tuple().exponent:
        capped = value.quantize(finest, rounding=ROUND_HALF_UP)
        two = capped if capped != 0 else value.quantize(Decimal(1).scaleb(value.adjusted()), rounding=ROUND_HALF_UP)
    return float(two)
