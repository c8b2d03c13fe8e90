"""Numbers written in a reader's locale by CLDR (Babel), without a database: `1.000 Bestellungen`, `12,5 h`,
`23.600 €`, `1,2 Mio. €`, `35 %` — short forms only where they read back exactly; zh and en as krbot writes them."""

from __future__ import annotations

import pytest

from bot.core.numbers import NumberStyle
from bot.core.values import read_amount
from bot.locale_words import percent_for, range_for, value_for

NB = "\u00a0"


@pytest.mark.parametrize(("locale", "number", "unit", "shown"), [
    ("de-DE", 1000, "Bestellungen", "1.000 Bestellungen"),
    ("de-DE", 12.5, "h", "12,5 h"),
    ("de-DE", 23600, "EUR", f"23.600{NB}€"),
    ("de-DE", 1_200_000, "EUR", f"1,2{NB}Mio.{NB}€"),
    ("de-DE", 1.8, "%", f"1,8{NB}%"),
    ("de-DE", -80000, "EUR", f"-80.000{NB}€"),
    ("fr-FR", 1000, "orders", f"1{NB}000 orders".replace(NB, "\u202f")),
    ("fr-FR", 23600, "EUR", f"23,6{NB}k{NB}€"),
    ("fr-FR", 2165, "EUR", f"2\u202f165{NB}€"),
    ("de-CH", 1000, None, "1'000"),
])
def test_a_value_in_the_readers_locale(locale: str, number: float, unit: str | None, shown: str) -> None:
    assert value_for(number=number, unit=unit, lang="en", locale=locale, digits=None) == shown


@pytest.mark.parametrize(("locale", "number", "unit"), [
    ("de-DE", 1_234_567, "EUR"), ("fr-FR", 123_456, "EUR"), ("fr-FR", 1_250_000_000, None), ("de-DE", 22_500, None),
])
def test_what_a_locale_reader_sees_reads_back_as_the_same_number(locale: str, number: float, unit: str | None) -> None:
    from bot.locales import number_style

    shown = value_for(number=number, unit=unit, lang="en", locale=locale, digits=None)
    style: NumberStyle = number_style(locale=locale)
    assert read_amount(text=shown, style=style)[0] == number, shown


@pytest.mark.parametrize(("locale", "shown"), [(None, "€23.6k"), ("en-US", "€23.6k"), ("en-GB", "€23.6k")])
def test_english_readers_get_krbots_own_writing(locale: str | None, shown: str) -> None:
    assert value_for(number=23600, unit="EUR", lang="en", locale=locale) == shown


def test_chinese_readers_keep_wan() -> None:
    assert value_for(number=25000, unit="EUR", lang="zh", locale="zh-CN") == "2.5万欧"


def test_percents_and_ranges_in_the_locale() -> None:
    assert percent_for(ratio=0.354, locale="de-DE") == f"35{NB}%"
    assert percent_for(ratio=0.354, locale="en-US") == "35%"
    assert percent_for(ratio=12, locale="de-DE") == f"1.200{NB}%"
    assert range_for(low=0.85, high=1.01, locale="fr-FR") == f"85–101{NB}%"
    assert range_for(low=0.85, high=1.01, locale=None) == "85–101%"
    assert percent_for(ratio=None, locale="de-DE") == "—"
