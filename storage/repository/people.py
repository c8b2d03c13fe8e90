"""People as the schedule sees them: chat ids, away days, who owes a check-in."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy import Connection, Select, bindparam, select
from sqlalchemy.orm import Session

from bot.core import model
from storage.models import (
    AwayRow,
    KrRow,
    MeasureRow,
    ObjectiveRow,
    PersonRow,
    WorkspaceRow,
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


def _person_by(column: Any) -> Select[tuple[str, str, str]]:
    """(workspace name, person key, workspace language) of the live person whose chat id in `column` is `user_id`."""
    return (
        select(WorkspaceRow.name, PersonRow.key, WorkspaceRow.language)
        .join(PersonRow, PersonRow.workspace_id == WorkspaceRow.id)
        .where(column == bindparam("user_id"), PersonRow.archived.is_(False))
        .order_by(PersonRow.id)
        .limit(1)
    )


_PERSON_BY_CHAT_ID = {"slack": _person_by(PersonRow.slack_id), "feishu": _person_by(PersonRow.feishu_id)}  # built once


def person_by_chat_id(*, connection: Connection, platform: str, user_id: str) -> tuple[str, str, str] | None:
    """(workspace name, person key, workspace language) of a Slack or Feishu user id, or None."""
    row = connection.execute(_PERSON_BY_CHAT_ID[platform], {"user_id": user_id}).first()
    return (row[0], row[1], row[2]) if row else None


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
