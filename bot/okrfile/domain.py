"""A validated OKR file turned into the plain domain the core computes on."""

from __future__ import annotations

import re

from bot.core import model
from bot.core.numbers import NumberStyle
from bot.core.values import canonical_unit, read_value
from bot.locales import number_style
from bot.okrfile.spec import OkrFile


def _amount(text: str | float | None, *, style: NumberStyle) -> tuple[float | None, str | None]:
    """An amount such as `25000 EUR` as (number, canonical currency)."""
    if text is None:
        return None, None
    if isinstance(text, int | float):
        return float(text), None
    match = re.match(r"^\s*(.*?)\s*([A-Za-z]{3}|[€$¥£]|欧元?|美元|元)?\s*$", text)
    unit = canonical_unit(unit=match.group(2)) if match and match.group(2) else None
    return read_value(text=text, unit=unit, style=style), unit


def to_domain(*, spec: OkrFile) -> model.Okrs:
    """The plain domain of a validated file."""
    ws = spec.workspace
    workspace = model.Workspace(
        name=ws.name,
        language=ws.language,
        timezone=ws.timezone,
        boss_channel=dict(ws.boss_channel),
        reminder=ws.reminder,
        digest=ws.digest,
        slack_team=ws.slack_team,
        locale=ws.locale,
        sync=ws.sync,
        webhooks=tuple(hook.to_domain() for hook in ws.webhooks),
    )
    style = number_style(locale=workspace.number_locale)
    people = {
        p.id: model.Person(
            key=p.id,
            name=p.name,
            role=model.Role(p.role),
            timezone=p.timezone,
            slack_id=p.slack,
            feishu_id=p.feishu,
            department=p.department,
            locale=p.locale,
        )
        for p in spec.people
    }
    objectives = []
    for o in spec.objectives:
        achievable = None
        if o.achievable is not None:
            budget, unit = _amount(o.achievable.budget, style=style)
            cost, cost_unit = _amount(o.achievable.cost_per_new_customer, style=style)
            order, order_unit = _amount(o.achievable.order_value, style=style)
            achievable = model.Achievable(
                budget=budget,
                cost_per_new_customer=cost,
                order_value=order,
                unit=unit or cost_unit or order_unit,
            )
        paths = tuple(
            model.StrategicPath(
                code=p.code,
                title=p.title,
                priority=p.priority,
                scores=dict(p.scores),
                krs=tuple(
                    model.KeyResult(
                        code=k.code,
                        title=k.title,
                        owner=k.owner,
                        measures=tuple(m.to_domain() for m in k.measures),
                        accountable=k.accountable,
                        consulted=tuple(k.consulted),
                        informed=tuple(k.informed),
                        delegates=tuple(k.delegates),
                        contributors=dict(k.contributors),
                        control=model.Level(k.control) if k.control else None,
                        impact=model.Level(k.impact) if k.impact else None,
                        tasks=tuple(
                            model.Task(
                                title=t.title,
                                owner=t.owner,
                                due=t.due,
                                buffer_days=t.buffer_days,
                                duration_days=t.duration_days,
                                critical=t.critical,
                                done=t.done,
                            )
                            for t in k.tasks
                        ),
                    )
                    for k in p.krs
                ),
            )
            for p in o.paths
        )
        objectives.append(
            model.Objective(
                code=o.code,
                title=o.title,
                owner=o.owner,
                measures=tuple(m.to_domain() for m in o.measures),
                paths=paths,
                strategy=o.strategy,
                deadline=o.deadline,
                achievable=achievable,
            )
        )
    return model.Okrs(
        workspace=workspace,
        people=people,
        cycle=model.Cycle(name=spec.cycle.name, start=spec.cycle.start, end=spec.cycle.end),
        objectives=tuple(objectives),
    )
