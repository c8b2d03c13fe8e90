"""The repository: the OKR tree, check-ins, asks and goal changes between tables and the plain domain."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.core import model
from storage.models import (
    AskRow,
    AwayRow,
    CheckinRow,
    CheckinValueRow,
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


@dataclass(frozen=True, slots=True)
class Loaded:
    """A cycle's OKR tree as the domain sees it, plus the row ids the services need to write."""

    workspace_id: int
    cycle_id: int
    okrs: model.Okrs
    measure_ids: dict[tuple[str, str], int]


def _measure_fields(measure: model.Measure) -> dict[str, object]:
    return {
        "kind": measure.kind.value,
        "unit": measure.unit,
        "baseline": measure.baseline,
        "target": measure.target,
        "limit_value": measure.limit,
        "due": measure.due,
    }


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
) -> SyncReport:
    """Create or update everything in `okrs` by its codes (renamed ones first); archive what the file no longer has.

    Every goal it changes is logged, dated `at`, by `person` (the importer, when known) for `reason`.
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
    }
    if workspace is None:
        workspace = WorkspaceRow(name=ws.name, **ws_values)
        session.add(workspace)
        session.flush()
        report.created["workspace"] += 1
    elif _set(workspace, ws_values):
        report.updated["workspace"] += 1

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
        session.add(
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

    apply_renames(session=session, cycle_id=cycle.id, renames=renames or Renames(), log=change)
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
    report.history = archived_history(
        session=session,
        cycle_id=cycle.id,
        objectives=dropped["objectives"],
        krs=dropped["krs"],
        measures=dropped["measures"],
    )
    return report


def workspace_names(*, session: Session) -> list[str]:
    """Names of every workspace, oldest first."""
    return list(session.scalars(select(WorkspaceRow.name).order_by(WorkspaceRow.id)))


def find_workspace(*, session: Session, name: str | None) -> WorkspaceRow | None:
    """The named workspace, or the only one when no name is given."""
    if name is not None:
        return session.scalar(select(WorkspaceRow).where(WorkspaceRow.name == name))
    rows = list(session.scalars(select(WorkspaceRow).order_by(WorkspaceRow.id).limit(2)))
    return rows[0] if len(rows) == 1 else None


def current_cycle(*, session: Session, workspace_id: int, day: date) -> CycleRow | None:
    """The cycle containing `day`, else the latest that started before it, else the first."""
    cycles = list(
        session.scalars(
            select(CycleRow).where(CycleRow.workspace_id == workspace_id).order_by(CycleRow.start)
        )
    )
    containing = [c for c in cycles if c.start <= day <= c.end]
    if containing:
        return containing[-1]
    started = [c for c in cycles if c.start <= day]
    if started:
        return started[-1]
    return cycles[0] if cycles else None


def _measure(row: MeasureRow) -> model.Measure:
    limit = row.limit_value
    return model.Measure(
        name=row.name,
        kind=model.MeasureKind(row.kind),
        unit=row.unit,
        baseline=row.baseline,
        target=row.target,
        limit=limit,
        due=row.due,
    )


def load_okrs(*, session: Session, workspace: WorkspaceRow, cycle: CycleRow) -> Loaded:
    """The cycle's live OKR tree in a fixed number of queries, whatever its size."""
    people_rows = session.scalars(
        select(PersonRow).where(PersonRow.workspace_id == workspace.id, PersonRow.archived.is_(False))
    )
    objective_rows = list(
        session.scalars(
            select(ObjectiveRow)
            .where(ObjectiveRow.cycle_id == cycle.id, ObjectiveRow.archived.is_(False))
            .order_by(ObjectiveRow.position)
        )
    )
    path_rows = list(
        session.scalars(
            select(PathRow)
            .join(ObjectiveRow, PathRow.objective_id == ObjectiveRow.id)
            .where(ObjectiveRow.cycle_id == cycle.id, PathRow.archived.is_(False))
            .order_by(PathRow.position)
        )
    )
    kr_rows = list(
        session.scalars(
            select(KrRow)
            .where(KrRow.cycle_id == cycle.id, KrRow.archived.is_(False))
            .order_by(KrRow.position)
        )
    )
    measure_rows = list(
        session.scalars(
            select(MeasureRow)
            .where(MeasureRow.cycle_id == cycle.id, MeasureRow.archived.is_(False))
            .order_by(MeasureRow.position)
        )
    )
    task_rows = list(
        session.scalars(
            select(TaskRow)
            .join(KrRow, TaskRow.kr_id == KrRow.id)
            .where(KrRow.cycle_id == cycle.id, TaskRow.archived.is_(False))
            .order_by(TaskRow.position)
        )
    )
    return _loaded(
        workspace=workspace,
        cycle=cycle,
        people_rows=people_rows,
        objective_rows=objective_rows,
        path_rows=path_rows,
        kr_rows=kr_rows,
        measure_rows=measure_rows,
        task_rows=task_rows,
    )


def load_code(
    *, session: Session, workspace: WorkspaceRow, cycle: CycleRow, code: str, people: Iterable[str]
) -> Loaded | None:
    """Only what an action on one code needs: that KR (with its path and objective) or that objective, its
    measures and tasks, and the named people plus those the KR names; None when no live KR or objective
    has the code. The same few queries whatever the workspace's size."""
    kr_row = session.scalars(
        select(KrRow).where(KrRow.cycle_id == cycle.id, KrRow.code == code, KrRow.archived.is_(False))
    ).one_or_none()
    path_rows: list[PathRow] = []
    if kr_row is not None:
        path_rows = list(session.scalars(select(PathRow).where(PathRow.id == kr_row.path_id)))
        objective_filter = ObjectiveRow.id == path_rows[0].objective_id
    else:
        objective_filter = ObjectiveRow.code == code
    objective_rows = list(
        session.scalars(
            select(ObjectiveRow).where(
                ObjectiveRow.cycle_id == cycle.id, objective_filter, ObjectiveRow.archived.is_(False)
            )
        )
    )
    if not objective_rows:
        return None
    kr_rows = [kr_row] if kr_row is not None else []
    measure_rows = list(
        session.scalars(
            select(MeasureRow)
            .where(MeasureRow.cycle_id == cycle.id, MeasureRow.code == code, MeasureRow.archived.is_(False))
            .order_by(MeasureRow.position)
        )
    )
    task_rows: list[TaskRow] = []
    keys = set(people)
    if kr_row is not None:
        task_rows = list(
            session.scalars(
                select(TaskRow)
                .where(TaskRow.kr_id == kr_row.id, TaskRow.archived.is_(False))
                .order_by(TaskRow.position)
            )
        )
        keys |= {kr_row.owner_key, *(kr_row.consulted or ()), *(kr_row.delegates or ())}
        keys |= {k for k in (kr_row.accountable_key,) if k}
    keys |= {row.owner_key for row in objective_rows}
    people_rows = session.scalars(
        select(PersonRow).where(
            PersonRow.workspace_id == workspace.id, PersonRow.archived.is_(False), PersonRow.key.in_(sorted(keys))
        )
    )
    return _loaded(
        workspace=workspace,
        cycle=cycle,
        people_rows=people_rows,
        objective_rows=objective_rows,
        path_rows=path_rows,
        kr_rows=kr_rows,
        measure_rows=measure_rows,
        task_rows=task_rows,
    )


def _loaded(
    *,
    workspace: WorkspaceRow,
    cycle: CycleRow,
    people_rows: Iterable[PersonRow],
    objective_rows: Sequence[ObjectiveRow],
    path_rows: Sequence[PathRow],
    kr_rows: Sequence[KrRow],
    measure_rows: Sequence[MeasureRow],
    task_rows: Sequence[TaskRow],
) -> Loaded:
    """The domain tree built from rows already read."""
    people = {
        row.key: model.Person(
            key=row.key,
            name=row.name,
            role=model.Role(row.role),
            timezone=row.timezone,
            slack_id=row.slack_id,
            feishu_id=row.feishu_id,
            department=row.department,
            locale=row.locale,
        )
        for row in people_rows
    }
    measures_by_code: dict[str, list[model.Measure]] = defaultdict(list)
    for row in measure_rows:
        measures_by_code[row.code].append(_measure(row))
    tasks_by_kr: dict[int, list[model.Task]] = defaultdict(list)
    for row in task_rows:
        tasks_by_kr[row.kr_id].append(
            model.Task(
                title=row.title,
                owner=row.owner_key,
                due=row.due,
                buffer_days=row.buffer_days,
                critical=row.critical,
                done=row.done,
                duration_days=row.duration_days,
            )
        )
    krs_by_path: dict[int, list[model.KeyResult]] = defaultdict(list)
    for row in kr_rows:
        krs_by_path[row.path_id].append(
            model.KeyResult(
                code=row.code,
                title=row.title,
                owner=row.owner_key,
                measures=tuple(measures_by_code[row.code]),
                accountable=row.accountable_key,
                consulted=tuple(row.consulted or ()),
                informed=tuple(row.informed or ()),
                delegates=tuple(row.delegates or ()),
                contributors=dict(row.contributors or {}),
                control=model.Level(row.control) if row.control else None,
                impact=model.Level(row.impact) if row.impact else None,
                tasks=tuple(tasks_by_kr[row.id]),
                added=row.created_at,
            )
        )
    paths_by_objective: dict[int, list[model.StrategicPath]] = defaultdict(list)
    for row in path_rows:
        paths_by_objective[row.objective_id].append(
            model.StrategicPath(
                code=row.code,
                title=row.title,
                priority=row.priority,
                scores=dict(row.scores or {}),
                krs=tuple(krs_by_path[row.id]),
            )
        )
    objectives = []
    for row in objective_rows:
        a = row.achievable
        objectives.append(
            model.Objective(
                code=row.code,
                title=row.title,
                owner=row.owner_key,
                measures=tuple(measures_by_code[row.code]),
                paths=tuple(paths_by_objective[row.id]),
                strategy=row.strategy,
                deadline=row.deadline,
                achievable=model.Achievable(**a) if a else None,
            )
        )
    okrs = model.Okrs(
        workspace=model.Workspace(
            name=workspace.name,
            language=workspace.language,
            timezone=workspace.timezone,
            boss_channel=dict(workspace.boss_channel or {}),
            reminder=workspace.reminder,
            digest=workspace.digest,
            slack_team=workspace.slack_team,
            locale=workspace.locale,
        ),
        people=people,
        cycle=model.Cycle(name=cycle.name, start=cycle.start, end=cycle.end),
        objectives=tuple(objectives),
    )
    return Loaded(
        workspace_id=workspace.id,
        cycle_id=cycle.id,
        okrs=okrs,
        measure_ids={(row.code, row.name): row.id for row in measure_rows},
    )


def load_checkins(
    *, session: Session, cycle_id: int, until: datetime | None = None, code: str | None = None
) -> list[model.Checkin]:
    """Every check-in of the cycle (at or before `until`, of one code, when given), oldest first, in one query."""
    query = (
        select(
            CheckinRow.id,
            CheckinRow.code,
            CheckinRow.person_key,
            CheckinRow.at,
            CheckinRow.note,
            CheckinRow.next_step,
            CheckinRow.risk,
            MeasureRow.name,
            CheckinValueRow.value,
        )
        .outerjoin(CheckinValueRow, CheckinValueRow.checkin_id == CheckinRow.id)
        .outerjoin(MeasureRow, MeasureRow.id == CheckinValueRow.measure_id)
        .where(CheckinRow.cycle_id == cycle_id)
        .order_by(CheckinRow.at, CheckinRow.id)
    )
    if until is not None:
        query = query.where(CheckinRow.at <= until)
    if code is not None:
        query = query.where(CheckinRow.code == code)
    rows = session.execute(query)
    grouped: dict[int, model.Checkin] = {}
    for checkin_id, code, person, at, note, next_step, risk, measure, value in rows:
        checkin = grouped.get(checkin_id)
        if checkin is None:
            checkin = model.Checkin(
                code=code, person=person, at=at, values={}, note=note, next_step=next_step, risk=risk
            )
            grouped[checkin_id] = checkin
        if measure is not None:
            checkin.values[measure] = value
    return list(grouped.values())


def add_checkin(
    *,
    session: Session,
    loaded: Loaded,
    checkin: model.Checkin,
    asks: Iterable[model.Ask] = (),
    source: str,
    event_key: str | None = None,
) -> int:
    """Store one check-in with its values and asks; returns its id."""
    row = CheckinRow(
        workspace_id=loaded.workspace_id,
        cycle_id=loaded.cycle_id,
        code=checkin.code,
        person_key=checkin.person,
        at=checkin.at,
        note=checkin.note,
        next_step=checkin.next_step,
        risk=checkin.risk,
        source=source,
        event_key=event_key,
    )
    session.add(row)
    session.flush()
    session.add_all(
        CheckinValueRow(checkin_id=row.id, measure_id=loaded.measure_ids[(checkin.code, name)], value=value)
        for name, value in checkin.values.items()
    )
    for ask in asks:
        session.add(
            AskRow(
                workspace_id=loaded.workspace_id,
                cycle_id=loaded.cycle_id,
                checkin_id=row.id,
                code=ask.code,
                person_key=ask.person,
                kind=ask.kind.value,
                amount=ask.amount,
                unit=ask.unit,
                text=ask.text,
                status=ask.status.value,
                at=ask.at,
            )
        )
    session.flush()
    return row.id


def checkin_with_event(*, session: Session, workspace_id: int, event_key: str) -> int | None:
    """The id of the check-in already stored for this platform event, if any."""
    return session.scalar(
        select(CheckinRow.id).where(
            CheckinRow.workspace_id == workspace_id, CheckinRow.event_key == event_key
        )
    )


def _ask(row: AskRow) -> model.Ask:
    return model.Ask(
        id=row.id,
        code=row.code,
        person=row.person_key,
        kind=model.AskKind(row.kind),
        text=row.text,
        at=row.at,
        amount=row.amount,
        unit=row.unit,
        status=model.AskStatus(row.status),
        decided_by=row.decided_by,
        decided_at=row.decided_at,
    )


def load_asks(*, session: Session, workspace_id: int, cycle_id: int | None = None) -> list[model.Ask]:
    """Asks of the workspace (of one cycle when given), oldest first."""
    query = select(AskRow).where(AskRow.workspace_id == workspace_id).order_by(AskRow.at, AskRow.id)
    if cycle_id is not None:
        query = query.where(AskRow.cycle_id == cycle_id)
    return [_ask(row) for row in session.scalars(query)]


def ask_row(*, session: Session, workspace_id: int, ask_id: int) -> AskRow | None:
    """One ask by id, within its workspace."""
    return session.scalar(select(AskRow).where(AskRow.id == ask_id, AskRow.workspace_id == workspace_id))


def add_goal_change(*, session: Session, loaded: Loaded, change: model.GoalChange) -> None:
    """Log one goal change."""
    session.add(
        GoalChangeRow(
            workspace_id=loaded.workspace_id,
            cycle_id=loaded.cycle_id,
            code=change.code,
            measure=change.measure,
            field=change.field,
            old=change.old,
            new=change.new,
            reason=change.reason,
            person_key=change.person,
            at=change.at,
        )
    )


def load_changes(
    *, session: Session, workspace_id: int, since: datetime | None = None
) -> list[model.GoalChange]:
    """Goal changes of the workspace (since a time when given), oldest first."""
    query = select(GoalChangeRow).where(GoalChangeRow.workspace_id == workspace_id)
    if since is not None:
        query = query.where(GoalChangeRow.at > since)
    return [
        model.GoalChange(
            code=row.code,
            field=row.field,
            old=row.old,
            new=row.new,
            reason=row.reason,
            person=row.person_key,
            at=row.at,
            measure=row.measure,
        )
        for row in session.scalars(query.order_by(GoalChangeRow.at, GoalChangeRow.id))
    ]


def measure_row(*, session: Session, cycle_id: int, code: str, name: str) -> MeasureRow | None:
    """One live measure row by owner code and name."""
    return session.scalar(
        select(MeasureRow).where(
            MeasureRow.cycle_id == cycle_id,
            MeasureRow.code == code,
            MeasureRow.name == name,
            MeasureRow.archived.is_(False),
        )
    )


def objective_row(*, session: Session, cycle_id: int, code: str) -> ObjectiveRow | None:
    """One live objective row by code."""
    return session.scalar(
        select(ObjectiveRow).where(ObjectiveRow.cycle_id == cycle_id, ObjectiveRow.code == code)
    )


def away_days(*, session: Session, workspace_id: int) -> dict[str, list[tuple[date, date]]]:
    """Each person's away periods by person key."""
    rows = session.execute(
        select(PersonRow.key, AwayRow.start, AwayRow.end)
        .join(AwayRow, AwayRow.person_id == PersonRow.id)
        .where(PersonRow.workspace_id == workspace_id)
    )
    result: dict[str, list[tuple[date, date]]] = defaultdict(list)
    for key, start, end in rows:
        result[key].append((start, end))
    return result


def set_away(
    *, session: Session, workspace_id: int, person_key: str, start: date | None, end: date | None
) -> None:
    """Replace a person's away periods with one (or none, to clear)."""
    person = session.scalar(
        select(PersonRow).where(PersonRow.workspace_id == workspace_id, PersonRow.key == person_key)
    )
    if person is None:
        return
    for row in session.scalars(select(AwayRow).where(AwayRow.person_id == person.id)):
        session.delete(row)
    if start is not None and end is not None:
        session.add(AwayRow(person_id=person.id, start=start, end=end))
    session.flush()


def person_by_chat_id(*, session: Session, platform: str, user_id: str) -> tuple[str, str] | None:
    """(workspace name, person key) of a Slack or Feishu user id, or None."""
    column = {"slack": PersonRow.slack_id, "feishu": PersonRow.feishu_id}[platform]
    row = session.execute(
        select(WorkspaceRow.name, PersonRow.key)
        .join(PersonRow, PersonRow.workspace_id == WorkspaceRow.id)
        .where(column == user_id, PersonRow.archived.is_(False))
        .order_by(PersonRow.id)
        .limit(1)
    ).first()
    return (row[0], row[1]) if row else None


def workspaces(*, session: Session) -> list[WorkspaceRow]:
    """Every workspace, oldest first."""
    return list(session.scalars(select(WorkspaceRow).order_by(WorkspaceRow.id)).all())


def schedule_owners(*, session: Session, workspace_id: int, cycle_id: int) -> tuple[model.Person, ...]:
    """The people a cycle's schedule reminds: KR owners, and objective owners whose objective has a headline measure."""
    kr_owners = select(KrRow.owner_key).where(KrRow.cycle_id == cycle_id, KrRow.archived.is_(False))
    headline_owners = (
        select(ObjectiveRow.owner_key)
        .join(
            MeasureRow,
            (MeasureRow.cycle_id == ObjectiveRow.cycle_id) & (MeasureRow.code == ObjectiveRow.code),
        )
        .where(
            ObjectiveRow.cycle_id == cycle_id,
            ObjectiveRow.archived.is_(False),
            MeasureRow.archived.is_(False),
        )
    )
    rows = session.execute(
        select(
            PersonRow.key,
            PersonRow.name,
            PersonRow.role,
            PersonRow.timezone,
            PersonRow.slack_id,
            PersonRow.feishu_id,
        )
        .where(
            PersonRow.workspace_id == workspace_id,
            PersonRow.archived.is_(False),
            PersonRow.key.in_(kr_owners.union(headline_owners)),
        )
        .order_by(PersonRow.key)
    ).all()
    return tuple(
        model.Person(
            key=key, name=name, role=model.Role(role), timezone=zone, slack_id=slack, feishu_id=feishu
        )
        for key, name, role, zone, slack, feishu in rows
    )


def last_checkins(*, session: Session, cycle_id: int, until: datetime) -> dict[str, datetime]:
    """Each person's latest check-in in a cycle up to `until` (UTC)."""
    rows = session.execute(
        select(CheckinRow.person_key, func.max(CheckinRow.at))
        .where(CheckinRow.cycle_id == cycle_id, CheckinRow.at <= until)
        .group_by(CheckinRow.person_key)
    ).all()
    return {key: moment.replace(tzinfo=ZoneInfo("UTC")) for key, moment in rows}
