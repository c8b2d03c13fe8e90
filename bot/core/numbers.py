"""Digits as people write them in their locale (1.234,5 · 1,234.5 · 5 000 · 1'000 · 两万五) read exactly, never by guess."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from bot.core.errors import KrbotError

MAX_DIGITS = 15


@dataclass(frozen=True, slots=True)
class NumberStyle:
    """A locale's signs for numbers: the decimal sign and the grouping sign (from CLDR, passed in)."""

    decimal: str = "."
    group: str = ","


EN_STYLE = NumberStyle()

# a run of digits with the signs that may stand inside a number; a space only before a group of three
DIGITS = r"(?:\d+|[.,]\d)(?:[.,']\d+|\s\d{3}(?!\d))*"
CN_NUMBER = r"[〇零一二两三四五六七八九十][〇零一二两三四五六七八九十百千万亿]*"
_CN_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
              "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_LEAD = re.compile(r"[1-9]\d{0,2}")
_SPACED_LEAD = re.compile(r"[1-9]\d*")  # Babel writes 1000000'000.00 in de-CH: only the last group is split
_GROUP_SPLIT = re.compile(r"[\s']")


def shown(text: str) -> str:
    """A typed text cut to a length a message can quote."""
    return text if len(text) <= 24 else text[:23] + "…"


def plain(number: Decimal) -> str:
    """A decimal in plain digits, no grouping, no exponent, no trailing zeros."""
    text = format(number.normalize(), "f")
    return text


def _grouped(text: str, *, sign: str) -> Decimal | None:
    """`1.234.567` with `sign` between groups of exactly three, else None."""
    head, *groups = text.split(sign)
    if not _LEAD.fullmatch(head) or not groups or any(len(g) != 3 or not g.isdigit() for g in groups):
        return None
    return Decimal(head + "".join(groups))


def _ambiguous(text: str, *, thousands: Decimal, decimal: Decimal) -> KrbotError:
    """The refusal that offers both readings of `5.000`."""
    return KrbotError("value.ambiguous", text=text, one=plain(thousands), other=plain(decimal))


def _spaced(text: str) -> Decimal | None:
    """`5 000`, `1'000`, `12 500,50`: groups of three split by space or ', an optional decimal part."""
    pieces = _GROUP_SPLIT.split(text)
    last = pieces[-1]
    fraction = ""
    tail = re.fullmatch(r"(\d{3})(?:[.,](\d+))?", last)
    if tail is None:
        return None
    fraction = tail[2] or ""
    if not _SPACED_LEAD.fullmatch(pieces[0]) or any(len(p) != 3 or not p.isdigit() for p in pieces[1:-1]):
        return None
    return Decimal("".join(pieces[:-1]) + tail[1] + ("." + fraction if fraction else ""))


def read_digits(*, text: str, style: NumberStyle) -> Decimal:
    """A number written in digits with the writer's decimal and grouping signs; refuses what two readings share."""
    if sum(ch.isdigit() for ch in text) > MAX_DIGITS:
        raise KrbotError("value.too_long", text=shown(text), limit=MAX_DIGITS)
    if _GROUP_SPLIT.search(text):
        spaced = _spaced(text)
        if spaced is None:
            raise KrbotError("value.bad_grouping", text=text)
        return spaced
    dots, commas = text.count("."), text.count(",")
    if not dots and not commas:
        return Decimal(text)
    if dots and commas:
        decimal_sign = "." if text.rfind(".") > text.rfind(",") else ","
        group_sign = "," if decimal_sign == "." else "."
        whole, _, fraction = text.rpartition(decimal_sign)
        number = _grouped(whole, sign=group_sign)
        if number is None or not fraction.isdigit():
            raise KrbotError("value.bad_grouping", text=text)
        return number + Decimal("0." + fraction)
    sign = "." if dots else ","
    if text.count(sign) > 1:
        number = _grouped(text, sign=sign)
        if number is None:
            raise KrbotError("value.bad_grouping", text=text)
        return number
    whole, _, fraction = text.partition(sign)
    if not fraction.isdigit() or (whole and not whole.isdigit()):
        raise KrbotError("value.bad_grouping", text=text)
    as_decimal = Decimal((whole or "0") + "." + fraction)
    if len(fraction) != 3 or not _LEAD.fullmatch(whole):
        return as_decimal  # only a decimal reading exists: 1,8 · 87,5 · 0.500 · 1234.567
    if sign == style.group:
        return Decimal(whole + fraction)
    raise _ambiguous(text, thousands=Decimal(whole + fraction), decimal=as_decimal)


def chinese_int(text: str) -> int | None:
    """一千二百 -> 1200, 两万五 -> 25000, 十 -> 10; None when the characters make no number."""
    for big, size in (("亿", 10**8), ("万", 10**4)):
        if big in text:
            high, low = text.split(big, 1)
            upper = chinese_int(high) if high else None
            if upper is None:
                return None
            if not low:
                return upper * size
            if len(low) == 1 and low in _CN_DIGITS:  # 两万五 = 25000
                return upper * size + _CN_DIGITS[low] * size // 10
            lower = chinese_int(low.lstrip("零〇"))
            return None if lower is None else upper * size + lower
    total, digit, last_unit, after_unit = 0, None, None, False
    for ch in text:
        if ch in "零〇":
            if digit is not None:
                return None
            after_unit = False
        elif ch in _CN_DIGITS:
            if digit is not None:
                return None
            digit = _CN_DIGITS[ch]
        elif ch in _CN_UNITS:
            size = _CN_UNITS[ch]
            if last_unit is not None and size >= last_unit:
                return None
            if digit is None:
                if ch != "十" or total:
                    return None
                digit = 1
            total += digit * size
            digit, last_unit, after_unit = None, size, True
        else:
            return None
    if digit is not None:
        if after_unit and last_unit is not None and last_unit >= 100:  # 一千二 = 1200
            return total + digit * last_unit // 10
        total += digit
    return total


def read_number(
    *, digits: str | None, chinese: str | None, style: NumberStyle, chinese_magnitude: bool = False
) -> Decimal | None:
    """The number written in digits (by `style`) or in Chinese numerals; None when the numerals make none.

    Before 千, 万 or 亿 (`chinese_magnitude`) a lone dot is the decimal sign in every locale: nobody groups the digits
    before a Chinese magnitude with a dot, so `13.125万` is 131,250."""
    if digits is not None:
        if chinese_magnitude and digits.count(".") == 1 and not _GROUP_SPLIT.search(digits) and "," not in digits:
            whole, _, fraction = digits.partition(".")
            if fraction.isdigit() and (not whole or whole.isdigit()):
                return Decimal(digits)
        return read_digits(text=digits, style=style)
    value = chinese_int(chinese or "")
    return None if value is None else Decimal(value)


# magnitudes after a number: case-insensitive words, and `M` (million) apart from `m` (minutes)
MAGNITUDES: dict[str, Decimal] = {
    "k": Decimal(10) ** 3,
    "thousand": Decimal(10) ** 3,
    "tsd": Decimal(10) ** 3,
    "tsd.": Decimal(10) ** 3,
    "千": Decimal(10) ** 3,
    "mn": Decimal(10) ** 6,
    "mio": Decimal(10) ** 6,
    "mio.": Decimal(10) ** 6,
    "million": Decimal(10) ** 6,
    "millions": Decimal(10) ** 6,
    "百万": Decimal(10) ** 6,
    "千万": Decimal(10) ** 7,
    "b": Decimal(10) ** 9,
    "bn": Decimal(10) ** 9,
    "mrd": Decimal(10) ** 9,
    "mrd.": Decimal(10) ** 9,
    "md": Decimal(10) ** 9,
    "billion": Decimal(10) ** 9,
    "billions": Decimal(10) ** 9,
    "万": Decimal(10) ** 4,
    "十万": Decimal(10) ** 5,
    "亿": Decimal(10) ** 8,
    "万亿": Decimal(10) ** 12,
}
MAGNITUDE_ORDER = sorted([*MAGNITUDES, "M"], key=len, reverse=True)


def magnitude(word: str) -> Decimal | None:
    """The factor a magnitude word stands for (`M` is a million; lowercase `m` is none)."""
    if word == "M":
        return Decimal(10) ** 6
    if word == "m":
        return None
    return MAGNITUDES.get(word.casefold())
