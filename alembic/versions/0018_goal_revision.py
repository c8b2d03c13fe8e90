"""The goals' revision: a workspace number raised by every import that changes something and every goal change,
stamped on each goal change, so an exported OKR file knows which later changes it would undo

Revision ID: 0018_goal_revision
Revises: 0017_bounds
Create Date: 2026-12-08 04:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_goal_revision"
down_revision: str | None = "0017_bounds"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column("workspaces", sa.Column("revision", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("goal_changes", sa.Column("revision", sa.Integer(), nullable=True))


def downgrade() -> None:
    """Revert this revision: the columns dropped in place (SQLite 3.35+ and PostgreSQL), never by copying a table."""
    op.drop_column("goal_changes", "revision")
    op.drop_column("workspaces", "revision")
