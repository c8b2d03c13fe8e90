"""Who may do what to a KR or objective, and which of its measures a typed name means."""

from __future__ import annotations

from bot.core import model
from bot.core.errors import KrbotError


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
    wanted = name.strip().casefold()
    exact = [m for m in target.measures if m.name.casefold() == wanted]
    if exact:
        return exact[0]
    partial = [m for m in target.measures if m.name.casefold().startswith(wanted)]
    if len(partial) == 1:
        return partial[0]
    raise KrbotError(
        "measure.unknown", word=name, code=target.code, known=", ".join(m.name for m in target.measures)
    )
