"""The unit words krbot knows (currencies, percent, durations, counts) and their standard spellings."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# code -> (words that mean it, lower-case; en symbol or None; zh name)
CURRENCIES: dict[str, tuple[tuple[str, ...], str | None, str]] = {
    "EUR": (("€", "eur", "euro", "euros", "欧", "欧元"), "€", "欧"),
    "USD": (("$", "us$", "$us", "usd", "dollar", "dollars", "美元", "美金"), "$", "美元"),
    "CNY": (("¥", "cn¥", "元", "人民币", "rmb", "cny", "块", "块钱"), None, "元"),
    "GBP": (("£", "£gb", "gbp", "英镑"), "£", "英镑"),
    "JPY": (("jpy", "jp¥", "yen", "日元", "円"), None, "日元"),
    "HKD": (("hkd", "hk$", "港币", "港元"), None, "港元"),
    "CHF": (("chf", "fr.", "瑞士法郎"), None, "瑞士法郎"),
    "SGD": (("sgd", "s$", "$sg", "新加坡元"), None, "新加坡元"),
    "AUD": (("aud", "a$", "au$", "$au", "澳元"), None, "澳元"),
    "CAD": (("cad", "c$", "ca$", "$ca", "加元"), None, "加元"),
    "KRW": (("krw", "₩", "韩元"), None, "韩元"),
}
# canonical -> (words, minutes in one, zh name)
DURATIONS: dict[str, tuple[tuple[str, ...], int, str]] = {
    "h": (("h", "hr", "hrs", "hour", "hours", "std", "stunden", "heure", "heures", "小时", "个小时", "钟头",
           "个钟头"), 60, "小时"),
    "d": (("d", "day", "days", "tag", "tage", "j", "jour", "jours", "天", "日"), 1440, "天"),
    "w": (("w", "wk", "wks", "week", "weeks", "woche", "wochen", "semaine", "semaines", "周", "星期", "个星期"),
          10080, "周"),
    "min": (("min", "mins", "minute", "minutes", "minuten", "m", "分钟"), 1, "分钟"),
}
PERCENT_WORDS = ("%", "percent", "per cent", "pct", "prozent", "pour cent")

COUNT_WORDS = frozenset(
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
        "bestellungen", "kunden", "commandes",
    }
)
# a Chinese unit starting with one of these counts things: 个客户, 家店铺, 名新客 ...
_COUNT_CLASSIFIERS = "单件个人次位名笔家款条篇场台套份张户"


def has_cjk(text: str) -> bool:
    """True when the text holds a Chinese character."""
    return any("\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" for ch in text)


def normalise(text: str) -> str:
    """Full-width forms folded (NFKC), minus signs and apostrophes unified, blanks collapsed, outer blanks stripped."""
    folded = unicodedata.normalize("NFKC", text)
    for odd, plain in (("\u2212", "-"), ("\u2013", "-"), ("\ufe0f", ""), ("\u2019", "'"), ("\u02bc", "'")):
        folded = folded.replace(odd, plain)
    return " ".join(folded.split())


@lru_cache(maxsize=4096)  # measure names and codes are folded on every check-in, a spreadsheet's on every row
def fold(word: str) -> str:
    """A word in the form used to compare two spellings: NFKC, case-folded, without spaces, hyphens or underscores."""
    return re.sub(r"[\s\-_]+", "", normalise(word).casefold())


@lru_cache(maxsize=1024)
def _fold_unit(unit: str) -> str:
    """A unit in the form used to compare two spellings."""
    return normalise(unit).casefold()


PREFIX_WORDS = tuple(
    word
    for words, _, _ in CURRENCIES.values()
    for word in words
    if not has_cjk(word) and word not in {"euro", "euros", "dollar", "dollars", "yen", "fr."}
)
CURRENCY_PREFIX = "|".join(re.escape(word) for word in sorted(PREFIX_WORDS, key=len, reverse=True))

UNIT_WORDS: dict[str, str] = {
    **{code.lower(): code for code in CURRENCIES},
    **{word: code for code, (words, _, _) in CURRENCIES.items() for word in words},
    **{word: code for code, (words, _, _) in DURATIONS.items() for word in words},
    **{word: "%" for word in PERCENT_WORDS},
}  # lower-case word -> canonical unit, for currencies, percent and durations


@lru_cache(maxsize=1024)
def canonical_unit(*, unit: str | None) -> str | None:
    """The unit's standard spelling: EUR/USD/CNY/GBP…, %, h/d/w/min; count and unknown words stripped as given."""
    if unit is None or not unit.strip():
        return None
    known = UNIT_WORDS.get(_fold_unit(unit))
    return known if known is not None else unit.strip()


def _is_count(unit: str) -> bool:
    """True for words that count things (单, 件, orders, 个客户 …)."""
    folded = _fold_unit(unit)
    if folded in COUNT_WORDS:
        return True
    return has_cjk(folded) and len(folded) <= 5 and folded[0] in _COUNT_CLASSIFIERS


def unit_family(*, unit: str | None) -> str:
    """The kind of unit: "currency", "percent", "duration", "count", "none" (no unit) or "other"."""
    canonical = canonical_unit(unit=unit)
    if canonical is None:
        return "none"
    if canonical in CURRENCIES:
        return "currency"
    if canonical == "%":
        return "percent"
    if canonical in DURATIONS:
        return "duration"
    if _is_count(canonical):
        return "count"
    return "other"


def same_unit(first: str | None, second: str | None) -> bool:
    """True when two unit spellings name the same unit."""
    if first is None or second is None:
        return first is second
    return _fold_unit(first) == _fold_unit(second)
