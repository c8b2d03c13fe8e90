"""Numbers written for the reader: whole counts, values in the writer's locale, zh lists, one word per decision."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.core.writing import format_value
from bot.i18n import translate
from bot.locales import write_value

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("number", "unit", "lang", "shown"), [(22.1, "orders", "en", "22 orders"), (22.6, "单", "zh", "23单")])
def test_a_computed_count_is_written_whole(number: float, unit: str, lang: str, shown: str) -> None:
    assert format_value(number=number, unit=unit, lang=lang, digits=3) == shown


def test_a_typed_count_is_written_as_typed() -> None:
    assert format_value(number=22.5, unit="orders", lang="en") == "22.5 orders"


@pytest.mark.parametrize(
    ("locale", "shown"),
    [("de-DE", "5.000,00\u00a0€"), ("en-US", "€5,000.00"), ("fr-FR", "5\u202f000,00\u00a0€"), ("zh-CN", "€5,000.00"),
     ("de-CH", "EUR\u00a05’000.00")],
)
def test_an_echo_is_written_in_full_the_way_the_writers_locale_writes_it(locale: str, shown: str) -> None:
    assert write_value(number=5000, unit="EUR", locale=locale, lang="en").replace("'", "’") == shown


def test_a_yen_amount_is_never_echoed_with_a_sign_read_as_yuan() -> None:
    assert "JPY" in write_value(number=5000, unit="JPY", locale="en-US", lang="en")
    assert write_value(number=5000, unit="CNY", locale="zh-CN", lang="zh") == "¥5,000.00"


def test_a_zh_list_is_joined_with_the_enumeration_comma() -> None:
    assert "KR2、KR4" in translate("code.unknown", lang="zh", word="KR9", known="KR2, KR4", suggestion="")
    assert "KR2, KR4" in translate("code.unknown", lang="en", word="KR9", known="KR2, KR4", suggestion="")


def test_one_word_for_declining_an_ask_on_slack_and_feishu() -> None:
    words = {}
    for name in ("slack", "feishu", "replies"):
        words.update(yaml.safe_load((ROOT / "templates" / "i18n" / "zh" / f"{name}.yaml").read_text(encoding="utf-8")))
    assert words["slack.ask.decline"] == words["feishu.ask.decline"] == words["ask_status.declined"] == "拒绝"
    assert not [key for key, text in words.items() if "驳回" in str(text)]
