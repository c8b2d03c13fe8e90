"""Who may do what to a KR or objective, and which of its measures a typed name means."""

from __future__ import annotations

import difflib
from datetime import date, timedelta

from bot.core import model
from bot.core.errors import KrbotError
from bot.core.units import fold


def may_update(*, target: model.KeyResult | model.Objective, person: model.Person) -> bool:
    """True when the person owns the target or is a delegate its owner named."""
    if isinstance(target, model.KeyResult):
        return person.key == target.owner or person.key in target.delegates
    return person.key == target.owner


def may_change(*, target: model.KeyResult | model.Objective, person: model.Person) -> bool:
    """True when the person may change the target's goal: an admin, or the KR's accountable person."""
    if person.role is model.Role.ADMIN:
        return True
    return isinstance(target, model.KeyResult) and person.key == target.accountable


def find_measure(*, target: model.KeyResult | model.Objective, name: str | None) -> model.Measure:
    """The measure a name means on a target (its first measure when no name is given)."""
    if not target.measures:
        raise KrbotError("measure.none", code=target.code)
    if name is None:
        return target.measures[0]
    wanted = fold(name)
    exact = [m for m in target.measures if fold(m.name) == wanted]
    if exact:
        return exact[0]
    partial = [m for m in target.measures if fold(m.name).startswith(wanted)]
    if len(partial) == 1:
        return partial[0]
    known = ", ".join(m.name for m in target.measures)
    near = difflib.get_close_matches(wanted, [fold(m.name) for m in target.measures], n=1, cutoff=0.6)
    meant = next((m.name for m in target.measures if near and fold(m.name) == near[0]), "")
    raise KrbotError("measure.unknown", word=name, code=target.code, known=known, suggestion=meant)


LATE_GRACE_DAYS = 14


def check_checkin_day(*, day: date, cycle: model.Cycle, today: date | None = None) -> None:
    """Refuse a check-in dated before the cycle, after its end and grace for late numbers, or after `today`."""
    if day < cycle.start:
        raise KrbotError("checkin.before_cycle", day=day.isoformat(), start=cycle.start.isoformat(), cycle=cycle.name)
    last = cycle.end + timedelta(days=LATE_GRACE_DAYS)
    if day > last:
        raise KrbotError(
            "checkin.after_cycle", day=day.isoformat(), end=cycle.end.isoformat(), last=last.isoformat(), cycle=cycle.name
        )
    if today is not None and day > today:
        raise KrbotError("checkin.future", day=day.isoformat(), today=today.isoformat())


def may_decide(*, person: model.Person) -> bool:
    """True when the person may approve or decline asks, and share the report outside: the boss or an admin."""
    return person.role in (model.Role.BOSS, model.Role.ADMIN)
