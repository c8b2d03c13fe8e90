"""Numbers written for a reader whose locale writes them unlike its language's default (de-DE, fr-FR …), by CLDR.

krbot's own writer (bot.core.writing) decides which number a sentence shows; where the reader's locale uses other
signs than `1,234.5`, Babel spells that same number the locale's way: `1.000 Bestellungen`, `12,5 h`, `23.600 €`,
`1,2 Mio. €`, `35 %`. A compact form (`1,2 Mio. €`, `23,6 k€`) is used only where it reads back as the same number.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cache, lru_cache

from babel import Locale
from babel.numbers import (
    format_compact_currency,
    format_compact_decimal,
    format_currency,
    format_decimal,
    get_currency_symbol,
)
from babel.numbers import format_percent as babel_percent

from bot.core.errors import KrbotError
from bot.core.numbers import EN_STYLE
from bot.core.units import DURATIONS, UNIT_WORDS, canonical_unit, has_cjk, unit_family
from bot.core.values import read_amount
from bot.core.writing import format_percent, format_value, shown_number
from bot.locales import number_style

_COMPACT_FRACTIONS = (0, 1, 2)  # a compact form with more digits than these is no shorter than the full one
_COMPACT_FROM = 10_000  # as krbot writes en: 9,500 in full, 12k short


@cache
def _tag(locale: str) -> Locale:
    """The Babel locale of a BCP 47 tag."""
    return Locale.parse(locale.replace("_", "-"), sep="-")


@cache
def own_signs(*, locale: str | None) -> bool:
    """True when the locale writes numbers with other signs than krbot's default `1,234.5` (de-DE, fr-FR, de-CH)."""
    return locale is not None and number_style(locale=locale) != EN_STYLE


@cache
def _currency_pattern(locale: str, code: str) -> str | None:
    """The locale's currency pattern without forced decimals (`#,##0 ¤`); the code instead of a symbol krbot would
    read as another currency (¥ is CNY to krbot)."""
    tag = _tag(locale)
    pattern = tag.currency_formats["standard"].pattern.split(";")[0].replace(".00", "")
    symbol = get_currency_symbol(code, locale=tag)
    if UNIT_WORDS.get(symbol.casefold()) != code:
        return pattern.replace("¤", "¤¤")
    return pattern


def _reads_back(text: str, *, value: Decimal, locale: str) -> bool:
    """True when krbot's own reader, in this locale, reads the compact text as exactly `value`."""
    try:
        number, _ = read_amount(text=text, style=number_style(locale=locale))
    except KrbotError:
        return False
    return Decimal(repr(number)) == value


def _compact(value: Decimal, *, locale: str, code: str | None) -> str | None:
    """The locale's short form (`1,2 Mio.`, `23,6 k €`) when it abbreviates and is exact, else None."""
    if abs(value) < _COMPACT_FROM:
        return None
    tag = _tag(locale)
    plain = format_decimal(value, locale=tag, decimal_quantization=False)
    for fraction in _COMPACT_FRACTIONS:
        if code is None:
            text = format_compact_decimal(value, locale=tag, fraction_digits=fraction)
        else:
            text = format_compact_currency(value, code, locale=tag, fraction_digits=fraction)
        digits = "".join(ch for ch in text if ch.isdigit())
        if len(digits) >= len("".join(ch for ch in plain if ch.isdigit())):
            return None  # the locale has no shorter word at this size (de writes 23600 for 23.600)
        if _reads_back(text, value=value, locale=locale):
            return text
    return None


@lru_cache(maxsize=8192)  # a digest writes the same targets and baselines many times over
def locale_value(*, number: float, unit: str | None, lang: str, locale: str, digits: int | None = None) -> str:
    """A value the way `locale` writes it, with the language's unit words: `1.000 Bestellungen`, `12,5 h`."""
    value = shown_number(number=number, unit=unit, digits=digits).normalize()
    if value == value.to_integral_value():
        value = value.quantize(Decimal(1))
    canonical = canonical_unit(unit=unit)
    family = unit_family(unit=canonical)
    tag = _tag(locale)
    if family == "percent":
        return babel_percent(value / 100, locale=tag, decimal_quantization=False)
    if family == "currency":
        assert canonical is not None
        pattern = _currency_pattern(locale, canonical)
        if "¤¤" not in (pattern or ""):
            short = _compact(value, locale=locale, code=canonical)
            if short is not None:
                return short
        return format_currency(value, canonical, format=pattern, locale=tag, currency_digits=False,
                               decimal_quantization=False)
    body = None if family == "duration" else _compact(value, locale=locale, code=None)
    body = body or format_decimal(value, locale=tag, decimal_quantization=False)
    if canonical is None:
        return body
    word = DURATIONS[canonical][2] if family == "duration" and lang == "zh" else canonical
    return f"{body}{word}" if has_cjk(word) else f"{body} {word}"


def value_for(*, number: float | None, unit: str | None, lang: str, locale: str | None,
              digits: int | None = 3) -> str:
    """A value for a reader: in their locale where it has its own signs, else krbot's way for the language."""
    if number is None:
        return "—"
    if own_signs(locale=locale):
        assert locale is not None
        return locale_value(number=number, unit=unit, lang=lang, locale=locale, digits=digits)
    return format_value(number=number, unit=unit, lang=lang, digits=digits)


def percent_for(*, ratio: float | None, locale: str | None) -> str:
    """A completion as krbot's whole percent, written the locale's way (`35 %` in de and fr), "—" for none."""
    if ratio is None:
        return "—"
    shown = format_percent(ratio=ratio)
    if not own_signs(locale=locale):
        return shown
    assert locale is not None
    try:
        number = Decimal(shown.rstrip("%"))
    except ArithmeticError:  # a form krbot's writer chose that is not a plain number ("<1%"): as it is
        return shown
    return babel_percent(number / 100, locale=_tag(locale), decimal_quantization=False)


def range_for(*, low: float, high: float, locale: str | None) -> str:
    """A range of completions with the percent sign written once: `85–101%`, `85–101 %` in de."""
    top = percent_for(ratio=high, locale=locale)
    bottom = format_percent(ratio=low).rstrip("%")
    if own_signs(locale=locale) and bottom.lstrip("-").replace(".", "", 1).isdigit():
        assert locale is not None
        bottom = format_decimal(Decimal(bottom), locale=_tag(locale), decimal_quantization=False)
    return f"{bottom}–{top}"
