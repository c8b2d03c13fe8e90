"""Locales: a workspace's and each person's BCP 47 locale, deciding how their numbers are read and written

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 04:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("workspaces", schema=None) as batch_op:
        batch_op.add_column(sa.Column("locale", sa.String(length=35), nullable=True))
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.add_column(sa.Column("locale", sa.String(length=35), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_column("locale")
    with op.batch_alter_table("workspaces", schema=None) as batch_op:
        batch_op.drop_column("locale")
