"""The OKR tree read back as the domain: a workspace, its current cycle, the whole tree or only what one code needs."""

from __future__ import annotations

from collections import defaultdict, namedtuple
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from bot.core import model
from storage.models import (
    CycleRow,
    KrRow,
    MeasureRow,
    ObjectiveRow,
    PathRow,
    PersonRow,
    TaskRow,
    WorkspaceRow,
)


@dataclass(frozen=True, slots=True)
class Loaded:
    """A cycle's OKR tree as the domain sees it, plus the row ids the services need to write."""

    workspace_id: int
    cycle_id: int
    okrs: model.Okrs
    measure_ids: dict[tuple[str, str], int]


def workspace_names(*, session: Session) -> list[str]:
    """Names of every workspace, oldest first."""
    return list(session.scalars(select(WorkspaceRow.name).order_by(WorkspaceRow.id)))


_WORKSPACE_BY_NAME = select(WorkspaceRow).where(WorkspaceRow.name == bindparam("name"))
_FIRST_TWO_WORKSPACES = select(WorkspaceRow).order_by(WorkspaceRow.id).limit(2)
_CYCLES_OF_WORKSPACE = select(CycleRow).where(CycleRow.workspace_id == bindparam("workspace_id")).order_by(CycleRow.start)


def find_workspace(*, session: Session, name: str | None) -> WorkspaceRow | None:
    """The named workspace, or the only one when no name is given."""
    if name is not None:
        return session.scalar(_WORKSPACE_BY_NAME, {"name": name})
    rows = list(session.scalars(_FIRST_TWO_WORKSPACES))
    return rows[0] if len(rows) == 1 else None


def current_cycle(*, session: Session, workspace_id: int, day: date) -> CycleRow | None:
    """The cycle containing `day`, else the latest that started before it, else the first."""
    return pick_cycle(cycles=list(session.scalars(_CYCLES_OF_WORKSPACE, {"workspace_id": workspace_id})), day=day)


def _shapes(*tables: Any) -> tuple[Any, ...]:
    """A plain-row type per table, its fields the table's columns (a joined row splits into one of each)."""
    return tuple(namedtuple(f"{table.name}_row", [column.key for column in table.c]) for table in tables)  # noqa: PYI024


def _split(row: Sequence[Any], shapes: Sequence[Any]) -> list[Any]:
    """A joined row split into one plain row per table (their columns share names)."""
    parts, start = [], 0
    for shape in shapes:
        parts.append(shape._make(row[start:start + len(shape._fields)]))
        start += len(shape._fields)
    return parts


_WORKSPACE_SHAPES = _shapes(WorkspaceRow.__table__, CycleRow.__table__)
_WORKSPACE_WITH_CYCLES = (
    select(WorkspaceRow.__table__, CycleRow.__table__)
    .outerjoin(CycleRow, CycleRow.workspace_id == WorkspaceRow.id)
    .order_by(WorkspaceRow.id, CycleRow.start)
)
_NAMED = _WORKSPACE_WITH_CYCLES.where(WorkspaceRow.name == bindparam("name"))
_FIRST_TWO = _WORKSPACE_WITH_CYCLES.where(
    WorkspaceRow.id.in_(select(WorkspaceRow.id).order_by(WorkspaceRow.id).limit(2).scalar_subquery())
)


def workspace_with_cycles(*, session: Session, name: str | None) -> tuple[Any, list[Any]] | None:
    """The named workspace (the only one when None) and its cycles by start, as plain rows, in one query; None when
    there is no such workspace (or, unnamed, several)."""
    rows = session.connection().execute(_NAMED if name is not None else _FIRST_TWO, {"name": name}).all()
    split = [_split(row, _WORKSPACE_SHAPES) for row in rows]
    if len({workspace.id for workspace, _ in split}) != 1:
        return None
    return split[0][0], [cycle for _, cycle in split if cycle.id is not None]


def pick_cycle(*, cycles: Sequence[Any], day: date) -> Any | None:
    """Of cycles by start: the one containing `day`, else the latest that started before it, else the first."""
    containing = [c for c in cycles if c.start <= day <= c.end]
    if containing:
        return containing[-1]
    started = [c for c in cycles if c.start <= day]
    if started:
        return started[-1]
    return cycles[0] if cycles else None


# Stored words to enum members by a dict lookup (calling the enum is slow, and a digest does it thousands of times).
_KINDS = {kind.value: kind for kind in model.MeasureKind}
_ROLES = {role.value: role for role in model.Role}
_LEVELS = {level.value: level for level in model.Level}


def _measure(row: Any) -> model.Measure:
    limit = row.limit_value
    return model.Measure(
        name=row.name,
        kind=_KINDS[row.kind],
        unit=row.unit,
        baseline=row.baseline,
        target=row.target,
        limit=limit,
        due=row.due,
        source=model.Source(**row.source) if row.source else None,
        minimum=(row.bounds or {}).get("min"),
        maximum=(row.bounds or {}).get("max"),
    )


def workspace_of(row: WorkspaceRow) -> model.Workspace:
    """The domain workspace of a row."""
    return model.Workspace(
        name=row.name,
        language=row.language,
        timezone=row.timezone,
        boss_channel=dict(row.boss_channel or {}),
        reminder=row.reminder,
        digest=row.digest,
        slack_team=row.slack_team,
        locale=row.locale,
        sync=row.sync or model.DEFAULT_SYNC,
        webhooks=tuple(
            model.Webhook(
                url=item["url"],
                events=tuple(model.WebhookEvent(event) for event in item.get("events", ())),
                secret_env=item["secret_env"],
            )
            for item in row.webhooks or ()
        ),
    )


def _whole_tree() -> dict[str, Any]:
    """The statements of a cycle's whole tree, as plain table rows (the cycle bound as `cycle_id`), built once."""
    cycle = bindparam("cycle_id")
    return {
        "people": select(PersonRow.__table__).where(
            PersonRow.workspace_id == bindparam("workspace_id"), PersonRow.archived.is_(False)
        ).order_by(PersonRow.id),  # as the file first listed them: an exported file keeps its order
        "objectives": select(ObjectiveRow.__table__)
        .where(ObjectiveRow.cycle_id == cycle, ObjectiveRow.archived.is_(False))
        .order_by(ObjectiveRow.position),
        "paths": select(PathRow.__table__)
        .join(ObjectiveRow, PathRow.objective_id == ObjectiveRow.id)
        .where(ObjectiveRow.cycle_id == cycle, PathRow.archived.is_(False))
        .order_by(PathRow.position),
        "krs": select(KrRow.__table__)
        .where(KrRow.cycle_id == cycle, KrRow.archived.is_(False))
        .order_by(KrRow.position),
        "measures": select(MeasureRow.__table__)
        .where(MeasureRow.cycle_id == cycle, MeasureRow.archived.is_(False))
        .order_by(MeasureRow.position),
        "tasks": select(TaskRow.__table__)
        .join(KrRow, TaskRow.kr_id == KrRow.id)
        .where(KrRow.cycle_id == cycle, TaskRow.archived.is_(False))
        .order_by(TaskRow.position),
    }


_TREE = _whole_tree()


def load_okrs(*, session: Session, workspace: WorkspaceRow, cycle: CycleRow) -> Loaded:
    """The cycle's live OKR tree in a fixed number of queries, whatever its size (read as plain rows, no ORM objects:
    a digest reads thousands)."""
    connection = session.connection()
    params = {"cycle_id": cycle.id, "workspace_id": workspace.id}
    rows = {name: connection.execute(statement, params).all() for name, statement in _TREE.items()}
    return _loaded(
        workspace=workspace,
        cycle=cycle,
        people_rows=rows["people"],
        objective_rows=rows["objectives"],
        path_rows=rows["paths"],
        kr_rows=rows["krs"],
        measure_rows=rows["measures"],
        task_rows=rows["tasks"],
    )


# The statements of the per-request path, built once: each call only binds its values. Read as plain table rows
# (no ORM objects, no identity map): a check-in reads one KR, its parents, its measures and a few people.
_KR_SHAPES = _shapes(KrRow.__table__, PathRow.__table__, ObjectiveRow.__table__, MeasureRow.__table__)
_KR_WITH_PARENTS = (  # one row per live measure of the KR (one with no measure when it has none)
    select(KrRow.__table__, PathRow.__table__, ObjectiveRow.__table__, MeasureRow.__table__)
    .join(PathRow, PathRow.id == KrRow.path_id)
    .join(ObjectiveRow, ObjectiveRow.id == PathRow.objective_id)
    .outerjoin(MeasureRow, (MeasureRow.cycle_id == KrRow.cycle_id) & (MeasureRow.code == KrRow.code)
               & MeasureRow.archived.is_(False))
    .where(
        KrRow.cycle_id == bindparam("cycle_id"),
        KrRow.code == bindparam("code"),
        KrRow.archived.is_(False),
        ObjectiveRow.archived.is_(False),
    )
    .order_by(MeasureRow.position)
)
_OBJECTIVE_BY_CODE = select(ObjectiveRow.__table__).where(
    ObjectiveRow.cycle_id == bindparam("cycle_id"), ObjectiveRow.code == bindparam("code"), ObjectiveRow.archived.is_(False)
)
_MEASURES_OF_CODE = (
    select(MeasureRow.__table__)
    .where(MeasureRow.cycle_id == bindparam("cycle_id"), MeasureRow.code == bindparam("code"), MeasureRow.archived.is_(False))
    .order_by(MeasureRow.position)
)
_PEOPLE_BY_KEY = select(PersonRow.__table__).where(
    PersonRow.workspace_id == bindparam("workspace_id"),
    PersonRow.archived.is_(False),
    PersonRow.key.in_(bindparam("keys", expanding=True)),
)


def load_code(
    *, session: Session, workspace: WorkspaceRow, cycle: CycleRow, code: str, people: Iterable[str]
) -> Loaded | None:
    """Only what a check-in on one code needs: that KR (with its path and objective) or that objective, its
    measures, and the named people plus those the KR names — no tasks; None when no live KR or objective has
    the code. The same few queries whatever the workspace's size."""
    connection = session.connection()
    found = [_split(row, _KR_SHAPES) for row in connection.execute(_KR_WITH_PARENTS, {"cycle_id": cycle.id, "code": code})]
    kr_rows: list[Any] = []
    path_rows: list[Any] = []
    if found:
        kr_rows, path_rows, objective_rows = [found[0][0]], [found[0][1]], [found[0][2]]
        measure_rows = [measure for *_, measure in found if measure.id is not None]
    else:
        objective_rows = connection.execute(_OBJECTIVE_BY_CODE, {"cycle_id": cycle.id, "code": code}).all()
        if not objective_rows:
            return None
        measure_rows = connection.execute(_MEASURES_OF_CODE, {"cycle_id": cycle.id, "code": code}).all()
    keys = set(people) | {row.owner_key for row in objective_rows}
    for row in kr_rows:
        keys |= {row.owner_key, *(row.consulted or ()), *(row.delegates or ())}
        keys |= {k for k in (row.accountable_key,) if k}
    people_rows = connection.execute(_PEOPLE_BY_KEY, {"workspace_id": workspace.id, "keys": sorted(keys)}).all()
    return _loaded(
        workspace=workspace,
        cycle=cycle,
        people_rows=people_rows,
        objective_rows=objective_rows,
        path_rows=path_rows,
        kr_rows=kr_rows,
        measure_rows=measure_rows,
        task_rows=(),
    )


def _loaded(
    *,
    workspace: WorkspaceRow,
    cycle: CycleRow,
    people_rows: Iterable[Any],
    objective_rows: Sequence[Any],
    path_rows: Sequence[Any],
    kr_rows: Sequence[Any],
    measure_rows: Sequence[Any],
    task_rows: Sequence[Any],
) -> Loaded:
    """The domain tree built from rows already read."""
    people = {
        row.key: model.Person(
            key=row.key,
            name=row.name,
            role=_ROLES[row.role],
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
                control=_LEVELS[row.control] if row.control else None,
                impact=_LEVELS[row.impact] if row.impact else None,
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
        workspace=workspace_of(workspace),
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


def workspaces(*, session: Session) -> list[WorkspaceRow]:
    """Every workspace, oldest first."""
    return list(session.scalars(select(WorkspaceRow).order_by(WorkspaceRow.id)).all())
