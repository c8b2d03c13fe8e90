"""Values written back for a reader in zh or en, exactly (or to so many significant digits), short where exact."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from bot.core.units import CURRENCIES as _CURRENCIES
from bot.core.units import DURATIONS as _DURATIONS
from bot.core.units import canonical_unit, unit_family
from bot.core.units import has_cjk as _has_cjk

# The completions a status changes at (bot/core/measures.py: at risk from 80%, on track from 100%), with the same
# tolerance: a percent printed beside a status never reads as the next status up.
STATUS_THRESHOLDS = (0.8, 1.0)
THRESHOLD_EPSILON = 1e-9
_BELOW = {round(threshold * 100): threshold - THRESHOLD_EPSILON for threshold in STATUS_THRESHOLDS}  # 80 -> 0.8 − ε
_EN_STEPS = (("B", Decimal(10) ** 9, Decimal(10) ** 9), ("M", Decimal(10) ** 6, Decimal(10) ** 6),
             ("k", Decimal(10) ** 3, Decimal(10) ** 4))
_ZH_STEPS = (("万亿", Decimal(10) ** 12, Decimal(10) ** 12), ("亿", Decimal(10) ** 8, Decimal(10) ** 8),
              ("万", Decimal(10) ** 4, Decimal(10) ** 4))


def _exact(number: float) -> Decimal:
    """The decimal a float was written as (its shortest repr), or the int itself."""
    if isinstance(number, int):
        return Decimal(number)
    try:
        value = Decimal(repr(float(number)))
    except (InvalidOperation, ValueError) as error:  # pragma: no cover - float() of a float never fails
        raise ValueError(f"not a number: {number!r}") from error
    if not value.is_finite():
        raise ValueError(f"cannot show {number!r} as a value")
    return value


def _round_significant(value: Decimal, digits: int) -> Decimal:
    """The value rounded half away from zero to `digits` significant digits."""
    if digits < 1:
        raise ValueError(f"digits must be at least 1, not {digits}")
    if value == 0:
        return value
    return value.quantize(Decimal(1).scaleb(value.adjusted() - digits + 1), rounding=ROUND_HALF_UP)


def _plain(value: Decimal, *, lang: str) -> str:
    """A non-negative decimal in full digits, no trailing zeros; thousands commas (zh: from 10,000)."""
    value = value.normalize()
    if lang == "zh" and value < 10_000:
        return format(value, "f")
    return format(value, ",f")


def _significant(value: Decimal) -> int:
    """How many significant digits the value needs."""
    return len(value.normalize().as_tuple().digits)


def _compact(value: Decimal, *, lang: str, digits: int | None) -> str:
    """A non-negative decimal with k/M/B (en) or 万/亿 (zh) when that is exact and short, else full digits."""
    limit = 4 if lang == "zh" else 3
    if digits is not None:
        limit = max(limit, digits)
    for suffix, base, threshold in _ZH_STEPS if lang == "zh" else _EN_STEPS:
        if value >= threshold:
            quotient = value / base
            # 1.125M could read as 1125M to a German; before 万/亿 a dot is the decimal sign everywhere (1.125万)
            three_places = -quotient.normalize().as_tuple().exponent == 3
            if _significant(quotient) <= limit and (lang == "zh" or not three_places):
                return _plain(quotient, lang=lang) + suffix
    return _plain(value, lang=lang)


def shown_number(*, number: float, unit: str | None, digits: int | None = None) -> Decimal:
    """The exact decimal a value is shown as, in every language and locale (rounded when `digits` are asked for)."""
    value = _exact(number)
    if digits is not None:
        value = _round_significant(value, digits)
        if unit_family(unit=unit) == "count":  # a computed count (a forecast, a gap) is whole: 22 orders, never 22.1
            value = value.quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return value


def format_value(*, number: float, unit: str | None, lang: str, digits: int | None = None) -> str:
    """A value as krbot shows it in `lang` (exact unless `digits` significant digits are asked for)."""
    value = shown_number(number=number, unit=unit, digits=digits)
    canonical = canonical_unit(unit=unit)
    family = unit_family(unit=canonical)
    sign = "-" if value < 0 else ""
    size = abs(value)
    zh = lang == "zh"
    if family == "percent":
        return f"{sign}{_plain(size, lang=lang)}%"
    if family == "duration":
        assert canonical is not None
        return f"{sign}{_plain(size, lang=lang)}{_DURATIONS[canonical][2] if zh else canonical}"
    if canonical is not None and not zh and family != "currency" and _has_cjk(canonical):
        body = _plain(size, lang=lang)
    else:
        body = _compact(size, lang=lang, digits=digits)
    if family == "currency":
        assert canonical is not None
        _, symbol, zh_name = _CURRENCIES[canonical]
        if zh:
            return f"{sign}{body}{zh_name}"
        return f"{sign}{symbol}{body}" if symbol else f"{sign}{canonical} {body}"
    if canonical is None:
        return f"{sign}{body}"
    joint = "" if zh and _has_cjk(canonical) else " "
    return f"{sign}{body}{joint}{canonical}"


def format_number(*, number: float, lang: str, digits: int | None = None) -> str:
    """A plain number as krbot shows it in `lang` (万/亿 in zh, k/M/B in en)."""
    return format_value(number=number, unit=None, lang=lang, digits=digits)


def format_percent(*, ratio: float) -> str:
    """A ratio as a whole percent, not capped, half away from zero (0.354 -> 35%, 1.2 -> 120%), never rounded up
    across a status threshold: 0.996 -> 99% (not the 100% of on track), 0.796 -> 79% (not the 80% of at risk)."""
    scaled = abs(ratio) * 100
    if scaled < 1e12 and abs(scaled % 1 - 0.5) > 1e-6:  # clearly above or below a half: the float rounds it right
        whole = int(scaled + 0.5)
    else:
        whole = int((_exact(abs(ratio)) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))  # a half, as written
    below = _BELOW.get(whole)
    if below is not None and 0 <= ratio < below:  # rounded up onto a threshold from under it
        whole -= 1
    return f"{-whole if ratio < 0 and whole else whole}%"
