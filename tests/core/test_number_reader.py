"""CONTRACT §6 "How a number is read": one test per rule and per reading defect of issue 11 (core, no database)."""

from __future__ import annotations

import pytest

from bot.commands import MeasureValue, Update, parse_command
from bot.core.asks import classify_ask, split_asks
from bot.core.errors import KrbotError
from bot.core.model import AskKind, Measure, MeasureKind
from bot.core.numbers import NumberStyle
from bot.core.values import read_amount, read_measure_value, read_value

EN = NumberStyle(decimal=".", group=",")
DE = NumberStyle(decimal=",", group=".")
FR = NumberStyle(decimal=",", group="\u202f")
CH = NumberStyle(decimal=".", group="'")

GMV = Measure(name="GMV", kind=MeasureKind.TARGET, unit="EUR", baseline=0, target=500_000)
ORDERS = Measure(name="Orders", kind=MeasureKind.TARGET, unit="orders", baseline=0, target=5000)
RATE = Measure(name="Conversion", kind=MeasureKind.TARGET, unit="%", baseline=1.5, target=2.0)
HOURS = Measure(name="Response", kind=MeasureKind.AT_MOST, unit="h", limit=72)


def refused(text: str, *, unit: str | None, style: NumberStyle = EN) -> KrbotError:
    """The refusal reading `text` gives."""
    with pytest.raises(KrbotError) as caught:
        read_value(text=text, unit=unit, style=style)
    return caught.value


# ---------------------------------------------------------------- the defects listed in issue 11


def test_euro_5000_written_the_german_way_is_five_thousand_in_de() -> None:
    assert read_value(text="€5.000", unit="EUR", style=DE) == 5000


def test_euro_5000_in_an_en_locale_is_refused_offering_both_readings() -> None:
    error = refused("€5.000", unit="EUR", style=EN)
    assert (error.key, error.params["one"], error.params["other"]) == ("value.ambiguous", "5000", "5")


def test_1200_orders_written_the_german_way() -> None:
    assert read_value(text="1.200", unit="orders", style=DE) == 1200
    assert refused("1.200", unit="orders", style=EN).key == "value.ambiguous"


@pytest.mark.parametrize("text", ["90m", "90min", "90 min", "90分钟"])
def test_90_minutes_on_an_hours_measure_is_one_and_a_half_hours(text: str) -> None:
    assert read_value(text=text, unit="h") == 1.5


@pytest.mark.parametrize(("text", "hours"), [("1w", 168), ("1 week", 168), ("2周", 336), ("1d", 24), ("3天", 72)])
def test_weeks_and_days_on_an_hours_measure(text: str, hours: float) -> None:
    assert read_value(text=text, unit="h") == hours


@pytest.mark.parametrize(
    ("text", "unit", "value"), [("1,8%", "%", 1.8), ("87,5%", "%", 87.5), ("1,5h", "h", 1.5), ("87,5 %", "%", 87.5)]
)
@pytest.mark.parametrize("style", [EN, DE, FR], ids=["en", "de", "fr"])
def test_a_decimal_comma_is_read_in_every_locale(text: str, unit: str, value: float, style: NumberStyle) -> None:
    assert read_value(text=text, unit=unit, style=style) == value


@pytest.mark.parametrize(
    "text",
    [
        "/kr update ＫＲ２ １．８％",
        "/kr update KR2：1.8%",
        "/kr update KR2: 1.8%",
        "/kr update KR2 新客转化率：1.8%",
        "/kr update KR2 新客转化率 1.8%",
        "/kr update KR2 新客转化率=1.8%，ACOS=23%",
    ],
)
def test_chinese_ime_input_is_read(text: str) -> None:
    command = parse_command(text=text)
    assert isinstance(command, Update) and command.code == "KR2"
    assert read_value(text=command.values[0].text, unit="%") == 1.8
    if "ACOS" in text:
        assert command.values == (MeasureValue("新客转化率", "1.8%"), MeasureValue("ACOS", "23%"))


def test_a_400_digit_number_is_refused_not_stored_as_infinity() -> None:
    error = refused("9" * 400, unit="orders")
    assert error.key == "value.too_long"
    assert len(error.params["text"]) < 30  # the message quotes the start, not 400 digits


def test_an_ask_of_5_000_euros_for_creators_is_money_5000_eur() -> None:
    ask = classify_ask(text="5 000 € for creators", style=DE)
    assert (ask.kind, ask.amount, ask.unit) == (AskKind.MONEY, 5000, "EUR")
    ask = classify_ask(text="5 000 € for creators", style=EN)
    assert (ask.kind, ask.amount, ask.unit) == (AskKind.MONEY, 5000, "EUR")


def test_an_ask_of_euro_5000_extra_budget() -> None:
    assert classify_ask(text="€5.000 extra budget", style=DE).amount == 5000
    with pytest.raises(KrbotError) as caught:
        classify_ask(text="€5.000 extra budget", style=EN)
    assert caught.value.key == "value.ambiguous"


def test_5000_budget_and_2_people_is_two_asks() -> None:
    parts = split_asks(text="5000 budget and 2 people")
    kinds = [(classify_ask(text=p).kind, classify_ask(text=p).amount) for p in parts]
    assert kinds == [(AskKind.MONEY, 5000), (AskKind.PEOPLE, 2)]


# ---------------------------------------------------------------- §6, rule by rule


@pytest.mark.parametrize(
    ("text", "style", "value"),
    [
        ("1.234,5", DE, 1234.5),
        ("1.234,5", FR, 1234.5),
        ("1,234.5", EN, 1234.5),
        ("1,234.5", DE, 1234.5),
        ("12.500,50 EUR", EN, 12500.5),
        ("1,480", EN, 1480),
        ("5.000", DE, 5000),
        ("5 000", EN, 5000),
        ("5\u00a0000", DE, 5000),
        ("5\u202f000", FR, 5000),
        ("1'000", EN, 1000),
        ("1'000", CH, 1000),
        ("1’000", CH, 1000),
        ("1.000.000", EN, 1_000_000),
        ("0.500", DE, 0.5),
        ("1234,567", EN, 1234.567),
    ],
)
def test_the_writers_locale_decides_the_decimal_sign(text: str, style: NumberStyle, value: float) -> None:
    assert read_value(text=text, unit="EUR" if "EUR" in text else None, style=style) == value


@pytest.mark.parametrize(("text", "style"), [("€5.000", EN), ("1,500", DE), ("1,500", FR), ("5.000", FR), ("5.000", CH)])
def test_three_digits_after_the_locales_decimal_sign_are_refused_as_ambiguous(text: str, style: NumberStyle) -> None:
    assert refused(text, unit="EUR" if "€" in text else None, style=style).key == "value.ambiguous"


@pytest.mark.parametrize("text", ["5 00", "50 0000", "5 000 00", "1'00"])
def test_a_space_groups_only_three_digits(text: str) -> None:
    assert refused(text, unit=None).key in ("value.bad_grouping", "value.unreadable")


@pytest.mark.parametrize(
    ("text", "unit", "value"),
    [("5k", "EUR", 5000), ("5K €", "EUR", 5000), ("$1.2M", "USD", 1_200_000), ("2 Mio. €", "EUR", 2_000_000),
     ("3 mn EUR", "EUR", 3_000_000), ("1 Mrd €", "EUR", 1e9), ("2bn", "USD", 2e9), ("1.5B", "USD", 1.5e9),
     ("5千欧", "EUR", 5000), ("2.5万欧", "EUR", 25_000), ("1.2亿", "CNY", 1.2e8), ("3k", "orders", 3000)],
)
def test_magnitudes_on_money_and_counts(text: str, unit: str, value: float) -> None:
    assert read_value(text=text, unit=unit) == value


@pytest.mark.parametrize("text", ["5k%", "2万%", "1M%"])
def test_a_percent_measure_takes_no_magnitude(text: str) -> None:
    assert refused(text, unit="%").key == "value.no_magnitude"


@pytest.mark.parametrize(("text", "unit"), [("5m", "EUR"), ("€5m", "EUR"), ("3m", "orders")])
def test_a_lowercase_m_on_money_or_counts_is_refused_as_ambiguous(text: str, unit: str) -> None:
    assert refused(text, unit=unit).key == "value.m_ambiguous"


def test_a_lowercase_m_in_an_ask_is_refused_as_ambiguous() -> None:
    with pytest.raises(KrbotError) as caught:
        classify_ask(text="€5m for TV")
    assert caught.value.key == "value.m_ambiguous"


@pytest.mark.parametrize(
    ("text", "measure", "value"),
    [("2000%!", RATE, 2000), ("6.9%", RATE, 6.9), ("-3.5%", RATE, -3.5), ("720h", HOURS, 720), ("5.6M €!", GMV, 5.6e6), ("5.5M €", GMV, 5.5e6)],
)
def test_inside_the_plausible_range_or_insisted_with_a_bang(text: str, measure: Measure, value: float) -> None:
    assert read_measure_value(text=text, measure=measure) == value


@pytest.mark.parametrize(("text", "measure"), [("2000%", RATE), ("-4%", RATE), ("721h", HOURS), ("5.6M €", GMV)])
def test_far_outside_the_range_is_refused_quoting_it(text: str, measure: Measure) -> None:
    with pytest.raises(KrbotError) as caught:
        read_measure_value(text=text, measure=measure)
    assert caught.value.key == "value.implausible"
    assert {caught.value.params["low"], caught.value.params["high"]} & {"-3.5", "7", "-720", "720", "-5000000", "5500000"}


def test_the_bang_lifts_the_range_and_no_other_rule() -> None:
    with pytest.raises(KrbotError) as caught:
        read_measure_value(text="€5.000!", measure=GMV, style=EN)
    assert caught.value.key == "value.ambiguous"


@pytest.mark.parametrize("text", ["1234567890123456", "1,234,567,890,123,456", "0.0000000000000001"])
def test_more_than_15_digits_are_refused(text: str) -> None:
    assert refused(text, unit=None).key == "value.too_long"


@pytest.mark.parametrize("text", ["+0.2%", "+ 0.2%", "+5k"])
def test_a_change_is_refused_write_the_new_value(text: str) -> None:
    assert refused(text, unit="%" if "%" in text else "EUR").key == "value.delta"


def test_read_amount_keeps_the_currency() -> None:
    assert read_amount(text="5 000 €", style=FR) == (5000, "EUR")
