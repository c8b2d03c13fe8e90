"""The goal-setting method as arithmetic: path ranking, the control × impact matrix, backward plans, required pace."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta

from bot.core.model import KeyResult, Level, Objective, Okrs, Person, StrategicPath, Task

CRITICAL_BUFFER_DAYS = 14
_HIGH_IS_GOOD = {Level.HIGH.value: 3, Level.MEDIUM.value: 2, Level.LOW.value: 1}
_LOW_IS_GOOD = {Level.LOW.value: 3, Level.MEDIUM.value: 2, Level.HIGH.value: 1}
SCORE_RULES = {"roi": _HIGH_IS_GOOD, "resources": _LOW_IS_GOOD, "difficulty": _LOW_IS_GOOD}


@dataclass(frozen=True, slots=True)
class RankedPath:
    """A path in its rank: 1 first, with why (the priority set in the file, or the score from ROI, resources, risk)."""

    rank: int
    path: StrategicPath
    by_priority: bool
    score: int | None


def path_score(*, path: StrategicPath) -> int | None:
    """ROI high 3 … low 1, plus resources and difficulty low 3 … high 1; None without scores."""
    if not path.scores:
        return None
    return sum(SCORE_RULES[name].get(level, 0) for name, level in path.scores.items() if name in SCORE_RULES)


def rank_paths(*, objective: Objective) -> list[RankedPath]:
    """Paths with a priority first (ascending), then the rest by score (highest first), ties in file order."""
    with_priority = sorted((p for p in objective.paths if p.priority is not None), key=lambda p: p.priority or 0)
    scored = sorted(
        (p for p in objective.paths if p.priority is None),
        key=lambda p: -(path_score(path=p) or 0),
    )
    ranked = [RankedPath(rank=0, path=p, by_priority=True, score=path_score(path=p)) for p in with_priority]
    ranked += [RankedPath(rank=0, path=p, by_priority=False, score=path_score(path=p)) for p in scored]
    return [RankedPath(rank=i, path=r.path, by_priority=r.by_priority, score=r.score) for i, r in enumerate(ranked, 1)]


def impact_first(*, krs: Sequence[KeyResult]) -> list[KeyResult]:
    """KRs with high impact first, then medium, then low or unset; file order within each."""
    order = {Level.HIGH: 0, Level.MEDIUM: 1, Level.LOW: 2}
    return sorted(krs, key=lambda kr: order.get(kr.impact, 3) if kr.impact else 3)


def quadrant(*, kr: KeyResult) -> str:
    """The matrix cell: 'hh' (control high, impact high: do first), 'lh', 'hl' or 'll'; medium counts as low."""
    control = "h" if kr.control is Level.HIGH else "l"
    impact = "h" if kr.impact is Level.HIGH else "l"
    return control + impact


@dataclass(frozen=True, slots=True)
class PlannedTask:
    """A task laid out backwards: when it is due, when it must finish and start at the latest, the slack left."""

    task: Task
    latest_finish: date
    latest_start: date
    slack_days: int  # latest finish − planned due: negative means the plan is already late
    buffer_after: int  # days between this task's due and what depends on it (the next task or the KR's due)
    short_buffer: bool  # a critical task with less than CRITICAL_BUFFER_DAYS before what depends on it


def duration(*, task: Task, previous: Task | None) -> int:
    """A task's working days: as given, else the span since the previous task's due date (the file's own plan)."""
    if task.duration_days > 0:
        return task.duration_days
    return max((task.due - previous.due).days, 0) if previous is not None else 0


def backward_plan(*, tasks: Sequence[Task], due: date) -> list[PlannedTask]:
    """Tasks in order of their due dates, planned backwards from `due` with their buffers and durations."""
    ordered = sorted(tasks, key=lambda t: t.due)
    planned: list[PlannedTask] = []
    next_start = due
    next_due = due
    for index in range(len(ordered) - 1, -1, -1):
        task = ordered[index]
        latest_finish = next_start - timedelta(days=task.buffer_days)
        latest_start = latest_finish - timedelta(days=duration(task=task, previous=ordered[index - 1] if index else None))
        buffer_after = (next_due - task.due).days
        planned.append(
            PlannedTask(
                task=task,
                latest_finish=latest_finish,
                latest_start=latest_start,
                slack_days=(latest_finish - task.due).days,
                buffer_after=buffer_after,
                short_buffer=task.critical and min(buffer_after, task.buffer_days) < CRITICAL_BUFFER_DAYS,
            )
        )
        next_start = latest_start
        next_due = task.due
    return list(reversed(planned))


def weekly_pace(*, value: float, target: float, days_left: float) -> float | None:
    """How much the measure must move per week from `value` to reach `target` in `days_left` (None when no time)."""
    if days_left <= 0:
        return None
    return (target - value) / (days_left / 7.0)


def in_department(*, kr: KeyResult, department: str, people: Mapping[str, Person]) -> bool:
    """A KR belongs to a department's view when its owner works there or it names a contributor from there."""
    owner = people.get(kr.owner)
    return (owner is not None and owner.department == department) or department in kr.contributors


def department_view(*, okrs: Okrs, department: str) -> Okrs:
    """The OKR tree as one department sees it: its own KRs and the shared ones it contributes to."""
    objectives = []
    for objective in okrs.objectives:
        paths = tuple(
            replace(path, krs=tuple(kr for kr in path.krs if in_department(kr=kr, department=department, people=okrs.people)))
            for path in objective.paths
        )
        owner = okrs.people.get(objective.owner)
        if any(path.krs for path in paths) or (owner is not None and owner.department == department):
            objectives.append(replace(objective, paths=tuple(path for path in paths if path.krs)))
    return replace(okrs, objectives=tuple(objectives))


def departments(*, okrs: Okrs) -> list[str]:
    """Every department named by a person or a shared KR, in first-seen order."""
    names = [p.department for p in okrs.people.values() if p.department]
    names += [name for objective in okrs.objectives for kr in objective.krs() for name in kr.contributors]
    return list(dict.fromkeys(names))
