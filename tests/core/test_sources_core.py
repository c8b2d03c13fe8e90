"""Data sources without a database: pulled numbers written for the §6 reader, who owes only words, and sync slots."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from bot.core import model
from bot.core.errors import KrbotError
from bot.core.numbers import EN_STYLE, NumberStyle
from bot.core.sources import all_synced, number_text, synced_only
from bot.core.values import read_value
from bot.syncing import next_sync, slot_period, sync_slot

DE = NumberStyle(decimal=",", group=".")


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        (52000, 52000.0),
        (Decimal("12345.678900"), 12345.6789),
        (2.125, 2.125),  # three decimals: read as 2.125, never as 2125
        (0.1 + 0.2, 0.3),  # a float's noise is cut to fifteen significant digits, as a person could type
        (1.8333333333333333, 1.83333333333333),
        (-3.5, -3.5),
    ],
)
@pytest.mark.parametrize("style", [EN_STYLE, DE], ids=["en", "de"])
def test_a_pulled_number_reads_back_exactly_in_its_owners_locale(number: object, expected: float, style: NumberStyle) -> None:
    assert read_value(text=number_text(number=number, style=style), unit="EUR", style=style) == expected  # type: ignore[arg-type]


def test_a_number_beyond_fifteen_digits_is_refused_by_the_reader() -> None:
    with pytest.raises(KrbotError) as caught:
        read_value(text=number_text(number=10**20, style=EN_STYLE), unit=None)
    assert caught.value.key == "value.too_long"


def _okrs() -> model.Okrs:
    source = model.Source(sql="SELECT 1", database_env="DB")
    synced = model.Measure(name="GMV", kind=model.MeasureKind.TARGET, baseline=0, target=10, source=source)
    typed = model.Measure(name="CR", kind=model.MeasureKind.TARGET, baseline=1, target=2)
    krs = (
        model.KeyResult(code="KR1", title="a", owner="ana", measures=(synced,)),
        model.KeyResult(code="KR2", title="b", owner="ben", measures=(synced, typed)),
    )
    objective = model.Objective(code="O1", title="o", owner="lead", measures=(),
                                paths=(model.StrategicPath(code="P1", title="p", priority=1, krs=krs),))
    return model.Okrs(workspace=model.Workspace(name="w"), people={}, cycle=model.Cycle(
        name="Q", start=datetime(2026, 10, 1).date(), end=datetime(2026, 12, 31).date()), objectives=(objective,))


def test_only_an_owner_whose_every_measure_is_sourced_owes_only_words() -> None:
    okrs = _okrs()
    assert all_synced(okrs=okrs, person="ana") and not all_synced(okrs=okrs, person="ben")
    assert not all_synced(okrs=okrs, person="lead")  # owns nothing with a number
    assert synced_only(okrs=okrs) == frozenset({"ana"})


def test_daily_and_weekly_sync_slots_on_the_workspace_clock() -> None:
    morning = datetime(2026, 10, 26, 4, 59, tzinfo=UTC)  # 05:59 in Berlin, the day after DST ended
    assert sync_slot(spec="daily 06:00", zone="Europe/Berlin", now=morning) == datetime(2026, 10, 25, 5, 0, tzinfo=UTC)
    assert next_sync(spec="daily 06:00", zone="Europe/Berlin", now=morning) == datetime(2026, 10, 26, 5, 0, tzinfo=UTC)
    assert sync_slot(spec="mon 06:00", zone="Europe/Berlin", now=morning) == datetime(2026, 10, 19, 4, 0, tzinfo=UTC)
    assert slot_period(slot=datetime(2026, 10, 26, 5, 0, tzinfo=UTC), zone="Europe/Berlin") == "at 2026-10-26T06:00"
