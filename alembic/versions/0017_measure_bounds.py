"""Measures' min:/max: bounds (a forecast and its range are held within them)

Revision ID: 0016_bounds
Revises: 0015_web
Create Date: 2026-12-08 03:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_bounds"
down_revision: str | None = "0016_ask_comment"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column("measures", sa.Column("bounds", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Revert this revision: the column dropped in place (SQLite 3.35+ and PostgreSQL), never by copying the table,
    whose drop would take its check-ins' values with it (ON DELETE CASCADE)."""
    op.drop_column("measures", "bounds")
