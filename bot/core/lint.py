"""The SMART lint over an OKR file as read (even one import would refuse): findings as data, by letter and code."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from bot.core.bounds import bounds_problem
from bot.core.errors import KrbotError
from bot.core.method import CRITICAL_BUFFER_DAYS, backward_plan
from bot.core.model import Task
from bot.core.values import canonical_unit, read_value

_NUMBER = re.compile(r"\d")


@dataclass(frozen=True, slots=True)
class Finding:
    """One lint finding: its SMART letter, the code it is about, fail or warn, and a catalog key with its words."""

    letter: str
    code: str
    severity: str  # "fail" | "warn"
    key: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def fails(self) -> bool:
        """True for a failure (the lint exits 1)."""
        return self.severity == "fail"


def _day(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)) if value is not None else None
    except ValueError:
        return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    return None


def _amount(value: Any) -> tuple[float | None, str | None]:
    """`25000 EUR`, `€25k`, 25000 → (number, currency or None); (None, None) when unreadable."""
    if value is None:
        return None, None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value), None
    text = str(value)
    for unit in ("EUR", "USD", "CNY", "GBP"):
        try:
            return read_value(text=text, unit=unit), unit
        except KrbotError:
            continue
    try:
        return read_value(text=text, unit=None), None
    except KrbotError:
        return None, None


def _items(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def is_specific(*, title: str, terms: Iterable[str]) -> bool:
    """A title is specific when it carries a number or names a market, channel or product."""
    if _NUMBER.search(title):
        return True
    folded = f" {title.casefold()} "
    return any(term.casefold() in folded for term in terms)


def _measure_findings(code: str, measures: list[Mapping[str, Any]], cycle_end: date | None, out: list[Finding]) -> None:
    """M: at least one measure with a numeric target and a unit, each measure well formed; T: dues in the cycle."""
    has_target = False
    for measure in measures:
        name = str(measure.get("name") or "?")
        baseline, target = _number(measure.get("baseline")), _number(measure.get("target"))
        kinds = [
            k
            for k, present in (
                ("target", "baseline" in measure or "target" in measure),
                ("at_most", "at_most" in measure),
                ("at_least", "at_least" in measure),
                ("milestone", bool(measure.get("milestone"))),
            )
            if present
        ]
        if len(kinds) != 1:
            out.append(Finding(letter="M", code=code, severity="fail", key="lint.m.kind", params={"measure": name}))
        elif kinds == ["target"] and (baseline is None or target is None):
            missing = "target" if target is None else "baseline"
            out.append(
                Finding(letter="M", code=code, severity="fail", key="lint.m.missing", params={"measure": name, "missing": missing})
            )
        elif kinds == ["target"] and measure.get("unit"):
            has_target = True
        elif kinds == ["target"]:
            out.append(Finding(letter="M", code=code, severity="fail", key="lint.m.no_unit", params={"measure": name}))
        problem = bounds_problem(
            unit=canonical_unit(unit=str(measure["unit"])) if measure.get("unit") else None,
            minimum=_number(measure.get("min")), maximum=_number(measure.get("max")),
            milestone=bool(measure.get("milestone")),
            numbers={field: _number(measure.get(field)) for field in ("baseline", "target", "at_most", "at_least")},
        )
        if problem is not None:
            unit = canonical_unit(unit=str(measure["unit"])) if measure.get("unit") else None
            out.append(Finding(letter="M", code=code, severity="fail", key="lint.m.bounds",
                               params={"problem": problem[0], "name": name, "unit": unit, **problem[1]}))
        due = _day(measure.get("due"))
        if due and cycle_end and due > cycle_end:
            out.append(
                Finding(letter="T", code=code, severity="fail", key="lint.t.measure_late",
                        params={"measure": name, "due": due.isoformat(), "end": cycle_end.isoformat()})
            )
    if not measures:
        out.append(Finding(letter="M", code=code, severity="fail", key="lint.m.no_measure"))
    elif not has_target:
        out.append(Finding(letter="M", code=code, severity="fail", key="lint.m.no_target"))


def budget_needed(*, target: float, order_value: float, cost_per_new_customer: float) -> float:
    """target ÷ order value × cost per new customer: the budget a new-customer target needs."""
    return target / order_value * cost_per_new_customer


def _budget_findings(code: str, objective: Mapping[str, Any], out: list[Finding]) -> None:
    """A: the budget check against the headline's target."""
    achievable = objective.get("achievable")
    measures = _items(objective.get("measures"))
    headline = measures[0] if measures else None
    if not isinstance(achievable, Mapping):
        out.append(Finding(letter="A", code=code, severity="warn", key="lint.a.unchecked"))
        return
    budget, unit = _amount(achievable.get("budget"))
    cost, cost_unit = _amount(achievable.get("cost_per_new_customer"))
    order, order_unit = _amount(achievable.get("order_value"))
    unit = unit or cost_unit or order_unit or (canonical_unit(unit=headline.get("unit")) if headline else None)
    target = _number(headline.get("target")) if headline else None
    baseline = _number(headline.get("baseline")) if headline else None
    if target is None or not order or cost is None:
        out.append(Finding(letter="A", code=code, severity="warn", key="lint.a.incomplete"))
        return
    needed = budget_needed(target=target - (baseline or 0.0), order_value=order, cost_per_new_customer=cost)
    params = {"target": target - (baseline or 0.0), "order": order, "cost": cost, "needed": needed, "unit": unit}
    if budget is None:
        out.append(Finding(letter="A", code=code, severity="warn", key="lint.a.no_budget", params=params))
    elif needed > budget + 1e-9:
        out.append(
            Finding(letter="A", code=code, severity="fail", key="lint.a.short",
                    params={**params, "budget": budget, "short": needed - budget})
        )


def _task(raw: Mapping[str, Any]) -> Task | None:
    due = _day(raw.get("due"))
    if due is None:
        return None
    return Task(
        title=str(raw.get("title") or "?"),
        owner=str(raw.get("owner") or ""),
        due=due,
        buffer_days=int(raw.get("buffer_days") or 0),
        critical=bool(raw.get("critical")),
        duration_days=int(raw.get("duration_days") or 0),
    )


def _task_findings(code: str, kr: Mapping[str, Any], deadline: date | None, out: list[Finding]) -> None:
    """T: a critical task needs CRITICAL_BUFFER_DAYS before what depends on it (the next task, or the KR's due)."""
    tasks = [t for t in (_task(raw) for raw in _items(kr.get("tasks"))) if t is not None]
    dues = [d for d in (_day(m.get("due")) for m in _items(kr.get("measures"))) if d] or ([deadline] if deadline else [])
    if not tasks or not dues:
        return
    for planned in backward_plan(tasks=tasks, due=max(dues)):
        if planned.short_buffer:
            out.append(
                Finding(letter="T", code=code, severity="warn", key="lint.t.short_buffer",
                        params={"task": planned.task.title, "days": min(planned.buffer_after, planned.task.buffer_days),
                                "needed": CRITICAL_BUFFER_DAYS})
            )


def lint_document(*, data: Any, terms: Iterable[str]) -> list[Finding]:
    """Every SMART finding of an OKR file's parsed YAML, objective by objective, KR by KR, in file order."""
    terms = tuple(terms)
    out: list[Finding] = []
    if not isinstance(data, Mapping):
        return [Finding(letter="M", code="", severity="fail", key="lint.m.no_objectives")]
    cycle = data.get("cycle") if isinstance(data.get("cycle"), Mapping) else {}
    cycle_end = _day(cycle.get("end"))
    objectives = _items(data.get("objectives"))
    if not objectives:
        out.append(Finding(letter="M", code="", severity="fail", key="lint.m.no_objectives"))
    for objective in objectives:
        code = str(objective.get("code") or "?")
        title = str(objective.get("title") or "")
        if not is_specific(title=title, terms=terms):
            out.append(Finding(letter="S", code=code, severity="warn", key="lint.s.vague", params={"title": title}))
        _measure_findings(code, _items(objective.get("measures")), cycle_end, out)
        _budget_findings(code, objective, out)
        if not str(objective.get("strategy") or "").strip():
            out.append(Finding(letter="R", code=code, severity="fail", key="lint.r.no_strategy"))
        deadline = _day(objective.get("deadline"))
        if deadline is None:
            out.append(Finding(letter="T", code=code, severity="fail", key="lint.t.no_deadline"))
        elif cycle_end and deadline > cycle_end:
            out.append(
                Finding(letter="T", code=code, severity="fail", key="lint.t.deadline_late",
                        params={"due": deadline.isoformat(), "end": cycle_end.isoformat()})
            )
        for path in _items(objective.get("paths")):
            for kr in _items(path.get("krs")):
                kr_code = str(kr.get("code") or "?")
                kr_title = str(kr.get("title") or "")
                if not is_specific(title=kr_title, terms=terms):
                    out.append(
                        Finding(letter="S", code=kr_code, severity="warn", key="lint.s.vague", params={"title": kr_title})
                    )
                _measure_findings(kr_code, _items(kr.get("measures")), cycle_end, out)
                _task_findings(kr_code, kr, deadline or cycle_end, out)
    return out
