"""Everything out: the OKR tree with values, check-ins, asks and changes as data, and as a CSV Excel opens."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from bot.core import model
from bot.core.cells import escaped_row
from bot.core.numbers import NumberStyle
from bot.core.progress import measure_progress, okr_progress
from bot.core.values import plausible_range
from bot.locales import number_style
from bot.services.context import load_scope
from bot.services.sync import sources_of
from storage import repository
from storage.db import UnitOfWork
from storage.repository import pulls


def export_all(*, uow: UnitOfWork, at: datetime, workspace: str | None = None) -> dict[str, Any]:
    """Everything stored for the current cycle: check-ins, asks, goal changes, the OKR tree with values."""
    return _exported(uow=uow, at=at, workspace=workspace)[0]


def _exported(*, uow: UnitOfWork, at: datetime, workspace: str | None) -> tuple[dict[str, Any], model.Okrs]:
    """export_all's data, and the OKR tree it was read against (for the CSV's locales and plausible ranges)."""
    with uow.snapshot() as session:  # check-ins, their values, asks and changes as of one moment
        scope = load_scope(session=session, workspace=workspace, at=at)
        checkins = repository.load_checkins(session=session, cycle_id=scope.cycle.id)
        asks = repository.load_asks(session=session, workspace_id=scope.workspace.id, cycle_id=scope.cycle.id)
        changes = repository.load_changes(session=session, workspace_id=scope.workspace.id)
        sources = sources_of(scope=scope, rows=pulls.pull_rows(session=session, workspace_id=scope.workspace.id))
    okrs = scope.okrs
    kinds: dict[tuple[str, str], model.MeasureKind] = {}
    for objective in okrs.objectives:
        for m in objective.measures:
            kinds[(objective.code, m.name)] = m.kind
        for kr in objective.krs():
            for m in kr.measures:
                kinds[(kr.code, m.name)] = m.kind
    checkin_items = []
    zone = ZoneInfo(scope.workspace.timezone)

    def origin(checkin: model.Checkin) -> str:
        return "synced" if checkin.synced else "typed"  # a data source pulled it, or a person typed it (§9)

    def when(moment: datetime) -> str:
        return moment.astimezone(zone).isoformat()  # on the workspace's clock, its offset written (§4)

    def period(moment: datetime) -> str:
        year, week, _ = moment.astimezone(zone).isocalendar()
        return f"{year}-W{week:02d}"

    for c in checkins:
        for name, value in c.values.items():
            shown: Any = bool(value) if kinds.get((c.code, name)) is model.MeasureKind.MILESTONE else value
            checkin_items.append(
                {
                    "code": c.code,
                    "measure": name,
                    "value": shown,
                    "person": c.person,
                    "at": when(c.at),
                    "note": c.note,
                    "next": c.next_step,
                    "risk": c.risk,
                    "confidence": c.confidence,
                    "origin": origin(c),
                    "period": period(c.at),
                }
            )
        if not c.values:
            checkin_items.append(
                {
                    "code": c.code,
                    "measure": None,
                    "value": None,
                    "person": c.person,
                    "at": when(c.at),
                    "note": c.note,
                    "next": c.next_step,
                    "risk": c.risk,
                    "confidence": c.confidence,
                    "origin": origin(c),
                    "period": period(c.at),
                }
            )
    progresses = okr_progress(okrs=okrs, checkins=checkins, as_of=scope.local(at))
    data = {
        "workspace": {
            "name": okrs.workspace.name,
            "language": okrs.workspace.language,
            "timezone": okrs.workspace.timezone,
            "locale": okrs.workspace.number_locale,
            "boss_channel": okrs.workspace.boss_channel,
            "reminder": okrs.workspace.reminder,
            "digest": okrs.workspace.digest,
        },
        "people": [
            {
                "id": p.key,
                "name": p.name,
                "role": p.role.value,
                "slack": p.slack_id,
                "feishu": p.feishu_id,
                "timezone": p.timezone,
                "locale": p.locale,
            }
            for p in okrs.people.values()
        ],
        "cycle": {
            "name": okrs.cycle.name,
            "start": okrs.cycle.start.isoformat(),
            "end": okrs.cycle.end.isoformat(),
        },
        "objectives": [
            _export_objective(p, okrs=okrs, checkins=checkins, at=scope.local(at), sources=sources) for p in progresses
        ],
        "checkins": checkin_items,
        "asks": [
            {
                "id": a.id,
                "code": a.code,
                "person": a.person,
                "kind": a.kind.value,
                "amount": a.amount,
                "unit": a.unit,
                "text": a.text,
                "status": a.status.value,
                "at": when(a.at),
                "decided_by": a.decided_by,
            }
            for a in asks
        ],
        "changes": [
            {
                "code": c.code,
                "measure": c.measure,
                "field": c.field,
                "old": c.old,
                "new": c.new,
                "reason": c.reason,
                "person": c.person,
                "at": when(c.at),
            }
            for c in changes
        ],
    }
    return data, okrs


def _export_measure(
    progress: Any, *, code: str, sources: dict[tuple[str, str], dict[str, Any]], zone: Any
) -> dict[str, Any]:
    m = progress.measure
    item: dict[str, Any] = {"name": m.name, "kind": m.kind.value}
    if m.unit:
        item["unit"] = m.unit
    if m.kind is model.MeasureKind.TARGET:
        item.update(baseline=m.baseline, target=m.target)
    elif m.kind is model.MeasureKind.AT_MOST:
        item["at_most"] = m.limit
    elif m.kind is model.MeasureKind.AT_LEAST:
        item["at_least"] = m.limit
    if m.due:
        item["due"] = m.due.isoformat()
    if m.minimum is not None:
        item["min"] = m.minimum
    if m.maximum is not None:
        item["max"] = m.maximum
    value = progress.value
    item["value"] = bool(value) if m.kind is model.MeasureKind.MILESTONE and value is not None else value
    last = progress.last_at
    item["value_at"] = last.astimezone(zone).isoformat() if last else None  # none: the baseline, nothing given
    item["completion"] = progress.completion
    item["forecast"] = progress.forecast_value
    if (code, m.name) in sources:
        item["source"] = sources[(code, m.name)]
    return item


def _export_objective(
    progress: Any, *, okrs: model.Okrs, checkins: list[model.Checkin], at: datetime,
    sources: dict[tuple[str, str], dict[str, Any]],
) -> dict[str, Any]:
    o = progress.objective
    measures = [
        measure_progress(
            measure=m,
            checkins=checkins,
            code=o.code,
            cycle=okrs.cycle,
            objective_deadline=o.deadline,
            as_of=at,
        )
        for m in o.measures
    ]
    by_path: dict[str, list[Any]] = defaultdict(list)
    for kp in progress.krs:
        by_path[next(p.code for p in o.paths if kp.kr in p.krs)].append(kp)
    return {
        "code": o.code,
        "title": o.title,
        "owner": o.owner,
        "strategy": o.strategy,
        "deadline": o.deadline.isoformat() if o.deadline else None,
        "completion": progress.completion,
        "forecast_completion": progress.forecast_completion,
        "status": progress.status.value,
        "measures": [_export_measure(m, code=o.code, sources=sources, zone=at.tzinfo) for m in measures],
        "paths": [
            {
                "code": p.code,
                "title": p.title,
                "priority": p.priority,
                "scores": p.scores,
                "krs": [
                    {
                        "code": kp.kr.code,
                        "title": kp.kr.title,
                        "owner": kp.kr.owner,
                        "accountable": kp.kr.accountable,
                        "consulted": list(kp.kr.consulted),
                        "informed": list(kp.kr.informed),
                        "control": kp.kr.control.value if kp.kr.control else None,
                        "impact": kp.kr.impact.value if kp.kr.impact else None,
                        "status": kp.status.value,
                        "completion": kp.completion,
                        "forecast_completion": kp.forecast_completion,
                        "measures": [_export_measure(m, code=kp.kr.code, sources=sources, zone=at.tzinfo) for m in kp.measures],
                        "tasks": [
                            {
                                "title": t.title,
                                "owner": t.owner,
                                "due": t.due.isoformat(),
                                "buffer_days": t.buffer_days,
                                "critical": t.critical,
                                "done": t.done,
                            }
                            for t in kp.kr.tasks
                        ],
                    }
                    for kp in by_path.get(p.code, [])
                ],
            }
            for p in o.paths
        ],
    }


CSV_EXPORT_COLUMNS = [
    "period", "person", "code", "measure", "value", "at", "note", "next", "risk", "confidence", "ask", "origin",
]


def csv_number(*, value: Any, style: NumberStyle, insist: bool = False) -> str:
    """A stored value written for a spreadsheet of this locale, so that import-checkins reads it back exactly
    (`insist`: with `!`, a value stored beyond the measure's plausible range)."""
    if isinstance(value, bool) or value is None:
        return "" if value is None else ("done" if value else "not done")
    text = format(Decimal(repr(float(value))).normalize(), "f")
    whole, _, fraction = text.partition(".")
    if len(fraction) == 3 and whole.lstrip("-") not in ("0", ""):
        fraction += "0"  # 2.125 would read as two thousand one hundred twenty-five in half the locales
    return whole + (style.decimal + fraction if fraction else "") + ("!" if insist else "")


def _insisted(*, okrs: model.Okrs, code: str, measure: str | None, value: Any) -> bool:
    """True when a stored value lies beyond its measure's plausible range: it was stored with `!`."""
    owner = okrs.owner_of(code=code)
    found = next((m for m in owner.measures if m.name == measure), None) if owner is not None else None
    if found is None or isinstance(value, bool) or value is None:
        return False
    bounds = plausible_range(measure=found)
    return bounds is not None and not bounds[0] <= float(value) <= bounds[1]


def export_csv(*, uow: UnitOfWork, at: datetime, workspace: str | None = None) -> str:
    """The check-ins and asks as a CSV for Excel: UTF-8 BOM, the workspace's numbers and offset; import-checkins reads it."""
    data, okrs = _exported(uow=uow, at=at, workspace=workspace)
    zone = ZoneInfo(data["workspace"]["timezone"])
    style = number_style(locale=okrs.workspace.number_locale)
    delimiter = ";" if style.decimal == "," else ","

    def number(item: dict[str, Any]) -> str:  # in the row's person's locale, as import-checkins reads it
        insist = _insisted(okrs=okrs, code=item["code"], measure=item["measure"], value=item["value"])
        return csv_number(value=item["value"], style=number_style(locale=okrs.locale_of(person=item["person"])),
                          insist=insist)

    def local(moment: str) -> str:
        return datetime.fromisoformat(moment).astimezone(zone).isoformat()

    rows = [  # text cells escaped so that none becomes a formula; the value is a number, written as one
        {**escaped_row(row=item), "value": number(item), "at": local(item["at"])}
        for item in data["checkins"]
    ]
    rows += [
        {
            **escaped_row(row={"person": a["person"], "code": a["code"], "ask": a["text"]}),
            "at": local(a["at"]),
            "period": _period(a["at"], zone),
        }
        for a in data["asks"]
    ]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_EXPORT_COLUMNS, extrasaction="ignore", delimiter=delimiter)
    writer.writeheader()
    writer.writerows(sorted(rows, key=lambda c: (c["period"], c["person"], c["code"], c["at"], c.get("ask") or "")))
    return "\ufeff" + buffer.getvalue()


def _period(moment: str, zone: ZoneInfo) -> str:
    """The ISO week of a moment on the workspace clock."""
    year, week, _ = datetime.fromisoformat(moment).astimezone(zone).isocalendar()
    return f"{year}-W{week:02d}"
