"""Data sources in the domain: which measures pull their value, who only owes words, and a pulled number as text."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from bot.core import model
from bot.core.numbers import MAX_DIGITS, NumberStyle


def sourced(*, target: model.KeyResult | model.Objective) -> list[model.Measure]:
    """The measures of a KR or objective that a data source fills."""
    return [m for m in target.measures if m.source is not None]


def targets_of(*, okrs: model.Okrs, person: str) -> list[model.KeyResult | model.Objective]:
    """What a person reports on: objectives they own with measures, KRs they own."""
    found: list[model.KeyResult | model.Objective] = []
    for objective in okrs.objectives:
        if objective.owner == person and objective.measures:
            found.append(objective)
        found.extend(kr for kr in objective.krs() if kr.owner == person)
    return found


def all_synced(*, okrs: model.Okrs, person: str) -> bool:
    """True when every measure a person reports on is pulled by a data source (they owe only words)."""
    measures = [m for target in targets_of(okrs=okrs, person=person) for m in target.measures]
    return bool(measures) and all(m.source is not None for m in measures)


def synced_only(*, okrs: model.Okrs) -> frozenset[str]:
    """The people whose numbers all arrive by themselves."""
    owners = {o.owner for o in okrs.objectives if o.measures} | {kr.owner for o in okrs.objectives for kr in o.krs()}
    return frozenset(key for key in owners if all_synced(okrs=okrs, person=key))


def reporters(*, okrs: model.Okrs, checkins: Iterable[model.Checkin]) -> set[str]:
    """Who reported in these check-ins: a typed one counts for anyone; a pulled one only for whom owes only words."""
    words_only = synced_only(okrs=okrs)
    return {c.person for c in checkins if not c.synced or c.person in words_only}


def number_text(*, number: Decimal | float | int, style: NumberStyle) -> str:
    """A pulled number written so the §6 reader reads it back exactly in `style`: at most 15 significant digits,
    no grouping, the locale's decimal sign, and a trailing zero where three decimals could read as a thousand."""
    value = Decimal(number) if isinstance(number, int) else Decimal(str(number))
    if value.is_finite() and value != 0:
        value = round(value, MAX_DIGITS - 1 - value.adjusted())  # fifteen significant digits, as a person could type
    text = format(value.normalize(), "f")
    whole, _, fraction = text.partition(".")
    if len(fraction) == 3 and whole.lstrip("-") not in ("0", ""):
        fraction += "0"  # 2.125 would read as two thousand one hundred twenty-five in half the locales
    return whole + (style.decimal + fraction if fraction else "")


# A failed pull's kind: what everyone who is not the KR's owner or an admin reads (the digest, /api/v1/okrs, export).
FAILURE_KINDS: dict[str, str] = {
    "source.timeout": "too_slow",
    "source.too_big": "too_large",
    "source.not_number": "not_number", "source.text": "not_number", "source.empty_text": "not_number",
    "source.not_json": "not_number", "source.encoding": "not_number",
    "source.null": "no_value", "source.path_missing": "no_value", "source.no_rows_returned": "no_value",
    "source.rows": "several", "source.columns": "several", "source.path_many": "several",
    "source.read_only": "refused", "source.statement_refused": "refused", "source.address_refused": "refused",
    "source.scheme": "refused",
    "source.redirected": "redirected",
    "source.connect": "unreachable", "source.http_status": "http_status",
    "source.query": "query",
    "source.implausible": "implausible",
    "source.env_missing": "setup", "source.env_own": "setup", "source.env_not_allowed": "setup",
    "source.bad_url": "setup", "source.sqlite_file": "setup", "source.headers": "setup", "source.backend": "setup",
    "source.json_path_bad": "setup", "source.no_owner": "setup",
}
OUTSIDE_WORDS = ("detail", "start", "text")  # the params that quote what the outside system said


def failure_kind(*, key: str) -> str:
    """The kind of a pull's refusal by its catalog key ("failed" for one this table does not know)."""
    return FAILURE_KINDS.get(key, "failed")
