"""Values as people type them (1.8%, 2.5万欧, $1.2M, 72h, done) read exactly, and written back in zh or en."""

from __future__ import annotations

import re
import unicodedata
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from bot.core.errors import KrbotError

# code -> (words that mean it, lower-case; en symbol or None; zh name)
_CURRENCIES: dict[str, tuple[tuple[str, ...], str | None, str]] = {
    "EUR": (("€", "eur", "euro", "euros", "欧", "欧元"), "€", "欧"),
    "USD": (("$", "us$", "usd", "dollar", "dollars", "美元", "美金"), "$", "美元"),
    "CNY": (("¥", "元", "人民币", "rmb", "cny", "块", "块钱"), None, "元"),
    "GBP": (("£", "gbp", "英镑"), "£", "英镑"),
    "JPY": (("jpy", "yen", "日元", "円"), None, "日元"),
    "HKD": (("hkd", "hk$", "港币", "港元"), None, "港元"),
    "CHF": (("chf", "瑞士法郎"), None, "瑞士法郎"),
    "SGD": (("sgd", "s$", "新加坡元"), None, "新加坡元"),
    "AUD": (("aud", "a$", "澳元"), None, "澳元"),
    "CAD": (("cad", "c$", "加元"), None, "加元"),
    "KRW": (("krw", "₩", "韩元"), None, "韩元"),
}
# canonical -> (words, minutes in one, zh name)
_DURATIONS: dict[str, tuple[tuple[str, ...], int, str]] = {
    "h": (("h", "hr", "hrs", "hour", "hours", "小时", "个小时", "钟头", "个钟头"), 60, "小时"),
    "d": (("d", "day", "days", "天", "日"), 1440, "天"),
    "min": (("min", "mins", "minute", "minutes", "分钟"), 1, "分钟"),
}
_PERCENT_WORDS = ("%", "percent", "per cent", "pct")

_COUNT_WORDS = frozenset(
    {
        "单", "件", "个", "人", "次", "位", "名", "笔", "家", "款", "条", "篇", "场", "台", "套", "份", "张",
        "户", "人次", "订单", "客户", "新客", "用户",
        "order", "orders", "unit", "units", "pc", "pcs", "piece", "pieces", "item", "items",
        "customer", "customers", "people", "person", "persons", "user", "users", "client", "clients",
        "lead", "leads", "sale", "sales", "deal", "deals", "account", "accounts", "seller", "sellers",
        "store", "stores", "shop", "shops", "listing", "listings", "review", "reviews", "video",
        "videos", "post", "posts", "sku", "skus", "visit", "visits", "signup", "signups", "download",
        "downloads", "install", "installs", "ticket", "tickets", "hire", "hires", "time", "times",
        "member", "members", "buyer", "buyers", "subscriber", "subscribers", "case", "cases",
    }
)
# a Chinese unit starting with one of these counts things: 个客户, 家店铺, 名新客 ...
_COUNT_CLASSIFIERS = "单件个人次位名笔家款条篇场台套份张户"

# multipliers after a number (lower case), longest first when matching
_MULTIPLIERS: dict[str, Decimal] = {
    "k": Decimal(10) ** 3,
    "thousand": Decimal(10) ** 3,
    "千": Decimal(10) ** 3,
    "m": Decimal(10) ** 6,
    "mn": Decimal(10) ** 6,
    "mio": Decimal(10) ** 6,
    "million": Decimal(10) ** 6,
    "millions": Decimal(10) ** 6,
    "百万": Decimal(10) ** 6,
    "千万": Decimal(10) ** 7,
    "b": Decimal(10) ** 9,
    "bn": Decimal(10) ** 9,
    "billion": Decimal(10) ** 9,
    "billions": Decimal(10) ** 9,
    "万": Decimal(10) ** 4,
    "w": Decimal(10) ** 4,
    "十万": Decimal(10) ** 5,
    "亿": Decimal(10) ** 8,
    "万亿": Decimal(10) ** 12,
}
_MULTIPLIER_ORDER = sorted(_MULTIPLIERS, key=len, reverse=True)

_DONE_WORDS = frozenset(
    {"done", "完成", "已完成", "完成了", "达成", "已达成", "yes", "y", "true", "是", "✅", "✔", "☑",
     "finished", "complete", "completed"}
)
_NOT_DONE_WORDS = frozenset(
    {"not done", "未完成", "没完成", "还没完成", "no", "n", "false", "否", "❌", "✗", "✘", "undone",
     "not yet"}
)

_DIGITS_NUMBER = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+"
_CN_NUMBER = r"[〇零一二两三四五六七八九十][〇零一二两三四五六七八九十百千万亿]*"
_CN_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
              "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}

_TRAILING_PUNCTUATION = " .。!！~～"
_EN_STEPS = (("B", Decimal(10) ** 9, Decimal(10) ** 9), ("M", Decimal(10) ** 6, Decimal(10) ** 6),
             ("k", Decimal(10) ** 3, Decimal(10) ** 4))
_ZH_STEPS = (("万亿", Decimal(10) ** 12, Decimal(10) ** 12), ("亿", Decimal(10) ** 8, Decimal(10) ** 8),
              ("万", Decimal(10) ** 4, Decimal(10) ** 4))


def _has_cjk(text: str) -> bool:
    """True when the text holds a Chinese character."""
    return any("\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" for ch in text)


_PREFIX_WORDS = tuple(
    word
    for words, _, _ in _CURRENCIES.values()
    for word in words
    if not _has_cjk(word) and word not in {"euro", "euros", "dollar", "dollars", "yen"}
)
_CURRENCY_PREFIX = "|".join(re.escape(word) for word in sorted(_PREFIX_WORDS, key=len, reverse=True))

_HEAD = re.compile(
    r"(?P<s1>[+-])?\s*(?:(?P<pre>" + _CURRENCY_PREFIX + r")(?![a-z])\s*)?(?P<s2>[+-])?\s*"
    r"(?:(?P<num>" + _DIGITS_NUMBER + r")|(?P<cn>" + _CN_NUMBER + r"))(?P<tail>.*)",
    re.IGNORECASE | re.DOTALL,
)

_UNIT_WORDS: dict[str, str] = {
    **{code.lower(): code for code in _CURRENCIES},
    **{word: code for code, (words, _, _) in _CURRENCIES.items() for word in words},
    **{word: code for code, (words, _, _) in _DURATIONS.items() for word in words},
    **{word: "%" for word in _PERCENT_WORDS},
}  # lower-case word -> canonical unit, for currencies, percent and durations


def _normalise(text: str) -> str:
    """Full-width forms folded, minus signs unified, variation selectors dropped, outer blanks stripped."""
    folded = unicodedata.normalize("NFKC", text)
    folded = folded.replace("\u2212", "-").replace("\u2013", "-").replace("\ufe0f", "")
    return " ".join(folded.split())


def _fold(unit: str) -> str:
    """A unit in the form used to compare two spellings."""
    return _normalise(unit).casefold()


def canonical_unit(*, unit: str | None) -> str | None:
    """The unit's standard spelling: EUR/USD/CNY/GBP…, %, h/d/min; count and unknown words stripped as given."""
    if unit is None or not unit.strip():
        return None
    known = _UNIT_WORDS.get(_fold(unit))
    return known if known is not None else unit.strip()


def _is_count(unit: str) -> bool:
    """True for words that count things (单, 件, orders, 个客户 …)."""
    folded = _fold(unit)
    if folded in _COUNT_WORDS:
        return True
    return _has_cjk(folded) and len(folded) <= 5 and folded[0] in _COUNT_CLASSIFIERS


def unit_family(*, unit: str | None) -> str:
    """The kind of unit: "currency", "percent", "duration", "count", "none" (no unit) or "other"."""
    canonical = canonical_unit(unit=unit)
    if canonical is None:
        return "none"
    if canonical in _CURRENCIES:
        return "currency"
    if canonical == "%":
        return "percent"
    if canonical in _DURATIONS:
        return "duration"
    if _is_count(canonical):
        return "count"
    return "other"


def _example(*, unit: str | None) -> str:
    """A value in `unit` that read_value accepts, for messages (the same in every language)."""
    canonical = canonical_unit(unit=unit)
    family = unit_family(unit=canonical)
    if canonical is None:
        return "50"
    if family == "percent":
        return "1.8%"
    if family == "currency":
        symbol = _CURRENCIES[canonical][1]
        return f"{symbol}5,000" if symbol else f"5000 {canonical}"
    if family == "duration":
        return {"h": "72h", "d": "3d", "min": "30min"}[canonical]
    return f"50{canonical}" if _has_cjk(canonical) else f"50 {canonical}"


def _chinese_int(text: str) -> int | None:
    """一千二百 -> 1200, 两万五 -> 25000, 十 -> 10; None when the characters make no number."""
    for big, size in (("亿", 10**8), ("万", 10**4)):
        if big in text:
            high, low = text.split(big, 1)
            upper = _chinese_int(high) if high else None
            if upper is None:
                return None
            if not low:
                return upper * size
            if len(low) == 1 and low in _CN_DIGITS:  # 两万五 = 25000
                return upper * size + _CN_DIGITS[low] * size // 10
            lower = _chinese_int(low.lstrip("零〇"))
            return None if lower is None else upper * size + lower
    total, digit, last_unit, after_unit = 0, None, None, False
    for ch in text:
        if ch in "零〇":
            if digit is not None:
                return None
            after_unit = False
        elif ch in _CN_DIGITS:
            if digit is not None:
                return None
            digit = _CN_DIGITS[ch]
        elif ch in _CN_UNITS:
            size = _CN_UNITS[ch]
            if last_unit is not None and size >= last_unit:
                return None
            if digit is None:
                if ch != "十" or total:
                    return None
                digit = 1
            total += digit * size
            digit, last_unit, after_unit = None, size, True
        else:
            return None
    if digit is not None:
        if after_unit and last_unit is not None and last_unit >= 100:  # 一千二 = 1200
            return total + digit * last_unit // 10
        total += digit
    return total


def _number(*, digits: str | None, chinese: str | None) -> Decimal | None:
    """The number written in digits (with thousands commas) or in Chinese numerals."""
    if digits is not None:
        return Decimal(digits.replace(",", ""))
    value = _chinese_int(chinese or "")
    return None if value is None else Decimal(value)


def _typed_unit(word: str, *, accept: str | None) -> str | None:
    """The canonical unit a word after a number names, if krbot knows it (or it is the measure's own)."""
    canonical = canonical_unit(unit=word)
    if canonical is None:
        return None
    if unit_family(unit=canonical) != "other":
        return canonical
    if accept is not None and _fold(canonical) == _fold(accept):
        return accept
    return None


def _split_tail(tail: str, *, accept: str | None) -> tuple[Decimal, str | None] | None:
    """What follows the number: an optional multiplier, then an optional unit; None when it is neither."""
    tail = tail.strip()
    if not tail:
        return Decimal(1), None
    unit = _typed_unit(tail, accept=accept)
    if unit is not None:
        return Decimal(1), unit
    lowered = tail.casefold()
    for word in _MULTIPLIER_ORDER:
        if lowered.startswith(word):
            rest = tail[len(word):].strip()
            if not rest:
                return _MULTIPLIERS[word], None
            unit = _typed_unit(rest, accept=accept)
            if unit is not None:
                return _MULTIPLIERS[word], unit
    return None


def _parse(text: str, *, accept: str | None) -> tuple[Decimal, str | None] | None:
    """A whole text as (number, canonical unit typed or None); None when it is not a value."""
    match = _HEAD.fullmatch(text)
    if match is None or (match["s1"] and match["s2"]):
        return None
    number = _number(digits=match["num"], chinese=match["cn"])
    split = _split_tail(match["tail"], accept=accept)
    if number is None or split is None:
        return None
    factor, unit = split
    if match["pre"]:
        prefix = canonical_unit(unit=match["pre"])
        if unit is not None and unit != prefix:
            return None
        unit = prefix
    value = number * factor
    if (match["s1"] or match["s2"]) == "-":
        value = -value
    return value, unit


def _milestone_word(text: str) -> float | None:
    """1.0 for done/完成/yes…, 0.0 for not done/未完成/no…, None for anything else."""
    word = text.casefold().strip(_TRAILING_PUNCTUATION)
    if word in _DONE_WORDS:
        return 1.0
    if word in _NOT_DONE_WORDS:
        return 0.0
    return None


def read_value(*, text: str, unit: str | None, milestone: bool = False) -> float:
    """The number a user typed for a measure in `unit` (or a milestone's 1.0/0.0), in the measure's unit."""
    typed = text.strip()
    normal = _normalise(text)
    measure = canonical_unit(unit=unit)
    word = _milestone_word(normal)
    if milestone:
        if word is not None:
            return word
        if _parse(normal, accept=measure) is not None:
            raise KrbotError("value.milestone_expected", text=typed)
        raise KrbotError("value.unreadable", text=typed, example=None, milestone=True)
    example = _example(unit=measure)
    if word is not None:
        raise KrbotError("value.number_expected", text=typed, unit=measure, example=example)
    parsed = _parse(normal, accept=measure)
    if parsed is None:
        raise KrbotError("value.unreadable", text=typed, example=example, milestone=False)
    value, given = parsed
    if given is None or (measure is not None and _fold(given) == _fold(measure)):
        return float(value)
    given_family, measure_family = unit_family(unit=given), unit_family(unit=measure)
    if given_family == "currency" and measure_family == "currency":
        raise KrbotError("value.currency_mismatch", text=typed, given=given, expected=measure, example=example)
    if given_family == "duration" and measure_family == "duration":
        assert measure is not None
        return float(value * _DURATIONS[given][1] / _DURATIONS[measure][1])
    if given_family == "count" and measure_family in ("count", "none"):
        return float(value)
    raise KrbotError("value.unit_mismatch", text=typed, given=given, expected=measure, example=example)


def _exact(number: float) -> Decimal:
    """The decimal a float was written as (its shortest repr), or the int itself."""
    if isinstance(number, int):
        return Decimal(number)
    try:
        value = Decimal(repr(float(number)))
    except (InvalidOperation, ValueError) as error:  # pragma: no cover - float() of a float never fails
        raise ValueError(f"not a number: {number!r}") from error
    if not value.is_finite():
        raise ValueError(f"cannot show {number!r} as a value")
    return value


def _round_significant(value: Decimal, digits: int) -> Decimal:
    """The value rounded half away from zero to `digits` significant digits."""
    if digits < 1:
        raise ValueError(f"digits must be at least 1, not {digits}")
    if value == 0:
        return value
    return value.quantize(Decimal(1).scaleb(value.adjusted() - digits + 1), rounding=ROUND_HALF_UP)


def _plain(value: Decimal, *, lang: str) -> str:
    """A non-negative decimal in full digits, no trailing zeros; thousands commas (zh: from 10,000)."""
    value = value.normalize()
    if lang == "zh" and value < 10_000:
        return format(value, "f")
    return format(value, ",f")


def _significant(value: Decimal) -> int:
    """How many significant digits the value needs."""
    return len(value.normalize().as_tuple().digits)


def _compact(value: Decimal, *, lang: str, digits: int | None) -> str:
    """A non-negative decimal with k/M/B (en) or 万/亿 (zh) when that is exact and short, else full digits."""
    limit = 4 if lang == "zh" else 3
    if digits is not None:
        limit = max(limit, digits)
    for suffix, base, threshold in _ZH_STEPS if lang == "zh" else _EN_STEPS:
        if value >= threshold:
            quotient = value / base
            if _significant(quotient) <= limit:
                return _plain(quotient, lang=lang) + suffix
    return _plain(value, lang=lang)


def format_value(*, number: float, unit: str | None, lang: str, digits: int | None = None) -> str:
    """A value as krbot shows it in `lang` (exact unless `digits` significant digits are asked for)."""
    value = _exact(number)
    if digits is not None:
        value = _round_significant(value, digits)
    canonical = canonical_unit(unit=unit)
    family = unit_family(unit=canonical)
    sign = "-" if value < 0 else ""
    size = abs(value)
    zh = lang == "zh"
    if family == "percent":
        return f"{sign}{_plain(size, lang=lang)}%"
    if family == "duration":
        assert canonical is not None
        return f"{sign}{_plain(size, lang=lang)}{_DURATIONS[canonical][2] if zh else canonical}"
    if canonical is not None and not zh and family != "currency" and _has_cjk(canonical):
        body = _plain(size, lang=lang)
    else:
        body = _compact(size, lang=lang, digits=digits)
    if family == "currency":
        assert canonical is not None
        _, symbol, zh_name = _CURRENCIES[canonical]
        if zh:
            return f"{sign}{body}{zh_name}"
        return f"{sign}{symbol}{body}" if symbol else f"{sign}{canonical} {body}"
    if canonical is None:
        return f"{sign}{body}"
    joint = "" if zh and _has_cjk(canonical) else " "
    return f"{sign}{body}{joint}{canonical}"


def format_number(*, number: float, lang: str, digits: int | None = None) -> str:
    """A plain number as krbot shows it in `lang` (万/亿 in zh, k/M/B in en)."""
    return format_value(number=number, unit=None, lang=lang, digits=digits)


def format_percent(*, ratio: float) -> str:
    """A ratio as a whole percent, not capped, half away from zero: 0.354 -> 35%, 1.2 -> 120%."""
    percent = (_exact(ratio) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return f"{int(percent)}%"
