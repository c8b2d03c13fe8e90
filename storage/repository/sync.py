"""An imported OKR file written onto the tables: created, updated, archived and renamed by code, every goal change dated."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core import model
from bot.core.webhooks import change_data
from storage import webhooks
from storage.models import (
    CycleRow,
    GoalChangeRow,
    KrRow,
    MeasureRow,
    ObjectiveRow,
    PathRow,
    PersonRow,
    TaskRow,
    WorkspaceRow,
)
from storage.renames import ArchivedHistory, Renames, apply_renames, archived_history
from storage.repository.credentials import revoke_person
from storage.repository.daily import reckon_days
from storage.repository.revisions import bump_revision, current_revision

GOAL_FIELDS = ("baseline", "target", "limit", "due")


IMPORT_REASON = "import"  # the reason logged with the goal changes an import of the OKR file makes


@dataclass(slots=True)
class SyncReport:
    """What an import created, updated and archived, and the goal changes it recorded."""

    created: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    updated: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    archived: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    changes: list[model.GoalChange] = field(default_factory=list)
    history: list[ArchivedHistory] = field(default_factory=list)
    revision: int = 0  # the workspace's revision after it


def _measure_fields(measure: model.Measure) -> dict[str, object]:
    return {
        "kind": measure.kind.value,
        "unit": measure.unit,
        "baseline": measure.baseline,
        "target": measure.target,
        "limit_value": measure.limit,
        "bounds": {name: bound for name, bound in (("min", measure.minimum), ("max", measure.maximum)) if bound is not None}
        or None,
        "due": measure.due,
        "source": source_fields(measure.source),
    }


def source_fields(source: model.Source | None) -> dict[str, str] | None:
    """A measure's data source as stored: only the keys it names."""
    if source is None:
        return None
    return {name: value for name, value in dataclasses.asdict(source).items() if value is not None}


def webhook_fields(webhooks: Sequence[model.Webhook]) -> list[dict[str, object]] | None:
    """A workspace's outbound webhooks as stored."""
    if not webhooks:
        return None
    return [
        {"url": hook.url, "events": [event.value for event in hook.events], "secret_env": hook.secret_env}
        for hook in webhooks
    ]


def _set(row: object, values: dict[str, object]) -> bool:
    """Assign changed attributes; True when anything changed."""
    changed = False
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return changed


def _shown(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def sync_okrs(
    *,
    session: Session,
    okrs: model.Okrs,
    at: datetime,
    renames: Renames | None = None,
    person: str | None = None,
    reason: str = IMPORT_REASON,
    revision: int = 0,
) -> SyncReport:
    """Create or update everything in `okrs` by its codes (renamed ones first); archive what the file no longer has.

    Every goal it changes is logged, dated `at`, by `person` (the importer, when known) for `reason`. When anything
    changed, the workspace's revision is raised (to the file's `revision` when that is higher) and stamped on them.
    """
    report = SyncReport()
    importer = person
    ws = okrs.workspace
    workspace = session.scalar(select(WorkspaceRow).where(WorkspaceRow.name == ws.name))
    ws_values = {
        "language": ws.language,
        "timezone": ws.timezone,
        "boss_channel": dict(ws.boss_channel),
        "reminder": ws.reminder,
        "digest": ws.digest,
        "slack_team": ws.slack_team,
        "locale": ws.locale,
        "sync": None if ws.sync == model.DEFAULT_SYNC else ws.sync,
        "webhooks": webhook_fields(ws.webhooks),
    }
    if workspace is None:
        workspace = WorkspaceRow(name=ws.name, **ws_values)
        session.add(workspace)
        session.flush()
        report.created["workspace"] += 1
    else:
        timezone = workspace.timezone
        if _set(workspace, ws_values):
            report.updated["workspace"] += 1
        if workspace.timezone != timezone:  # the calendar days of every stored value move with the clock
            session.flush()
            reckon_days(session=session, workspace_id=workspace.id, timezone=workspace.timezone)

    people = {
        row.key: row
        for row in session.scalars(select(PersonRow).where(PersonRow.workspace_id == workspace.id))
    }
    for person in okrs.people.values():
        values = {
            "name": person.name,
            "role": person.role.value,
            "timezone": person.timezone,
            "slack_id": person.slack_id,
            "feishu_id": person.feishu_id,
            "department": person.department,
            "locale": person.locale,
            "archived": False,  # back in the file: their history is theirs again
        }
        row = people.get(person.key)
        if row is None:
            session.add(PersonRow(workspace_id=workspace.id, key=person.key, **values))
            report.created["people"] += 1
        elif _set(row, values):
            report.updated["people"] += 1
    for key, row in people.items():
        if not row.archived and key not in okrs.people:
            row.archived = True  # from now on they hold no role, own nothing and may do nothing
            revoke_person(session=session, workspace_id=workspace.id, person=key, at=at)  # their keys die with it
            report.archived["people"] += 1

    cycle = session.scalar(
        select(CycleRow).where(CycleRow.workspace_id == workspace.id, CycleRow.name == okrs.cycle.name)
    )
    if cycle is None:
        cycle = CycleRow(
            workspace_id=workspace.id, name=okrs.cycle.name, start=okrs.cycle.start, end=okrs.cycle.end
        )
        session.add(cycle)
        session.flush()
        report.created["cycle"] += 1
    elif _set(cycle, {"start": okrs.cycle.start, "end": okrs.cycle.end}):
        report.updated["cycle"] += 1

    def change(code: str, measure: str | None, name: str, old: object, new: object) -> None:
        goal_change = model.GoalChange(
            code=code,
            field=name,
            old=_shown(old),
            new=_shown(new),
            reason=reason,
            person=importer,
            at=at,
            measure=measure,
        )
        report.changes.append(goal_change)
        logged.append(
            GoalChangeRow(
                workspace_id=workspace.id,
                cycle_id=cycle.id,
                code=code,
                measure=measure,
                field=name,
                old=goal_change.old,
                new=goal_change.new,
                reason=reason,
                person_key=importer,
                at=at,
            )
        )
        session.add(logged[-1])

    logged: list[GoalChangeRow] = []
    if apply_renames(session=session, cycle_id=cycle.id, renames=renames or Renames(), log=change):
        reckon_days(session=session, workspace_id=workspace.id, timezone=workspace.timezone)  # two histories now one
    objectives = {
        r.code: r for r in session.scalars(select(ObjectiveRow).where(ObjectiveRow.cycle_id == cycle.id))
    }
    krs = {r.code: r for r in session.scalars(select(KrRow).where(KrRow.cycle_id == cycle.id))}
    measures = {
        (r.code, r.name): r
        for r in session.scalars(select(MeasureRow).where(MeasureRow.cycle_id == cycle.id))
    }
    objective_ids = [r.id for r in objectives.values()]
    paths = (
        {
            (r.objective_id, r.code): r
            for r in session.scalars(select(PathRow).where(PathRow.objective_id.in_(objective_ids)))
        }
        if objective_ids
        else {}
    )
    kr_ids = [r.id for r in krs.values()]
    tasks = (
        {(r.kr_id, r.title): r for r in session.scalars(select(TaskRow).where(TaskRow.kr_id.in_(kr_ids)))}
        if kr_ids
        else {}
    )
    seen: dict[str, set[object]] = defaultdict(set)

    def sync_measures(code: str, items: Sequence[model.Measure]) -> None:
        for position, measure in enumerate(items):
            key = (code, measure.name)
            seen["measure"].add(key)
            values = {**_measure_fields(measure), "position": position, "archived": False}
            row = measures.get(key)
            if row is None:
                session.add(MeasureRow(cycle_id=cycle.id, code=code, name=measure.name, **values))
                report.created["measures"] += 1
                continue
            for name, column in (
                ("baseline", "baseline"),
                ("target", "target"),
                ("limit", "limit_value"),
                ("due", "due"),
            ):
                old, new = getattr(row, column), values[column]
                if old != new and not row.archived:
                    change(code, measure.name, name, old, new)
            if _set(row, values):
                report.updated["measures"] += 1

    for o_position, objective in enumerate(okrs.objectives):
        seen["objective"].add(objective.code)
        achievable = None
        if objective.achievable is not None:
            a = objective.achievable
            achievable = {
                "budget": a.budget,
                "cost_per_new_customer": a.cost_per_new_customer,
                "order_value": a.order_value,
                "unit": a.unit,
            }
        o_values = {
            "title": objective.title,
            "owner_key": objective.owner,
            "strategy": objective.strategy,
            "deadline": objective.deadline,
            "achievable": achievable,
            "position": o_position,
            "archived": False,
        }
        o_row = objectives.get(objective.code)
        if o_row is None:
            o_row = ObjectiveRow(cycle_id=cycle.id, code=objective.code, **o_values)
            session.add(o_row)
            session.flush()
            report.created["objectives"] += 1
        else:
            if o_row.deadline != objective.deadline and not o_row.archived:
                change(objective.code, None, "deadline", o_row.deadline, objective.deadline)
            if _set(o_row, o_values):
                report.updated["objectives"] += 1
        sync_measures(objective.code, objective.measures)
        for p_position, path in enumerate(objective.paths):
            seen["path"].add((o_row.id, path.code))
            p_values = {
                "title": path.title,
                "priority": path.priority,
                "scores": dict(path.scores),
                "position": p_position,
                "archived": False,
            }
            p_row = paths.get((o_row.id, path.code))
            if p_row is None:
                p_row = PathRow(objective_id=o_row.id, code=path.code, **p_values)
                session.add(p_row)
                session.flush()
                report.created["paths"] += 1
            elif _set(p_row, p_values):
                report.updated["paths"] += 1
            for k_position, kr in enumerate(path.krs):
                seen["kr"].add(kr.code)
                k_values = {
                    "path_id": p_row.id,
                    "title": kr.title,
                    "owner_key": kr.owner,
                    "accountable_key": kr.accountable,
                    "consulted": list(kr.consulted),
                    "informed": list(kr.informed),
                    "delegates": list(kr.delegates),
                    "contributors": dict(kr.contributors),
                    "control": kr.control.value if kr.control else None,
                    "impact": kr.impact.value if kr.impact else None,
                    "position": k_position,
                    "archived": False,
                }
                k_row = krs.get(kr.code)
                if k_row is None:
                    k_row = KrRow(cycle_id=cycle.id, code=kr.code, created_at=at, **k_values)
                    session.add(k_row)
                    session.flush()
                    report.created["krs"] += 1
                elif _set(k_row, k_values):
                    report.updated["krs"] += 1
                sync_measures(kr.code, kr.measures)
                for t_position, task in enumerate(kr.tasks):
                    seen["task"].add((k_row.id, task.title))
                    t_values = {
                        "owner_key": task.owner,
                        "due": task.due,
                        "buffer_days": task.buffer_days,
                        "duration_days": task.duration_days,
                        "critical": task.critical,
                        "done": task.done,
                        "position": t_position,
                        "archived": False,
                    }
                    t_row = tasks.get((k_row.id, task.title))
                    t_values["done"] = task.done or bool(
                        t_row is not None and t_row.done
                    )  # chat's "done" stays done
                    if t_row is None:
                        session.add(TaskRow(kr_id=k_row.id, title=task.title, **t_values))
                        report.created["tasks"] += 1
                    elif _set(t_row, t_values):
                        report.updated["tasks"] += 1

    dropped: dict[str, list] = defaultdict(list)
    for kind, rows, key_of in (
        ("objectives", objectives.values(), lambda r: r.code),
        ("krs", krs.values(), lambda r: r.code),
        ("measures", measures.values(), lambda r: (r.code, r.name)),
        ("paths", paths.values(), lambda r: (r.objective_id, r.code)),
        ("tasks", tasks.values(), lambda r: (r.kr_id, r.title)),
    ):
        bucket = {
            "objectives": "objective",
            "krs": "kr",
            "measures": "measure",
            "paths": "path",
            "tasks": "task",
        }[kind]
        for row in rows:
            if not row.archived and key_of(row) not in seen[bucket]:
                row.archived = True
                report.archived[kind] += 1
                dropped[kind].append(row)
    session.flush()
    if report.created or report.updated or report.archived or report.changes:
        report.revision = bump_revision(session=session, workspace_id=workspace.id, at_least=revision)
        for row in logged:
            row.revision = report.revision
    else:
        report.revision = current_revision(session=session, workspace_id=workspace.id)
    webhooks.enqueue(session=session, workspace_id=workspace.id, workspace=ws, event=model.WebhookEvent.GOAL_CHANGED,
                     items=[change_data(change=goal_change) for goal_change in report.changes])
    report.history = archived_history(
        session=session,
        cycle_id=cycle.id,
        objectives=dropped["objectives"],
        krs=dropped["krs"],
        measures=dropped["measures"],
    )
    return report
