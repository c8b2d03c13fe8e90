"""Each measure's last value per calendar day (day_values), reckoned from the values already stored

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 11:10:00
"""

from collections.abc import Sequence
from datetime import UTC
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHUNK = 500

workspaces = sa.table("workspaces", sa.column("id", sa.Integer), sa.column("timezone", sa.String))
checkins = sa.table("checkins", sa.column("id", sa.Integer), sa.column("workspace_id", sa.Integer),
                    sa.column("at", sa.DateTime))
checkin_values = sa.table("checkin_values", sa.column("checkin_id", sa.Integer), sa.column("measure_id", sa.Integer),
                          sa.column("value", sa.Float))
day_values = sa.table("day_values", sa.column("measure_id", sa.Integer), sa.column("day", sa.Date),
                      sa.column("at", sa.DateTime), sa.column("checkin_id", sa.Integer), sa.column("value", sa.Float))


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "day_values",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("measure_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("checkin_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["checkin_id"], ["checkins.id"], name=op.f("fk_day_values_checkin_id_checkins"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["measure_id"], ["measures.id"], name=op.f("fk_day_values_measure_id_measures"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_day_values")),
        sa.UniqueConstraint("measure_id", "day", name=op.f("uq_day_values_measure_id")),
    )
    with op.batch_alter_table("day_values", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_day_values_checkin_id"), ["checkin_id"], unique=False)
    connection = op.get_bind()
    for workspace_id, timezone in connection.execute(sa.select(workspaces.c.id, workspaces.c.timezone)).all():
        zone = ZoneInfo(timezone)
        latest: dict[tuple[int, object], tuple[object, int, float]] = {}
        rows = connection.execute(
            sa.select(checkin_values.c.checkin_id, checkin_values.c.measure_id, checkins.c.at, checkin_values.c.value)
            .join(checkins, checkins.c.id == checkin_values.c.checkin_id)
            .where(checkins.c.workspace_id == workspace_id)
        )
        for checkin_id, measure_id, at, value in rows:  # naive UTC as stored
            key = (measure_id, at.replace(tzinfo=UTC).astimezone(zone).date())
            held = latest.get(key)
            if held is None or (at, checkin_id) > held[:2]:
                latest[key] = (at, checkin_id, value)
        items = [{"measure_id": measure_id, "day": day, "at": at, "checkin_id": checkin_id, "value": value}
                 for (measure_id, day), (at, checkin_id, value) in latest.items()]
        for start in range(0, len(items), CHUNK):
            connection.execute(sa.insert(day_values), items[start:start + CHUNK])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("day_values")
