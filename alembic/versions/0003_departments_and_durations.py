"""departments and shared KRs' contributors; task durations

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 20:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.add_column(sa.Column("department", sa.String(length=100), nullable=True))
    with op.batch_alter_table("krs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("contributors", sa.JSON(), nullable=False, server_default="{}"))
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("duration_days", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_column("duration_days")
    with op.batch_alter_table("krs", schema=None) as batch_op:
        batch_op.drop_column("contributors")
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_column("department")
