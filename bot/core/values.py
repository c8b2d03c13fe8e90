"""The one number reader: a value as its writer typed it (1.8%, 2.5万欧, 5.000 €, 90m, done) read exactly, or refused."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal

from bot.core.errors import KrbotError
from bot.core.model import Measure, MeasureKind
from bot.core.numbers import (
    CN_NUMBER,
    DIGITS,
    EN_STYLE,
    MAGNITUDE_ORDER,
    MAX_DIGITS,
    NumberStyle,
    magnitude,
    plain,
    read_number,
    shown,
)
from bot.core.units import (
    COUNT_WORDS,
    CURRENCIES,
    CURRENCY_PREFIX,
    DURATIONS,
    UNIT_WORDS,
    canonical_unit,
    has_cjk,
    normalise,
    unit_family,
)
from bot.core.units import same_unit as _same
from bot.core.writing import format_number, format_percent, format_value

__all__ = [
    "EN_STYLE",
    "NumberStyle",
    "Reading",
    "canonical_unit",
    "format_number",
    "format_percent",
    "format_value",
    "plausible_range",
    "read_amount",
    "read_measure_value",
    "read_value",
    "unit_family",
]

_DONE_WORDS = frozenset(
    {"done", "完成", "已完成", "完成了", "达成", "已达成", "yes", "y", "true", "是", "✅", "✔", "☑",
     "finished", "complete", "completed", "erledigt", "fertig", "fait", "terminé"}
)
_NOT_DONE_WORDS = frozenset(
    {"not done", "未完成", "没完成", "还没完成", "no", "n", "false", "否", "❌", "✗", "✘", "undone",
     "not yet", "offen", "nicht erledigt", "pas fait"}
)
_TRAILING_PUNCTUATION = " .。!！~～"
_MAGNITUDE_FAMILIES = frozenset({"currency", "count", "none", "other"})
_CJK_MAGNITUDE = re.compile(r"[十百千万亿]")  # before these a dot is the decimal sign in every locale: 13.125万

HEAD = re.compile(
    r"(?P<s1>[+-])?\s*(?:(?P<pre>" + CURRENCY_PREFIX + r")(?![a-z])\s*)?(?P<s2>[+-])?\s*"
    r"(?:(?P<num>" + DIGITS + r")|(?P<cn>" + CN_NUMBER + r"))(?P<tail>.*)",
    re.IGNORECASE | re.DOTALL,
)


_SPACED_WORDS = "|".join(
    re.escape(word) for word in sorted({*UNIT_WORDS, *COUNT_WORDS, *MAGNITUDE_ORDER}, key=len, reverse=True)
)
# where a value starts and ends inside a text: the number, what is attached to it, and unit words after a space —
# but not a word that names the next measure (`GMV=5000 Orders=20`: Orders is a name, not 5000's unit)
VALUE_TEXT = re.compile(
    r"[+-]?(?:(?:" + CURRENCY_PREFIX + r")(?![a-z])\s?)?[+-]?(?:" + DIGITS + "|" + CN_NUMBER + r")[^\s=]*"
    r"(?:\s(?:" + _SPACED_WORDS + r")(?=[\s!]|$)(?!\s*=)!?){0,2}",
    re.IGNORECASE,
)
MILESTONE_WORDS = _DONE_WORDS | _NOT_DONE_WORDS


@dataclass(frozen=True, slots=True)
class Reading:
    """A value as read: the number, the unit typed with it (canonical, or None), and whether `!` insisted."""

    number: Decimal
    unit: str | None
    insist: bool = False


def _example(*, unit: str | None) -> str:
    """A value in `unit` that read_value accepts, for messages (the same in every language)."""
    canonical = canonical_unit(unit=unit)
    family = unit_family(unit=canonical)
    if canonical is None:
        return "50"
    if family == "percent":
        return "1.8%"
    if family == "currency":
        symbol = CURRENCIES[canonical][1]
        return f"{symbol}5000" if symbol else f"5000 {canonical}"
    if family == "duration":
        return {"h": "72h", "d": "3d", "w": "2w", "min": "30min"}[canonical]
    return f"50{canonical}" if has_cjk(canonical) else f"50 {canonical}"


def _typed_unit(word: str, *, accept: str | None) -> str | None:
    """The canonical unit a word after a number names, if krbot knows it (or it is the measure's own)."""
    canonical = canonical_unit(unit=word)
    if canonical is None:
        return None
    if unit_family(unit=canonical) != "other":
        return canonical
    if accept is not None and _same(canonical, accept):
        return accept
    return None


def _split_tail(tail: str, *, accept: str | None, text: str) -> tuple[Decimal, str | None] | None:
    """What follows the number: an optional magnitude, then an optional unit; None when it is neither."""
    tail = tail.strip()
    if not tail:
        return Decimal(1), None
    family = unit_family(unit=accept)
    if tail[0] == "m" and (len(tail) == 1 or not tail[1].isalpha()) and family in _MAGNITUDE_FAMILIES:
        raise KrbotError("value.m_ambiguous", text=text)
    unit = None if tail[0] == "M" and (len(tail) == 1 or not tail[1].isalpha()) else _typed_unit(tail, accept=accept)
    if unit is not None:
        return Decimal(1), unit
    for word in MAGNITUDE_ORDER:
        head = tail[: len(word)]
        if head.casefold() != word.casefold() or (word == "M" and head != "M"):
            continue
        rest = tail[len(word):].strip()
        unit = _typed_unit(rest, accept=accept) if rest else None
        if rest and unit is None:
            continue
        factor = magnitude(head)
        assert factor is not None
        return factor, unit
    return None


def _parse(text: str, *, accept: str | None, style: NumberStyle) -> Reading | None:
    """A whole text as a Reading; None when it is not a value at all."""
    insist = text.endswith("!")
    body = text[:-1].rstrip() if insist else text
    match = HEAD.fullmatch(body)
    if match is None or (match["s1"] and match["s2"]):
        return None
    if (match["s1"] or match["s2"]) == "+":
        raise KrbotError("value.delta", text=text)
    before_cjk = _CJK_MAGNITUDE.match(match["tail"].lstrip()) is not None
    number = read_number(digits=match["num"], chinese=match["cn"], style=style, chinese_magnitude=before_cjk)
    split = _split_tail(match["tail"], accept=accept, text=text)
    if number is None or split is None:
        return None
    factor, unit = split
    if factor != 1 and unit_family(unit=accept) not in _MAGNITUDE_FAMILIES:
        raise KrbotError("value.no_magnitude", text=text, unit=accept, example=_example(unit=accept))
    if match["pre"]:
        prefix = canonical_unit(unit=match["pre"])
        if unit is not None and unit != prefix:
            return None
        unit = prefix
    value = number * factor
    if (match["s1"] or match["s2"]) == "-":
        value = -value
    return Reading(number=value, unit=unit, insist=insist)


def _milestone_word(text: str) -> float | None:
    """1.0 for done/完成/yes…, 0.0 for not done/未完成/no…, None for anything else."""
    word = text.casefold().strip(_TRAILING_PUNCTUATION)
    if word in _DONE_WORDS:
        return 1.0
    if word in _NOT_DONE_WORDS:
        return 0.0
    return None


def _finite(number: Decimal, *, text: str) -> float:
    """The number as a float, refused when it is not finite."""
    value = float(number)
    if not math.isfinite(value):
        raise KrbotError("value.too_long", text=shown(text), limit=MAX_DIGITS)
    return value


def read_reading(*, text: str, unit: str | None, style: NumberStyle = EN_STYLE) -> Reading:
    """The number (converted to the measure's `unit`) a user typed, with whether they insisted with `!`."""
    typed = text.strip()
    normal = normalise(text)
    measure = canonical_unit(unit=unit)
    example = _example(unit=measure)
    if _milestone_word(normal) is not None:
        raise KrbotError("value.number_expected", text=typed, unit=measure, example=example)
    parsed = _parse(normal, accept=measure, style=style)
    if parsed is None:
        raise KrbotError("value.unreadable", text=typed, example=example, milestone=False)
    given = parsed.unit
    if given is None or (measure is not None and _same(given, measure)):
        return parsed
    given_family, measure_family = unit_family(unit=given), unit_family(unit=measure)
    if given_family == "currency" and measure_family == "currency":
        raise KrbotError("value.currency_mismatch", text=typed, given=given, expected=measure, example=example)
    if given_family == "duration" and measure_family == "duration":
        assert measure is not None
        converted = parsed.number * DURATIONS[given][1] / DURATIONS[measure][1]
        return Reading(number=converted, unit=measure, insist=parsed.insist)
    if given_family == "count" and measure_family in ("count", "none"):
        return Reading(number=parsed.number, unit=measure, insist=parsed.insist)
    raise KrbotError("value.unit_mismatch", text=typed, given=given, expected=measure, example=example)


def read_value(*, text: str, unit: str | None, milestone: bool = False, style: NumberStyle = EN_STYLE) -> float:
    """The number a user typed for a measure in `unit` (or a milestone's 1.0/0.0), in the measure's unit."""
    if milestone:
        typed, normal = text.strip(), normalise(text)
        word = _milestone_word(normal)
        if word is not None:
            return word
        try:
            _parse(normal, accept=None, style=style)
        except KrbotError:
            pass
        else:
            if HEAD.fullmatch(normal.rstrip("!")):
                raise KrbotError("value.milestone_expected", text=typed)
        raise KrbotError("value.unreadable", text=typed, example=None, milestone=True)
    return _finite(read_reading(text=text, unit=unit, style=style).number, text=text.strip())


def read_amount(*, text: str, style: NumberStyle = EN_STYLE) -> tuple[float, str | None]:
    """An amount as typed with no measure to read it against (an ask's amount): the number and its unit."""
    reading = _parse(normalise(text), accept=None, style=style)
    if reading is None:
        raise KrbotError("value.unreadable", text=text, example="5000", milestone=False)
    return _finite(reading.number, text=text.strip()), reading.unit


def plausible_range(*, measure: Measure) -> tuple[float, float] | None:
    """The values a measure may take without `!`: ten spans around baseline..target, ten limits for a guardrail."""
    if measure.kind is MeasureKind.TARGET and measure.baseline is not None and measure.target is not None:
        span = abs(measure.target - measure.baseline)
        if span == 0:
            return None
        return min(measure.baseline, measure.target) - 10 * span, max(measure.baseline, measure.target) + 10 * span
    if measure.is_guardrail and measure.limit:
        reach = 10 * abs(measure.limit)
        return -reach, reach
    return None


def read_measure_value(*, text: str, measure: Measure, style: NumberStyle = EN_STYLE) -> float:
    """A value typed for `measure`: read by the writer's style, refused when implausible unless it ends with `!`."""
    if measure.kind is MeasureKind.MILESTONE:
        return read_value(text=text, unit=measure.unit, milestone=True, style=style)
    reading = read_reading(text=text, unit=measure.unit, style=style)
    value = _finite(reading.number, text=text.strip())
    bounds = plausible_range(measure=measure)
    if bounds is not None and not reading.insist and not bounds[0] <= value <= bounds[1]:
        low, high = (plain(Decimal(repr(bound))) for bound in bounds)
        raise KrbotError("value.implausible", text=text.strip(), low=low, high=high, unit=measure.unit or "")
    return value
