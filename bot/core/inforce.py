"""Goals as they stood at a moment: each dated change after it is undone, so a past digest reads as it read then."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime

from bot.core.model import GoalChange, KeyResult, Measure, Objective, Okrs, StrategicPath

_NUMBER_FIELDS = {"baseline": "baseline", "target": "target", "limit": "limit", "at_most": "limit", "at_least": "limit"}


def _number(text: str | None) -> float | None:
    """A logged number (None stays None)."""
    return None if text is None or text == "" else float(text)


def _day(text: str | None) -> date | None:
    """A logged date (None stays None)."""
    return None if text is None or text == "" else date.fromisoformat(text[:10])


def _later(changes: Sequence[GoalChange], at: datetime) -> list[GoalChange]:
    """The changes made after `at`, newest first (so undoing them in turn leaves the values in force at `at`)."""
    ordered = sorted(enumerate(changes), key=lambda item: (item[1].at, item[0]), reverse=True)
    return [change for _, change in ordered if change.at > at]


def measure_in_force(*, measure: Measure, code: str, changes: Sequence[GoalChange], at: datetime) -> Measure:
    """The measure of KR/objective `code` with the baseline, target, limit and due in force at `at`."""
    values: dict[str, object] = {}
    for change in _later(changes, at):
        if change.code != code or change.measure != measure.name:
            continue
        if change.field in _NUMBER_FIELDS:
            values[_NUMBER_FIELDS[change.field]] = _number(change.old)
        elif change.field == "due":
            values["due"] = _day(change.old)
    return replace(measure, **values) if values else measure  # type: ignore[arg-type]


def deadline_in_force(*, objective: Objective, changes: Sequence[GoalChange], at: datetime) -> date | None:
    """The objective's deadline in force at `at`."""
    deadline = objective.deadline
    for change in _later(changes, at):
        if change.code == objective.code and change.measure is None and change.field == "deadline":
            deadline = _day(change.old)
    return deadline


def okrs_in_force(*, okrs: Okrs, changes: Sequence[GoalChange], at: datetime) -> Okrs:
    """The whole tree with every goal as it stood at `at` (unchanged when nothing changed since)."""
    if not _later(changes, at):
        return okrs

    def measures(code: str, items: tuple[Measure, ...]) -> tuple[Measure, ...]:
        return tuple(measure_in_force(measure=m, code=code, changes=changes, at=at) for m in items)

    def kr(item: KeyResult) -> KeyResult:
        return replace(item, measures=measures(item.code, item.measures))

    def path(item: StrategicPath) -> StrategicPath:
        return replace(item, krs=tuple(kr(k) for k in item.krs))

    objectives = tuple(
        replace(
            objective,
            measures=measures(objective.code, objective.measures),
            paths=tuple(path(p) for p in objective.paths),
            deadline=deadline_in_force(objective=objective, changes=changes, at=at),
        )
        for objective in okrs.objectives
    )
    return replace(okrs, objectives=objectives)
