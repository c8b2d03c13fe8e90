"""Properties of the one number reader: Babel's writing reads back in every locale, and every path reads alike."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.commands import Change, Update, parse_command
from bot.core.errors import KrbotError
from bot.core.model import Measure, MeasureKind
from bot.core.units import fold
from bot.locales import number_style, write_value
from bot.services.checkins import read_measure
from bot.services.export import csv_number
from bot.services.spreadsheets import sniff_delimiter

LOCALES = ["de-DE", "fr-FR", "en-GB", "en-US", "zh-CN", "de-CH"]
UNITS = ["EUR", "USD", "CNY", "CHF", "%", "orders", "单", "h", None]
VALUES = st.decimals(
    min_value=Decimal("-999999999999.99"), max_value=Decimal("999999999999.99"), places=2,
    allow_nan=False, allow_infinity=False,
)
FINE = st.decimals(min_value=Decimal("-99999.9999"), max_value=Decimal("99999.9999"), places=4,
                   allow_nan=False, allow_infinity=False)


def measure(unit: str | None) -> Measure:
    """A measure wide enough that no value in the strategies is implausible."""
    return Measure(name="Net sales", kind=MeasureKind.TARGET, unit=unit, baseline=0, target=10**12)


def read(text: str, *, unit: str | None, locale: str, check_range: bool = True) -> float | str:
    """What the reader makes of a text: the number, or the key of its refusal."""
    try:
        return read_measure(measure(unit), text, style=number_style(locale=locale), check_range=check_range)
    except KrbotError as error:
        return str(error.params.get("detail", error.key))


@settings(max_examples=300, deadline=None)
@given(value=VALUES | FINE, unit=st.sampled_from(UNITS), locale=st.sampled_from(LOCALES), lang=st.sampled_from(["zh", "en"]))
def test_what_babel_writes_in_a_locale_reads_back_in_it(value: Decimal, unit: str | None, locale: str, lang: str) -> None:
    """Write with Babel, read in the same locale: the same number, or (3 decimals) refused offering it."""
    number = float(value)
    written = write_value(number=number, unit=unit, locale=locale, lang=lang)
    got = read(written, unit=unit, locale=locale)
    if got == "value.ambiguous":
        fraction = format(abs(value).normalize(), "f").partition(".")[2]
        assert len(fraction) == 3 and 1 <= abs(value) < 1000, written
        return
    assert got == number, written


@settings(max_examples=300, deadline=None)
@given(value=VALUES | FINE, unit=st.sampled_from(UNITS), locale=st.sampled_from(LOCALES))
def test_a_csv_number_reads_back_exactly(value: Decimal, unit: str | None, locale: str) -> None:
    """What export writes into a CSV cell is read back by import-checkins as the same number, never refused."""
    cell = csv_number(value=float(value), style=number_style(locale=locale))
    assert read(cell, unit=unit, locale=locale) == float(value), cell


def _value_of(command: object) -> str:
    """The one value of a check-in, refused (as the service would) when it names another measure."""
    assert isinstance(command, Update) and len(command.values) == 1
    item = command.values[0]
    if item.measure is not None and fold(item.measure) != "netsales":
        raise KrbotError("measure.unknown", word=item.measure)
    return item.text


def _chat_named(text: str) -> str:
    return _value_of(parse_command(text=f"/kr update KR2 Net sales={text} note: x"))


def _chat_bare(text: str) -> str:
    return _value_of(parse_command(text=f"/kr update KR2 {text}"))


def _chat_spaced(text: str) -> str:
    return _value_of(parse_command(text=f"/kr update KR2 net-sales：{text}，备注：ok"))


def _csv_cell(text: str) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=";").writerows([["code", "measure", "value", "person", "at"], ["KR2", "Net sales", text, "a", "x"]])
    body = buffer.getvalue()
    rows = list(csv.DictReader(io.StringIO(body), delimiter=sniff_delimiter(text=body)))
    return rows[0]["value"]


def _change(text: str) -> str:
    command = parse_command(text=f"/kr change KR2 Net sales.target={text} reason: x")
    assert isinstance(command, Change)
    return command.changes[0].text


PATHS = [_chat_named, _chat_bare, _chat_spaced, _csv_cell]

SHAPES = st.sampled_from(["{n}", "{n}{u}", "{n} {u}", "{u}{n}", "{n}k{u}", "{n}!", "+{n}", "{n}m"])


@settings(max_examples=300, deadline=None)
@given(
    value=VALUES | FINE,
    unit=st.sampled_from(["EUR", "%", "h", "orders"]),
    locale=st.sampled_from(LOCALES),
    shape=SHAPES,
    grouping=st.booleans(),
)
def test_no_input_is_read_differently_by_two_paths(
    value: Decimal, unit: str, locale: str, shape: str, grouping: bool
) -> None:
    """Chat text (named, bare, IME), a form field, a CSV cell and /kr change read one typed value alike."""
    style = number_style(locale=locale)
    digits = format(value.normalize(), "f")
    whole, _, fraction = digits.partition(".")
    if grouping and len(whole.lstrip("-")) > 3:
        sign, body = ("-", whole[1:]) if whole.startswith("-") else ("", whole)
        groups = [body[max(0, i - 3) : i] for i in range(len(body), 0, -3)][::-1]
        whole = sign + style.group.join(groups)
    number = whole + (style.decimal + fraction if fraction else "")
    symbol = {"EUR": "€", "%": "%", "h": "h", "orders": "orders"}[unit]
    text = shape.format(n=number, u=symbol)
    form = read(text, unit=unit, locale=locale)  # a Slack or Feishu form field is read as typed
    for path in PATHS:
        try:
            typed = path(text)
        except KrbotError as error:  # the grammar refused it: then the form must refuse it too
            assert isinstance(form, str), (path.__name__, text, error.key)
            continue
        assert read(typed, unit=unit, locale=locale) == form, (path.__name__, text, typed)
    try:
        changed = _change(text)
    except KrbotError:
        return
    goal = read(changed, unit=unit, locale=locale, check_range=False)
    if not isinstance(form, str):
        assert goal == form, (text, changed)


@pytest.mark.parametrize("locale", LOCALES)
def test_every_supported_locale_has_its_signs(locale: str) -> None:
    style = number_style(locale=locale)
    assert style.decimal in ".," and style.group not in (style.decimal, "")
