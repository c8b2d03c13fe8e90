"""Tests of bot.core.values: reading typed values, units, and writing values back exactly."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.errors import KrbotError
from bot.core.values import (
    canonical_unit,
    format_number,
    format_percent,
    format_value,
    read_value,
    unit_family,
)
from bot.i18n import LANGUAGES, catalog, error_message

ROOT = Path(__file__).resolve().parents[2]

# ---------------------------------------------------------------- units


@pytest.mark.parametrize(
    ("unit", "canonical", "family"),
    [
        ("EUR", "EUR", "currency"),
        ("€", "EUR", "currency"),
        (" eur ", "EUR", "currency"),
        ("欧", "EUR", "currency"),
        ("欧元", "EUR", "currency"),
        ("$", "USD", "currency"),
        ("usd", "USD", "currency"),
        ("美元", "USD", "currency"),
        ("美金", "USD", "currency"),
        ("dollars", "USD", "currency"),
        ("¥", "CNY", "currency"),
        ("￥", "CNY", "currency"),
        ("元", "CNY", "currency"),
        ("人民币", "CNY", "currency"),
        ("RMB", "CNY", "currency"),
        ("块", "CNY", "currency"),
        ("£", "GBP", "currency"),
        ("英镑", "GBP", "currency"),
        ("%", "%", "percent"),
        ("％", "%", "percent"),
        ("percent", "%", "percent"),
        ("h", "h", "duration"),
        ("hrs", "h", "duration"),
        ("Hours", "h", "duration"),
        ("小时", "h", "duration"),
        ("个小时", "h", "duration"),
        ("d", "d", "duration"),
        ("days", "d", "duration"),
        ("天", "d", "duration"),
        ("日", "d", "duration"),
        ("min", "min", "duration"),
        ("分钟", "min", "duration"),
        ("单", "单", "count"),
        ("件", "件", "count"),
        ("个", "个", "count"),
        ("人", "人", "count"),
        ("次", "次", "count"),
        ("orders", "orders", "count"),
        ("Units", "Units", "count"),
        ("pcs", "pcs", "count"),
        ("customers", "customers", "count"),
        ("people", "people", "count"),
        ("个客户", "个客户", "count"),
        (" kg ", "kg", "other"),
        ("ACOS", "ACOS", "other"),
        (None, None, "none"),
        ("  ", None, "none"),
    ],
)
def test_canonical_unit_and_family(unit: str | None, canonical: str | None, family: str) -> None:
    assert canonical_unit(unit=unit) == canonical
    assert unit_family(unit=unit) == family


# ---------------------------------------------------------------- reading


@pytest.mark.parametrize(
    ("text", "unit", "expected"),
    [
        # the contract's examples (§6)
        ("1.8%", "%", 1.8),
        ("50", "单", 50),
        ("50单", "单", 50),
        ("5千欧", "EUR", 5000),
        ("10万", "EUR", 100_000),
        ("2.5万欧", "EUR", 25_000),
        ("1.2亿", "EUR", 120_000_000),
        ("€5,000", "EUR", 5000),
        ("5k", "EUR", 5000),
        ("$1.2M", "USD", 1_200_000),
        ("72h", "h", 72),
        ("3天", "d", 3),
        # separators, suffixes, spacing, signs, full width
        ("1,234,567.5", None, 1_234_567.5),
        ("1，234，567.5", None, 1_234_567.5),
        ("5K", None, 5000),
        ("3M", None, 3_000_000),
        ("3 million", None, 3_000_000),
        ("2B", None, 2_000_000_000),
        ("1.5bn", "USD", 1_500_000_000),
        ("1.5 万", "EUR", 15_000),
        ("3百万", None, 3_000_000),
        ("17.5万欧", "EUR", 175_000),
        ("17.5 万欧元", "EUR", 175_000),
        ("5000 EUR", "EUR", 5000),
        ("5000 euros", "EUR", 5000),
        ("EUR 5,000", "EUR", 5000),
        ("eur5000", "EUR", 5000),
        ("5000€", "EUR", 5000),
        ("5k €", "EUR", 5000),
        ("€ 5,000.50", "EUR", 5000.5),
        ("CNY 12,000", "CNY", 12_000),
        ("¥12,000", "CNY", 12_000),
        ("1.2万元", "CNY", 12_000),
        ("3000块", "CNY", 3000),
        ("500美元", "USD", 500),
        ("£20", "GBP", 20),
        ("-5", None, -5),
        ("-3.5%", "%", -3.5),
        ("−2", None, -2),
        ("-€5,000", "EUR", -5000),
        ("€-5,000", "EUR", -5000),
        ("1.8 %", "%", 1.8),
        ("１．８％", "%", 1.8),
        ("５０单", "单", 50),
        (".5", None, 0.5),
        ("0", "%", 0),
        # durations convert between h, d and min
        ("3天", "h", 72),
        ("72h", "d", 3),
        ("36 hours", "d", 1.5),
        ("90min", "h", 1.5),
        ("2小时", "min", 120),
        ("1.5 d", "h", 36),
        # any count word for any count unit, and for a measure without a unit
        ("50单", "件", 50),
        ("50 orders", "单", 50),
        ("50件", "orders", 50),
        ("50单", None, 50),
        # the measure's own unknown unit
        ("50kg", "kg", 50),
        ("50 KG", "kg", 50),
        ("5m", "m", 5),
        # Chinese numerals
        ("三天", "d", 3),
        ("两万欧", "EUR", 20_000),
        ("五千", None, 5000),
        ("一千二百单", "单", 1200),
    ],
)
def test_read_value(text: str, unit: str | None, expected: float) -> None:
    assert read_value(text=text, unit=unit) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("done", 1.0),
        ("Done", 1.0),
        ("完成", 1.0),
        ("已完成", 1.0),
        ("yes", 1.0),
        ("y", 1.0),
        ("true", 1.0),
        ("是", 1.0),
        ("✅", 1.0),
        (" done! ", 1.0),
        ("not done", 0.0),
        ("Not Done", 0.0),
        ("未完成", 0.0),
        ("no", 0.0),
        ("n", 0.0),
        ("false", 0.0),
        ("否", 0.0),
    ],
)
def test_read_milestone(text: str, expected: float) -> None:
    assert read_value(text=text, unit=None, milestone=True) == expected


@pytest.mark.parametrize(
    ("text", "unit", "milestone", "key"),
    [
        ("", "%", False, "value.unreadable"),
        ("   ", "EUR", False, "value.unreadable"),
        ("abc", "%", False, "value.unreadable"),
        ("1.2.3", None, False, "value.bad_grouping"),
        ("5%%", "%", False, "value.unreadable"),
        ("--5", None, False, "value.unreadable"),
        ("5 apples", "单", False, "value.unreadable"),
        ("€5000 USD", "EUR", False, "value.unreadable"),
        ("5 more", "单", False, "value.unreadable"),
        ("maybe", None, True, "value.unreadable"),
        ("5", None, True, "value.milestone_expected"),
        ("100%", None, True, "value.milestone_expected"),
        ("done", "EUR", False, "value.number_expected"),
        ("完成", "%", False, "value.number_expected"),
        ("not done", None, False, "value.number_expected"),
        ("$5,000", "EUR", False, "value.currency_mismatch"),
        ("5000欧", "USD", False, "value.currency_mismatch"),
        ("5000元", "EUR", False, "value.currency_mismatch"),
        ("£5", "CNY", False, "value.currency_mismatch"),
        ("5000欧", "%", False, "value.unit_mismatch"),
        ("€5,000", "单", False, "value.unit_mismatch"),
        ("5000 EUR", None, False, "value.unit_mismatch"),
        ("50%", "EUR", False, "value.unit_mismatch"),
        ("72h", "单", False, "value.unit_mismatch"),
        ("72h", "%", False, "value.unit_mismatch"),
        ("3天", "EUR", False, "value.unit_mismatch"),
        ("50单", "h", False, "value.unit_mismatch"),
        ("50单", "kg", False, "value.unit_mismatch"),
        ("1.8%", None, False, "value.unit_mismatch"),
    ],
)
def test_read_value_refuses(text: str, unit: str | None, milestone: bool, key: str) -> None:
    with pytest.raises(KrbotError) as caught:
        read_value(text=text, unit=unit, milestone=milestone)
    assert caught.value.key == key
    for lang in LANGUAGES:
        message = error_message(caught.value, lang=lang)
        assert f"“{text.strip()}”" in message, message


@pytest.mark.parametrize(
    ("text", "unit", "given", "expected"),
    [
        ("$5,000", "EUR", "USD", "EUR"),
        ("5000欧", "CNY", "EUR", "CNY"),
        ("5000欧", "%", "EUR", "%"),
        ("72h", "单", "h", "单"),
    ],
)
def test_mismatch_names_both_units(text: str, unit: str, given: str, expected: str) -> None:
    with pytest.raises(KrbotError) as caught:
        read_value(text=text, unit=unit)
    for lang in LANGUAGES:
        message = error_message(caught.value, lang=lang)
        assert given in message and expected in message, message


@pytest.mark.parametrize("unit", [None, "%", "EUR", "USD", "CNY", "GBP", "JPY", "h", "d", "min", "单", "orders", "kg"])
def test_suggested_example_is_readable(unit: str | None) -> None:
    """The "try …" example in a refusal reads back in the measure's unit."""
    with pytest.raises(KrbotError) as caught:
        read_value(text="xyz", unit=unit)
    example = caught.value.params["example"]
    assert read_value(text=example, unit=unit) > 0


# ---------------------------------------------------------------- writing


@pytest.mark.parametrize(
    ("number", "unit", "lang", "text"),
    [
        (100_000, "EUR", "zh", "10万欧"),
        (6_000_000, "件", "zh", "600万件"),
        (1.8, "%", "zh", "1.8%"),
        (72, "h", "zh", "72小时"),
        (3, "d", "zh", "3天"),
        (30, "min", "zh", "30分钟"),
        (25_000, "EUR", "zh", "2.5万欧"),
        (5000, "EUR", "zh", "5000欧"),
        (175_000, "EUR", "zh", "17.5万欧"),
        (1_200_000, "USD", "zh", "120万美元"),
        (12_000, "CNY", "zh", "1.2万元"),
        (120_000_000, None, "zh", "1.2亿"),
        (123_456, "EUR", "zh", "123,456欧"),
        (12_340_000, "单", "zh", "1234万单"),
        (-25_000, "EUR", "zh", "-2.5万欧"),
        (50, "orders", "zh", "50 orders"),
        (100_000, "EUR", "en", "€100k"),
        (25_000, "EUR", "en", "€25k"),
        (5000, "EUR", "en", "€5,000"),
        (1_200_000, "USD", "en", "$1.2M"),
        (12_000, "CNY", "en", "CNY 12k"),
        (5000, "CNY", "en", "CNY 5,000"),
        (20, "GBP", "en", "£20"),
        (6_000_000, "units", "en", "6M units"),
        (6_000_000, "件", "en", "6,000,000 件"),
        (1.8, "%", "en", "1.8%"),
        (72, "h", "en", "72h"),
        (3, "d", "en", "3d"),
        (123_456, "EUR", "en", "€123,456"),
        (12_340, "EUR", "en", "€12,340"),
        (2_500_000_000, None, "en", "2.5B"),
        (-5000, "EUR", "en", "-€5,000"),
        (5000.5, "EUR", "en", "€5,000.5"),
        (0.29, "EUR", "en", "€0.29"),
        (2.0, "%", "en", "2%"),
        (-0.0, None, "en", "0"),
        (50, "kg", "en", "50 kg"),
    ],
)
def test_format_value(number: float, unit: str | None, lang: str, text: str) -> None:
    assert format_value(number=number, unit=unit, lang=lang) == text


@pytest.mark.parametrize(
    ("number", "unit", "lang", "digits", "text"),
    [
        (123_456, "EUR", "zh", 3, "12.3万欧"),
        (123_456, "EUR", "en", 3, "€123k"),
        (99_960, "EUR", "en", 3, "€100k"),
        (1.23456, "%", "en", 2, "1.2%"),
        (0.012345, None, "en", 3, "0.0123"),
        (-123_456, "EUR", "zh", 2, "-12万欧"),
        (7_654_321, "单", "zh", 3, "765万单"),
        (25_000, "EUR", "en", 3, "€25k"),
    ],
)
def test_format_value_with_digits(number: float, unit: str | None, lang: str, digits: int, text: str) -> None:
    assert format_value(number=number, unit=unit, lang=lang, digits=digits) == text


@pytest.mark.parametrize(
    ("number", "lang", "digits", "text"),
    [
        (25_000, "zh", None, "2.5万"),
        (25_000, "en", None, "25k"),
        (5000, "en", None, "5,000"),
        (1_234_567.5, "en", None, "1,234,567.5"),
        (1_234_567, "zh", 2, "120万"),
        (10.0, "en", None, "10"),
    ],
)
def test_format_number(number: float, lang: str, digits: int | None, text: str) -> None:
    assert format_number(number=number, lang=lang, digits=digits) == text


@pytest.mark.parametrize(
    ("ratio", "text"),
    [(0.354, "35%"), (1.2, "120%"), (-0.05, "-5%"), (0.005, "1%"), (-0.005, "-1%"), (0.125, "13%"), (0, "0%"),
     (-0.001, "0%"), (1, "100%")],
)
def test_format_percent(ratio: float, text: str) -> None:
    assert format_percent(ratio=ratio) == text


def test_format_rejects_non_finite() -> None:
    with pytest.raises(ValueError):
        format_value(number=float("nan"), unit="EUR", lang="en")


# ---------------------------------------------------------------- properties

ROUND_TRIP_UNITS = [None, "EUR", "USD", "CNY", "GBP", "JPY", "%", "h", "d", "min", "件", "单", "orders", "kg"]
AMOUNTS = st.decimals(
    min_value=Decimal("-999999999999.99"), max_value=Decimal("999999999999.99"), places=2,
    allow_nan=False, allow_infinity=False,
)


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("unit", ROUND_TRIP_UNITS)
@settings(max_examples=200, deadline=None)
@given(amount=AMOUNTS)
def test_format_then_read_is_exact(unit: str | None, lang: str, amount: Decimal) -> None:
    number = float(amount)
    shown = format_value(number=number, unit=unit, lang=lang)
    assert read_value(text=shown, unit=unit) == number, shown


@pytest.mark.parametrize("lang", LANGUAGES)
@settings(max_examples=200, deadline=None)
@given(amount=AMOUNTS, digits=st.integers(min_value=1, max_value=6), unit=st.sampled_from(ROUND_TRIP_UNITS))
def test_rounded_format_reads_back_close(lang: str, amount: Decimal, digits: int, unit: str | None) -> None:
    number = float(amount)
    shown = format_value(number=number, unit=unit, lang=lang, digits=digits)
    back = read_value(text=shown, unit=unit)
    whole = 0.5 if unit_family(unit=unit) == "count" else 0  # a computed count is written whole
    assert abs(back - number) <= abs(number) * 0.5 * 10 ** (1 - digits) + whole + 1e-9, shown


@settings(max_examples=200, deadline=None)
@given(amount=AMOUNTS, unit=st.sampled_from(["EUR", "%", "单", None]))
def test_plain_and_separated_numbers_read(amount: Decimal, unit: str | None) -> None:
    assert read_value(text=str(amount), unit=unit) == float(amount)
    assert read_value(text=f"{amount:,}", unit=unit) == float(amount)


@settings(max_examples=200, deadline=None)
@given(ratio=st.decimals(min_value=-100, max_value=100, places=4, allow_nan=False, allow_infinity=False))
def test_format_percent_is_nearest_whole(ratio: Decimal) -> None:
    shown = format_percent(ratio=float(ratio))
    assert re.fullmatch(r"-?\d+%", shown)
    whole = int(shown[:-1])
    exact = ratio * 100
    if 0 <= exact and whole + 1 in (80, 100) and exact > whole + Decimal("0.5") - Decimal("1e-9"):
        assert exact < whole + 1  # just under a status threshold: never rounded up onto it (§7)
        return
    assert abs(exact - whole) <= Decimal("0.5")
    if abs(exact - whole) == Decimal("0.5"):  # ties go away from zero
        assert abs(whole) > abs(exact)


@settings(max_examples=500, deadline=None)
@given(ratio=st.one_of(st.floats(min_value=-1e7, max_value=1e7, allow_nan=False),
                       st.integers(min_value=-200_000, max_value=200_000).map(lambda n: (n + 0.5) / 100)))
def test_format_percent_rounds_any_float_as_its_decimal_reads(ratio: float) -> None:
    """The float's quick rounding and the exact decimal one agree everywhere, halves included (0.125 -> 13%), except
    that a ratio below a status threshold (80%, 100%) never rounds up to it (0.996 -> 99%, §7)."""
    exact = int((Decimal(repr(ratio)) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    for threshold in (80, 100):
        if 0 <= ratio < threshold / 100 - 1e-9 and exact == threshold:
            exact = threshold - 1
    assert format_percent(ratio=ratio) == f"{exact}%"


# ---------------------------------------------------------------- messages

SOURCES = [ROOT / "bot" / "core" / name for name in ("values.py", "asks.py", "numbers.py")]
ALLOWED_LATIN_IN_ZH = {"EUR", "USD", "CNY", "GBP", "h", "d", "min", "k", "M"}


def _raised_keys() -> set[str]:
    keys: set[str] = set()
    for source in SOURCES:
        keys |= set(re.findall(r"KrbotError\(\s*\"([a-z_.]+)\"", source.read_text(encoding="utf-8")))
    return keys


def test_every_raised_key_is_in_both_languages() -> None:
    keys = _raised_keys()
    assert {"value.unreadable", "value.currency_mismatch", "value.unit_mismatch"} <= keys
    for lang in LANGUAGES:
        missing = keys - set(catalog(lang=lang))
        assert not missing, f"{lang} lacks {sorted(missing)}"


def test_value_yaml_files_hold_the_same_keys() -> None:
    import yaml

    en = yaml.safe_load((ROOT / "templates" / "i18n" / "en" / "values.yaml").read_text(encoding="utf-8"))
    zh = yaml.safe_load((ROOT / "templates" / "i18n" / "zh" / "values.yaml").read_text(encoding="utf-8"))
    assert set(en) == set(zh) == _raised_keys()


@pytest.mark.parametrize(
    ("text", "unit", "milestone"),
    [("好", "%", False), ("好", None, True), ("５", None, True), ("完成", "EUR", False), ("完成", None, False),
     ("5000欧", "USD", False), ("5000欧", "%", False), ("5000欧", None, False)],
)
def test_zh_messages_have_no_english_words(text: str, unit: str | None, milestone: bool) -> None:
    with pytest.raises(KrbotError) as caught:
        read_value(text=text, unit=unit, milestone=milestone)
    message = error_message(caught.value, lang="zh")
    words = set(re.findall(r"[A-Za-z]+", message))
    assert words <= ALLOWED_LATIN_IN_ZH, message
