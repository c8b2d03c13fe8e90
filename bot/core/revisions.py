"""Which goal changes an OKR file would undo: those made after its revision whose field the file holds otherwise."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core import model

_ABSENT = object()  # the file (or the database) has no such goal any more


def goal_value(*, okrs: model.Okrs, code: str, measure: str | None, field: str) -> object:
    """The value a logged goal change's field holds in a tree (title, deadline, baseline, target, limit or due)."""
    target = okrs.owner_of(code=code)
    if target is None:
        return _ABSENT
    if measure is None:
        if field == "title":
            return target.title
        if field in ("deadline", "due") and isinstance(target, model.Objective):
            return target.deadline
        return _ABSENT
    found = next((m for m in target.measures if m.name == measure), None)
    if found is None:
        return _ABSENT
    column = "limit" if field in ("at_most", "at_least", "limit") else field
    return getattr(found, column, _ABSENT)


def undone_changes(
    *, changes: Sequence[model.GoalChange], current: model.Okrs, incoming: model.Okrs
) -> list[model.GoalChange]:
    """Of the changes made after a file's revision, those its import would undo: the file holds another value than
    the tree now, and not the one the change wrote (an earlier import of this very file is not undone by it)."""
    undone = []
    for change in changes:
        wanted = goal_value(okrs=incoming, code=change.code, measure=change.measure, field=change.field)
        now = goal_value(okrs=current, code=change.code, measure=change.measure, field=change.field)
        if wanted != now and written(wanted) != change.new:
            undone.append(change)
    return undone


def written(value: object) -> str | None:
    """A goal's value as a logged change writes it (`2`, `2.2`, `2026-12-31`)."""
    if value is None or value is _ABSENT:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
