"""Locale facts from CLDR (Babel): how a person's locale writes numbers, and writing values back that way."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import cache

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import (
    format_currency,
    format_decimal,
    format_percent,
    get_currency_symbol,
    get_decimal_symbol,
    get_group_symbol,
)

from bot.core.errors import KrbotError
from bot.core.numbers import NumberStyle
from bot.core.units import CURRENCIES, DURATIONS, UNIT_WORDS, canonical_unit, has_cjk, unit_family

DEFAULT_LOCALES = {"zh": "zh-CN", "en": "en-US"}
SUPPORTED_EXAMPLES = "de-DE, fr-FR, en-GB, en-US, zh-CN, de-CH"


@cache
def _locale(tag: str) -> Locale:
    """The Babel locale of a BCP 47 tag (`de-DE`, `fr_FR`, `zh-CN`)."""
    return Locale.parse(tag.replace("_", "-"), sep="-")


def check_locale(*, tag: str) -> str:
    """The tag in its BCP 47 spelling (`de-DE`), or a refusal naming it and examples that work."""
    try:
        _locale(tag.strip())
    except (UnknownLocaleError, ValueError, TypeError):
        raise KrbotError("locale.unknown", word=tag, known=SUPPORTED_EXAMPLES) from None
    return tag.strip().replace("_", "-")


def default_locale(*, language: str) -> str:
    """The locale a workspace of this language uses when its file names none."""
    return DEFAULT_LOCALES.get(language, "en-US")


@cache
def number_style(*, locale: str) -> NumberStyle:
    """The decimal and grouping signs people of `locale` write (CLDR)."""
    tag = _locale(locale)
    return NumberStyle(decimal=get_decimal_symbol(tag), group=get_group_symbol(tag))


def _exact(number: float) -> Decimal:
    """The decimal a float was written as."""
    return Decimal(number) if isinstance(number, int) else Decimal(repr(float(number)))


def write_number(*, number: float, locale: str) -> str:
    """A plain number in full, the way `locale` writes it (`1.234,5` in de-DE)."""
    return format_decimal(_exact(number), locale=_locale(locale), decimal_quantization=False)


def write_value(*, number: float, unit: str | None, locale: str, lang: str) -> str:
    """A value in full the way `locale` writes it: `5.000,00 €` (de-DE), `€5,000.00` (en-US), `1,8 %`, `1.5 h`."""
    canonical = canonical_unit(unit=unit)
    family = unit_family(unit=canonical)
    value = _exact(number)
    tag = _locale(locale)
    if family == "currency":
        assert canonical is not None
        symbol = get_currency_symbol(canonical, locale=tag)
        if UNIT_WORDS.get(symbol.casefold()) != canonical:  # a symbol krbot would read as another currency (¥)
            pattern = tag.currency_formats["standard"].pattern.split(";")[0].replace("¤", "¤¤")
            return format_currency(value, canonical, format=pattern, locale=tag, decimal_quantization=False)
        return format_currency(value, canonical, locale=tag, decimal_quantization=False)
    if family == "percent":
        return format_percent(value / 100, locale=tag, decimal_quantization=False)
    body = format_decimal(value, locale=tag, decimal_quantization=False)
    if canonical is None:
        return body
    if family == "duration":
        word = DURATIONS[canonical][2] if lang == "zh" else canonical
        return f"{body}{word}" if lang == "zh" else f"{body} {word}"
    return f"{body}{canonical}" if has_cjk(canonical) else f"{body} {canonical}"


def write_date(*, day: date, locale: str) -> str:
    """A day the way `locale` writes it (`05.10.2026`, `2026年10月5日`, `Oct 5, 2026`)."""
    return format_date(day, format="medium", locale=_locale(locale))


def currency_symbol(*, code: str) -> str | None:
    """The en symbol krbot knows for a currency code, if any."""
    entry = CURRENCIES.get(code)
    return entry[1] if entry else None
