"""The goals' revision: a workspace number raised by every change of its goals, and the goal changes made after one."""

from __future__ import annotations

from sqlalchemy import case, select, update
from sqlalchemy.orm import Session

from bot.core import model
from storage.models import CycleRow, GoalChangeRow, WorkspaceRow
from storage.repository.tree import load_okrs


def current_revision(*, session: Session, workspace_id: int) -> int:
    """The workspace's revision now."""
    return session.scalar(select(WorkspaceRow.revision).where(WorkspaceRow.id == workspace_id)) or 0


def bump_revision(*, session: Session, workspace_id: int, at_least: int = 0) -> int:
    """Raise the workspace's revision by one (to `at_least` when that is higher) in one statement; the new one."""
    raised = WorkspaceRow.revision + 1
    session.execute(
        update(WorkspaceRow)
        .where(WorkspaceRow.id == workspace_id)
        .values(revision=case((raised < at_least, at_least), else_=raised))
        .execution_options(synchronize_session="fetch")
    )
    return current_revision(session=session, workspace_id=workspace_id)


def changes_after(*, session: Session, workspace_id: int, cycle_id: int, revision: int) -> list[model.GoalChange]:
    """The goal changes of a cycle made after `revision`, oldest first."""
    query = (
        select(GoalChangeRow)
        .where(GoalChangeRow.workspace_id == workspace_id, GoalChangeRow.cycle_id == cycle_id,
               GoalChangeRow.revision > revision)
        .order_by(GoalChangeRow.revision, GoalChangeRow.id)
    )
    return [
        model.GoalChange(code=row.code, field=row.field, old=row.old, new=row.new, reason=row.reason,
                         person=row.person_key, at=row.at, measure=row.measure)
        for row in session.scalars(query)
    ]


def goals_since(
    *, session: Session, workspace: str, cycle: str, revision: int
) -> tuple[list[model.GoalChange], model.Okrs] | None:
    """The named cycle's goal changes after `revision` and its live tree now; None when neither is stored yet."""
    row = session.scalar(select(WorkspaceRow).where(WorkspaceRow.name == workspace))
    cycle_row = None if row is None else session.scalar(
        select(CycleRow).where(CycleRow.workspace_id == row.id, CycleRow.name == cycle)
    )
    if row is None or cycle_row is None:
        return None
    changes = changes_after(session=session, workspace_id=row.id, cycle_id=cycle_row.id, revision=revision)
    return changes, load_okrs(session=session, workspace=row, cycle=cycle_row).okrs
