"""The chat grammar around values (CONTRACT §6): a measure named like a unit word is a name, not the previous value's
unit; a dot before 千/万/亿 is the decimal sign in every locale; Chinese magnitudes read and written."""

from __future__ import annotations

import pytest

from bot.commands import parse_update
from bot.core.errors import KrbotError
from bot.core.numbers import NumberStyle
from bot.core.values import read_amount, read_value
from bot.core.writing import format_value

EN = NumberStyle(decimal=".", group=",")
DE = NumberStyle(decimal=",", group=".")
FR = NumberStyle(decimal=",", group="\u202f")


def values_of(text: str) -> list[tuple[str | None, str]]:
    """The (measure, value) pairs `/kr update` reads from a text."""
    return [(v.measure, v.text) for v in parse_update(text=text).values]


@pytest.mark.parametrize(
    ("text", "pairs"),
    [
        ("KR1 GMV=5000 Orders=20", [("GMV", "5000"), ("Orders", "20")]),
        ("KR1 GMV=5000 Customers=20", [("GMV", "5000"), ("Customers", "20")]),
        ("KR1 GMV=5000 新客=20", [("GMV", "5000"), ("新客", "20")]),
        ("KR1 GMV=5000 Customers = 20", [("GMV", "5000"), ("Customers", "20")]),
        ("KR1 GMV：5000，新客：20", [("GMV", "5000"), ("新客", "20")]),
        ("KR1 GMV 5000 Orders 20", [("GMV", "5000"), ("Orders", "20")]),
        ("KR1 GMV=5 000 € Orders=20", [("GMV", "5 000 €"), ("Orders", "20")]),
    ],
)
def test_a_measure_named_like_a_unit_word_is_the_next_name(text: str, pairs: list[tuple[str, str]]) -> None:
    assert values_of(text) == pairs


def test_a_unit_word_at_the_end_is_still_the_values_unit() -> None:
    assert values_of("KR1 New-customer orders=20 orders") == [("New-customer orders", "20 orders")]
    assert values_of("KR1 GMV=5000 € ACOS=23 %") == [("GMV", "5000 €"), ("ACOS", "23 %")]


def test_a_currency_word_never_names_a_measure() -> None:
    with pytest.raises(KrbotError) as caught:
        values_of("KR1 GMV 5000 € 20")
    assert caught.value.key == "command.name_measures"


@pytest.mark.parametrize("style", [EN, DE, FR], ids=["en", "de", "fr"])
def test_a_dot_before_wan_is_the_decimal_sign_in_every_locale(style: NumberStyle) -> None:
    assert read_amount(text="13.125万欧", style=style) == (131250.0, "EUR")
    assert read_amount(text="1.2亿", style=style) == (120000000.0, None)
    assert read_amount(text="2.5 万", style=style) == (25000.0, None)
    assert read_value(text="0.125千", unit="单", style=style) == 125


def test_a_comma_before_wan_follows_the_locale_rules() -> None:
    assert read_amount(text="1,5万", style=DE) == (15000.0, None)
    with pytest.raises(KrbotError) as caught:
        read_amount(text="13,125万", style=DE)
    assert caught.value.key == "value.ambiguous"
    assert read_amount(text="13,125万", style=EN) == (131250000.0, None)


def test_two_dots_before_wan_are_refused() -> None:
    with pytest.raises(KrbotError):
        read_amount(text="1.234.5万", style=DE)


def test_without_a_chinese_magnitude_a_dot_still_follows_the_locale() -> None:
    with pytest.raises(KrbotError) as caught:
        read_amount(text="13.125 €", style=EN)
    assert caught.value.key == "value.ambiguous"
    assert read_amount(text="13.125 €", style=DE) == (13125.0, "EUR")


@pytest.mark.parametrize(
    ("text", "number"),
    [("10万", 100000), ("1.2亿", 120000000), ("两万五", 25000), ("5千欧", 5000), ("3万亿", 3 * 10**12)],
)
def test_chinese_magnitudes_are_read(text: str, number: int) -> None:
    assert read_amount(text=text, style=EN)[0] == number


@pytest.mark.parametrize(
    ("number", "unit", "zh", "en"),
    [(11250, "EUR", "1.125万欧", "€11,250"), (120000000, None, "1.2亿", "120M"), (25000, "单", "2.5万单", "25,000 单")],
)
def test_chinese_magnitudes_are_written_in_zh_and_read_back(number: int, unit: str | None, zh: str, en: str) -> None:
    assert format_value(number=number, unit=unit, lang="zh") == zh
    assert format_value(number=number, unit=unit, lang="en") == en
    assert read_amount(text=zh, style=DE)[0] == number  # what a zh reply writes, any locale reads back
