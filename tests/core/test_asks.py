"""Tests of bot.core.asks: classifying and splitting asks typed as text."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.asks import ClassifiedAsk, classify_ask, split_asks
from bot.core.model import AskKind
from bot.core.values import format_value

MONEY, PEOPLE, PERMISSION, OTHER = AskKind.MONEY, AskKind.PEOPLE, AskKind.PERMISSION, AskKind.OTHER


@pytest.mark.parametrize(
    ("text", "kind", "amount", "unit"),
    [
        # money: an amount with a currency
        ("追加5000欧预算", MONEY, 5000, "EUR"),
        ("$15k air-freight budget", MONEY, 15_000, "USD"),
        ("追加2.5万欧广告预算", MONEY, 25_000, "EUR"),
        ("budget +€3,000", MONEY, 3000, "EUR"),
        ("5000 EUR for ads", MONEY, 5000, "EUR"),
        ("USD 2,000 for samples", MONEY, 2000, "USD"),
        ("$1.2M marketing fund", MONEY, 1_200_000, "USD"),
        ("追加两万元预算", MONEY, 20_000, "CNY"),
        ("再给3000块买样品", MONEY, 3000, "CNY"),
        ("approve 3k€ for samples", MONEY, 3000, "EUR"),
        ("£500 for a photographer", MONEY, 500, "GBP"),
        ("1.2万美元推广费", MONEY, 12_000, "USD"),
        # money wins over people and permission
        ("追加5000欧预算并招聘2人", MONEY, 5000, "EUR"),
        ("2 more people and $5k", MONEY, 5000, "USD"),
        ("审批5000欧预算", MONEY, 5000, "EUR"),
        # people
        ("3名剪辑师", PEOPLE, 3, "people"),
        ("2 more people", PEOPLE, 2, "people"),
        ("1 hire", PEOPLE, 1, "people"),
        ("headcount 2", PEOPLE, 2, "people"),
        ("Headcount: 4", PEOPLE, 4, "people"),
        ("HC+1", PEOPLE, 1, "people"),
        ("增加2个HC", PEOPLE, 2, "people"),
        ("招聘2人", PEOPLE, 2, "people"),
        ("增加两名运营", PEOPLE, 2, "people"),
        ("再来三位设计师", PEOPLE, 3, "people"),
        ("2个运营", PEOPLE, 2, "people"),
        ("2 video editors", PEOPLE, 2, "people"),
        ("two more engineers", PEOPLE, 2, "people"),
        ("an extra designer", PEOPLE, 1, "people"),
        ("3 FTE", PEOPLE, 3, "people"),
        ("需要1名德语客服，并开通后台权限", PEOPLE, 1, "people"),
        # permission
        ("TikTok Shop 后台权限", PERMISSION, None, None),
        ("广告账户审批", PERMISSION, None, None),
        ("需要授权", PERMISSION, None, None),
        ("access to the Amazon ads console", PERMISSION, None, None),
        ("permission to run coupons", PERMISSION, None, None),
        ("faster approval of listings", PERMISSION, None, None),
        ("admin rights on Shopify", PERMISSION, None, None),
        # other, kept as typed
        ("更多素材", OTHER, None, None),
        ("a faster supplier", OTHER, None, None),
        ("5 more orders from the warehouse", OTHER, None, None),
        ("追加5000预算", MONEY, 5000, None),
        ("10人天的支持", OTHER, None, None),
        ("a budget manager's review", OTHER, None, None),
    ],
)
def test_classify_ask(text: str, kind: AskKind, amount: float | None, unit: str | None) -> None:
    ask = classify_ask(text=text)
    assert (ask.kind, ask.amount, ask.unit, ask.text) == (kind, amount, unit, text)


def test_classified_ask_keeps_the_text_stripped_and_is_frozen() -> None:
    ask = classify_ask(text="  更多素材 \n")
    assert ask == ClassifiedAsk(kind=AskKind.OTHER, amount=None, unit=None, text="更多素材")
    with pytest.raises(dataclasses.FrozenInstanceError):
        ask.kind = AskKind.MONEY  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("追加5000欧预算", ["追加5000欧预算"]),
        ("追加5000欧预算；招聘2人", ["追加5000欧预算", "招聘2人"]),
        ("$15k budget; 2 more people;access", ["$15k budget", "2 more people", "access"]),
        ("a\nb\r\nc", ["a", "b", "c"]),
        (" ；; \n ", []),
        ("", []),
        ("  one ask  ", ["one ask"]),
    ],
)
def test_split_asks(text: str, parts: list[str]) -> None:
    assert split_asks(text=text) == parts


CURRENCIES = ["EUR", "USD", "CNY", "GBP", "JPY"]
AMOUNTS = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("999999999999.99"), places=2,
                      allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(amount=AMOUNTS, currency=st.sampled_from(CURRENCIES))
def test_money_as_krbot_writes_it_classifies_exactly(amount: Decimal, currency: str) -> None:
    zh = format_value(number=float(amount), unit=currency, lang="zh")
    en = format_value(number=float(amount), unit=currency, lang="en")
    for text in (f"追加{zh}预算", f"need {en} for ads", f"budget +{en}"):
        ask = classify_ask(text=text)
        assert (ask.kind, ask.amount, ask.unit) == (AskKind.MONEY, float(amount), currency), text


@settings(max_examples=200, deadline=None)
@given(count=st.integers(min_value=1, max_value=500), shape=st.sampled_from(
    ["招聘{n}人", "{n}名剪辑师", "增加{n}位运营", "{n} more people", "{n} hires", "headcount {n}", "HC+{n}"]))
def test_people_counts(count: int, shape: str) -> None:
    ask = classify_ask(text=shape.format(n=count))
    assert (ask.kind, ask.amount, ask.unit) == (AskKind.PEOPLE, float(count), "people")


@settings(max_examples=200, deadline=None)
@given(parts=st.lists(st.text(alphabet=st.characters(blacklist_characters=";；\r\n"), min_size=1), max_size=5),
       separator=st.sampled_from([";", "；", "\n", "\r\n", " ; "]))
def test_split_asks_keeps_every_non_empty_part(parts: list[str], separator: str) -> None:
    expected = [part.strip() for part in parts if part.strip()]
    assert split_asks(text=separator.join(parts)) == expected
