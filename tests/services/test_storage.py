"""The schema: migrations and models agree, on SQLite and PostgreSQL; times come back as the same instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select

from bot.app import App
from storage.db import alembic_config
from storage.models import Base, CheckinRow


def test_models_and_migrations_agree(app: App) -> None:
    """After `upgrade head` the database has exactly the tables and columns the models declare."""
    with app.uow.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_a_model_change_without_a_revision_is_caught(app: App) -> None:
    """The comparison above can fail: a column the migrations never created shows up as a difference."""
    from sqlalchemy import Column, Integer, MetaData, Table

    extended = MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(extended)
    Table("checkins", extended, Column("mood", Integer), extend_existing=True)
    with app.uow.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, extended)
    assert any(diff[0] == "add_column" and diff[3].name == "mood" for diff in differences)


def test_downgrade_to_base_and_back(app: App) -> None:
    """Every revision can be undone and redone."""
    config = alembic_config(engine=app.uow.engine)
    command.downgrade(config, "base")
    assert "checkins" not in inspect(app.uow.engine).get_table_names()
    command.upgrade(config, "head")
    assert "checkins" in inspect(app.uow.engine).get_table_names()


@pytest.mark.parametrize("offset_hours", [0, 2, -5, 8])
def test_times_come_back_as_the_same_instant(example: App, offset_hours: int) -> None:
    """An aware time stored in any zone reads back as the same instant, in UTC, on both databases."""
    moment = datetime(2026, 10, 25, 2, 30, tzinfo=timezone(timedelta(hours=offset_hours)))
    with example.uow.begin() as session:
        row = CheckinRow(workspace_id=1, cycle_id=1, code="KR2", person_key="chen", at=moment, source="test")
        session.add(row)
    with example.uow.begin() as session:
        stored = session.scalar(select(CheckinRow.at).where(CheckinRow.source == "test"))
    assert stored == moment
    assert stored.tzinfo == UTC


def test_naive_times_are_refused(example: App) -> None:
    """A naive datetime never reaches the database, where its meaning would be lost."""
    from sqlalchemy.exc import StatementError

    with pytest.raises(StatementError), example.uow.begin() as session:
        session.add(CheckinRow(workspace_id=1, cycle_id=1, code="KR2", person_key="chen", at=datetime(2026, 10, 1)))
