"""The OKR file written back from the domain: what `krbot export --format yaml` prints, and import reads unchanged."""

from __future__ import annotations

import re
from typing import Any

import yaml

from bot.core import model
from bot.locales import write_number

_READ_AS_TEXT = re.compile(r"[+-]?[1-9]\d{0,2}\.\d{3}")  # `1.125` the loader keeps as text (a de writer's 1125)


class _Dumper(yaml.SafeDumper):
    """A safe dumper that writes floats so the OKR file's loader reads them back as the same number."""


def _float(dumper: yaml.SafeDumper, number: float) -> yaml.ScalarNode:
    if number.is_integer():
        return dumper.represent_int(int(number))
    text = repr(number)
    if _READ_AS_TEXT.fullmatch(text):
        text += "0"  # 1.1250: a YAML float, never a grouped 1125
    return dumper.represent_scalar("tag:yaml.org,2002:float", text)


_Dumper.add_representer(float, _float)


def _some(**items: Any) -> dict[str, Any]:
    """The items that say something (None, False and empty lists left out; a 0 is kept)."""
    return {
        name: value for name, value in items.items()
        if value is not None and value is not False and not (isinstance(value, list | dict | tuple) and not value)
    }


def _amount(number: float | None, *, unit: str | None, locale: str) -> str | float | None:
    """A budget-check amount: a number, or `25000 EUR` written so the workspace's locale reads it back exactly."""
    if number is None or unit is None:
        return number
    digits = str(int(number)) if float(number).is_integer() else write_number(number=number, locale=locale)
    return f"{digits} {unit}"


def _measure(measure: model.Measure) -> dict[str, Any]:
    kind = measure.kind
    numbers: dict[str, Any] = {
        model.MeasureKind.TARGET: {"baseline": measure.baseline, "target": measure.target},
        model.MeasureKind.AT_MOST: {"at_most": measure.limit},
        model.MeasureKind.AT_LEAST: {"at_least": measure.limit},
        model.MeasureKind.MILESTONE: {"milestone": True},
    }[kind]
    source = None if measure.source is None else _some(**{
        name: getattr(measure.source, name) for name in ("sql", "database_env", "url", "json_path", "headers_env")
    })
    unit = None if kind is model.MeasureKind.MILESTONE else measure.unit
    return {"name": measure.name, **_some(unit=unit), **numbers,
            **_some(due=measure.due, min=measure.minimum, max=measure.maximum, source=source)}


def _kr(kr: model.KeyResult) -> dict[str, Any]:
    tasks = [
        {"title": t.title, "owner": t.owner, "due": t.due,
         **_some(buffer_days=t.buffer_days or None, duration_days=t.duration_days or None, critical=t.critical,
                 done=t.done)}
        for t in kr.tasks
    ]
    return {
        "code": kr.code, "title": kr.title, "owner": kr.owner,
        **_some(accountable=kr.accountable, consulted=list(kr.consulted), informed=list(kr.informed),
                delegates=list(kr.delegates), contributors=dict(kr.contributors),
                control=kr.control.value if kr.control else None, impact=kr.impact.value if kr.impact else None),
        "measures": [_measure(m) for m in kr.measures],
        **_some(tasks=tasks),
    }


def _objective(objective: model.Objective, *, locale: str) -> dict[str, Any]:
    achievable = None
    if objective.achievable is not None:
        a = objective.achievable
        achievable = {
            name: _amount(getattr(a, name), unit=a.unit, locale=locale)
            for name in ("budget", "cost_per_new_customer", "order_value")
            if getattr(a, name) is not None
        }
    paths = [
        {"code": p.code, "title": p.title, **_some(priority=p.priority, scores=dict(p.scores)),
         **_some(krs=[_kr(k) for k in p.krs])}
        for p in objective.paths
    ]
    return {
        "code": objective.code, "title": objective.title, "owner": objective.owner,
        **_some(strategy=objective.strategy, deadline=objective.deadline,
                measures=[_measure(m) for m in objective.measures]),
        **({} if achievable is None else {"achievable": achievable}),
        **_some(paths=paths),
    }


def okr_document(*, okrs: model.Okrs, revision: int) -> dict[str, Any]:
    """The OKR file of a stored tree, as plain data: everything `krbot import` reads, nothing it would change."""
    ws = okrs.workspace
    hooks = [{"url": h.url, "events": [e.value for e in h.events], "secret_env": h.secret_env} for h in ws.webhooks]
    workspace = {
        "name": ws.name, "language": ws.language, "timezone": ws.timezone,
        **_some(boss_channel=dict(ws.boss_channel)), "reminder": ws.reminder, "digest": ws.digest,
        **_some(slack_team=ws.slack_team, locale=ws.locale,
                sync=None if ws.sync == model.DEFAULT_SYNC else ws.sync, webhooks=hooks),
    }
    people = [
        {"id": p.key, "name": p.name, **_some(role=None if p.role is model.Role.MEMBER else p.role.value),
         **_some(slack=p.slack_id, feishu=p.feishu_id, timezone=p.timezone, department=p.department, locale=p.locale)}
        for p in okrs.people.values()
    ]
    return {
        "revision": revision,
        "workspace": workspace,
        "people": people,
        "cycle": {"name": okrs.cycle.name, "start": okrs.cycle.start, "end": okrs.cycle.end},
        "objectives": [_objective(o, locale=ws.number_locale) for o in okrs.objectives],
    }


def write_okr_file(*, okrs: model.Okrs, revision: int) -> str:
    """The OKR file of a stored tree as YAML text."""
    return yaml.dump(okr_document(okrs=okrs, revision=revision), Dumper=_Dumper, allow_unicode=True,
                     sort_keys=False, width=120)
