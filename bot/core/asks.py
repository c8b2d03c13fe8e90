"""Asks typed as text, sorted by their words into money, people, permission or other."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from bot.core.errors import KrbotError
from bot.core.model import AskKind
from bot.core.numbers import CN_NUMBER, DIGITS, EN_STYLE, MAGNITUDE_ORDER, NumberStyle, magnitude, read_number
from bot.core.units import CURRENCY_PREFIX, UNIT_WORDS, canonical_unit, normalise, unit_family


@dataclass(frozen=True, slots=True)
class ClassifiedAsk:
    """What an ask requests: its kind, the amount and unit when it names one, and the text as typed."""

    kind: AskKind
    amount: float | None
    unit: str | None
    text: str


_MULTIPLIER = "(?i:" + "|".join(re.escape(word) for word in MAGNITUDE_ORDER if word != "M") + ")|M"
_CURRENCY_WORDS = sorted(
    (word for word, code in UNIT_WORDS.items() if unit_family(unit=code) == "currency"), key=len, reverse=True
)
_CURRENCY_SUFFIX = "|".join(re.escape(word) for word in _CURRENCY_WORDS)
_NUMBER = r"(?:(?P<num>" + DIGITS + r")|(?P<cn>" + CN_NUMBER + r"))"
_AMOUNT = r"(?P<num>" + DIGITS + r")(?:\s*(?P<mult>" + _MULTIPLIER + r"))?"

# €5,000 · $15k · budget +€3,000 · EUR 2000 · €5m (refused: million or minutes?)
_MONEY_BEFORE = re.compile(
    r"(?<![a-zA-Z])(?P<cur>(?i:" + CURRENCY_PREFIX + r"))\s*\+?\s*" + _AMOUNT + r"(?P<m>m)?(?![a-zA-Z0-9])",
)
# 5000欧 · 2.5万欧 · 两万元 · 3k euros · 1200 USD · 5 000 €
_MONEY_AFTER = re.compile(
    r"(?<![\d.,])" + _NUMBER + r"\s*(?:(?P<mult>" + _MULTIPLIER + r")\s*)?(?P<cur>(?i:" + _CURRENCY_SUFFIX
    + r"))(?![a-zA-Z]|化|素|旦)",
)
# 5000 budget · 5k budget · 5000预算 (money, currency not named)
_MONEY_BUDGET = re.compile(
    r"(?<![\d.,])" + _AMOUNT + r"\s*(?i:budget|预算|经费)"
)

_EN_COUNTS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
              "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12}
_ROLES = (
    r"people|persons?|hires?|headcounts?|heads|hcs?|ftes?|staff(?:ers)?|employees?|interns?|contractors?|"
    r"freelancers?|engineers?|developers?|devs|designers?|editors?|writers?|copywriters?|analysts?|"
    r"marketers?|specialists?|managers?|assistants?|agents?|reps?|representatives?|operators?|recruits?|"
    r"members?|creators?|testers?|consultants?|translators?|coordinators?|associates?|workers?|helpers?|"
    r"hands|buyers?|planners?|photographers?|videographers?|influencers?"
)
_ADJECTIVES = r"(?:(?:more|additional|extra|new|full[- ]time|part[- ]time|senior|junior|temporary|temp|contract|freelance)\s+)*"
_EN_WORD_COUNT = "|".join(sorted(_EN_COUNTS, key=len, reverse=True))
# 2 more people · 1 hire · 3 video editors · an engineer
_PEOPLE_EN = re.compile(
    r"(?<![\w.,])(?:(?P<num>\d+)|(?P<word>" + _EN_WORD_COUNT + r"))\s+" + _ADJECTIVES
    + r"(?:(?P<role>" + _ROLES + r")|(?<!\ba )(?<!\ban )[a-z-]+\s+(?P<role2>" + _ROLES + r"))\b",
    re.IGNORECASE,
)
# headcount 2 · HC+1 · FTE: 3 · 编制2个 · 人手 2
_PEOPLE_AFTER_WORD = re.compile(
    r"(?:\b(?:headcount|head count|hc|fte)s?\b|编制|名额|人手|人力)\s*[:=+＋]?\s*" + _NUMBER, re.IGNORECASE
)
# 2个HC · 3 FTE
_PEOPLE_BEFORE_WORD = re.compile(
    r"(?<![\d.,])" + _NUMBER + r"\s*个?\s*(?:(?:hc|fte|headcount)s?\b|编制|名额)", re.IGNORECASE
)
# 3名剪辑师 · 招聘2人 · 增加两名运营 · 2位设计师 · 2个运营
_PEOPLE_ZH = re.compile(
    r"(?<![\d.,])" + _NUMBER
    + r"\s*(?:名|位|个人(?!民币)|人(?!民币|次|天|日|时)|个(?=\S{0,6}?(?:师|员|运营|开发|销售|客服|助理|经理|实习生|专家|主播|达人|工)))"
)

_PERMISSION = re.compile(
    r"权限|审批|授权|批准|开通|访问|白名单|签批|批复|准入|"
    r"\b(?:access|permissions?|approvals?|approve|authori[sz]ation|authori[sz]e|admin|rights|"
    r"sign[- ]?off|whitelist(?:ing)?|allowlist(?:ing)?|credentials?|login)\b",
    re.IGNORECASE,
)


def _money(text: str, *, style: NumberStyle) -> tuple[float, str | None] | None:
    """The first amount with a currency (or called a budget) in the text, as (amount, canonical currency)."""
    found: list[tuple[int, float, str | None]] = []
    for pattern in (_MONEY_BEFORE, _MONEY_AFTER, _MONEY_BUDGET):
        for match in pattern.finditer(text):
            groups = match.groupdict()
            if groups.get("m"):
                raise KrbotError("value.m_ambiguous", text=match[0])
            before_cjk = (groups.get("mult") or "")[:1] in ("十", "百", "千", "万", "亿")  # 1.125万: a decimal dot
            number = read_number(digits=groups.get("num"), chinese=groups.get("cn"), style=style,
                                 chinese_magnitude=before_cjk)
            currency = canonical_unit(unit=groups["cur"]) if groups.get("cur") else None
            if number is None:
                continue
            factor = magnitude(groups["mult"]) if groups.get("mult") else Decimal(1)
            if factor is None:
                continue
            found.append((match.start(), float(number * factor), currency))
            break
    if not found:
        return None
    _, amount, currency = min(found, key=lambda item: (item[0], item[2] is None))
    return amount, currency


def _people(text: str) -> float | None:
    """The number of people the text asks for, if it names one."""
    found: list[tuple[int, float]] = []
    for pattern in (_PEOPLE_AFTER_WORD, _PEOPLE_BEFORE_WORD, _PEOPLE_ZH, _PEOPLE_EN):
        for match in pattern.finditer(text):
            groups = match.groupdict()
            if groups.get("word"):
                count: Decimal | None = Decimal(_EN_COUNTS[groups["word"].casefold()])
            else:
                count = read_number(digits=groups.get("num"), chinese=groups.get("cn"), style=EN_STYLE)
            if count is not None and count > 0:
                found.append((match.start(), float(count)))
                break
    return min(found)[1] if found else None


def classify_ask(*, text: str, style: NumberStyle = EN_STYLE) -> ClassifiedAsk:
    """Money (amount with a currency) before people (a count of people), then permission, else other."""
    typed = text.strip()
    normal = normalise(typed)
    money = _money(normal, style=style)
    if money is not None:
        return ClassifiedAsk(kind=AskKind.MONEY, amount=money[0], unit=money[1], text=typed)
    people = _people(normal)
    if people is not None:
        return ClassifiedAsk(kind=AskKind.PEOPLE, amount=people, unit="people", text=typed)
    if _PERMISSION.search(normal):
        return ClassifiedAsk(kind=AskKind.PERMISSION, amount=None, unit=None, text=typed)
    return ClassifiedAsk(kind=AskKind.OTHER, amount=None, unit=None, text=typed)


_JOINS = re.compile(r"\s+(?:and|plus|&|\+)\s+|\s*(?:并且|并|以及|和|及|另外|,|，|、)\s*", re.IGNORECASE)


def _quantified(text: str) -> bool:
    """True when a piece of an ask names money or a count of people."""
    normal = normalise(text)
    try:
        return _money(normal, style=EN_STYLE) is not None or _people(normal) is not None
    except KrbotError:
        return True


def split_asks(*, text: str) -> list[str]:
    """The asks in one ask: text, split at ；, ; and line breaks, and at and/和 between two quantified asks."""
    parts = [part.strip() for part in re.split(r"[;；\r\n]", text) if part.strip()]
    asks: list[str] = []
    for part in parts:
        pieces = [piece.strip() for piece in _JOINS.split(part) if piece.strip()]
        if len(pieces) > 1 and all(_quantified(piece) for piece in pieces):
            asks.extend(pieces)
        else:
            asks.append(part)
    return asks
