"""The SMART lint: each objective and KR checked letter by letter, findings as data for the templates."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from bot.core import model

CRITICAL_BUFFER_DAYS = 14
_NUMBER = re.compile(r"\d")


@dataclass(frozen=True, slots=True)
class Finding:
    """One lint finding: its SMART letter, the code it is about, fail or warn, and a catalog key."""

    letter: str
    code: str
    severity: str  # "fail" | "warn"
    key: str
    params: dict[str, Any] = field(default_factory=dict)


def _specific(title: str) -> bool:
    """A title is specific when it carries a number or is more than a slogan (a few words)."""
    if _NUMBER.search(title):
        return True
    words = title.split()
    return len(words) >= 4 if len(words) > 1 else len(title) >= 8


def budget_needed(*, achievable: model.Achievable, target: float) -> float | None:
    """target ÷ order value × cost per new customer: the budget the target needs."""
    if not achievable.order_value or achievable.cost_per_new_customer is None:
        return None
    return math.ceil(target / achievable.order_value) * achievable.cost_per_new_customer


def _lint_measures(code: str, measures: tuple[model.Measure, ...], cycle: model.Cycle, out: list[Finding]) -> None:
    numeric = [m for m in measures if m.kind is not model.MeasureKind.MILESTONE]
    if measures and not any(m.kind is model.MeasureKind.TARGET and m.unit for m in numeric) and not any(
        m.kind is model.MeasureKind.MILESTONE for m in measures
    ):
        out.append(Finding(letter="M", code=code, severity="fail", key="lint.m.no_target"))
    for m in measures:
        if m.due and m.due > cycle.end:
            out.append(
                Finding(letter="T", code=code, severity="fail", key="lint.t.measure_late",
                        params={"measure": m.name, "due": m.due.isoformat(), "end": cycle.end.isoformat()})
            )


def lint_okrs(*, okrs: model.Okrs) -> list[Finding]:
    """Every finding for every objective and KR, in file order."""
    out: list[Finding] = []
    cycle = okrs.cycle
    for objective in okrs.objectives:
        code = objective.code
        if not _specific(objective.title):
            out.append(Finding(letter="S", code=code, severity="warn", key="lint.s.vague", params={"title": objective.title}))
        if not objective.measures:
            out.append(Finding(letter="M", code=code, severity="fail", key="lint.m.no_measure"))
        _lint_measures(code, objective.measures, cycle, out)
        headline = objective.headline
        a = objective.achievable
        if a is not None and headline is not None and headline.target is not None:
            needed = budget_needed(achievable=a, target=headline.target - (headline.baseline or 0))
            if needed is not None and a.budget is not None and needed > a.budget + 1e-9:
                out.append(
                    Finding(letter="A", code=code, severity="fail", key="lint.a.short",
                            params={"needed": needed, "budget": a.budget, "short": needed - a.budget, "unit": a.unit})
                )
            elif needed is not None and a.budget is None:
                out.append(Finding(letter="A", code=code, severity="warn", key="lint.a.no_budget",
                                   params={"needed": needed, "unit": a.unit}))
        elif a is None:
            out.append(Finding(letter="A", code=code, severity="warn", key="lint.a.unchecked"))
        if not (objective.strategy or "").strip():
            out.append(Finding(letter="R", code=code, severity="fail", key="lint.r.no_strategy"))
        if objective.deadline is None:
            out.append(Finding(letter="T", code=code, severity="fail", key="lint.t.no_deadline"))
        elif objective.deadline > cycle.end:
            out.append(
                Finding(letter="T", code=code, severity="fail", key="lint.t.deadline_late",
                        params={"due": objective.deadline.isoformat(), "end": cycle.end.isoformat()})
            )
        for kr in objective.krs():
            if not _specific(kr.title):
                out.append(Finding(letter="S", code=kr.code, severity="warn", key="lint.s.vague", params={"title": kr.title}))
            _lint_measures(kr.code, kr.measures, cycle, out)
            for task in kr.tasks:
                if task.critical and task.buffer_days < CRITICAL_BUFFER_DAYS:
                    out.append(
                        Finding(letter="T", code=kr.code, severity="warn", key="lint.t.short_buffer",
                                params={"task": task.title, "days": task.buffer_days, "needed": CRITICAL_BUFFER_DAYS})
                    )
    return out
