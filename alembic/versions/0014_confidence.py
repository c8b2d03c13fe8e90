"""The owner's confidence per check-in (0–10), kept beside the numbers and held against the trend

Revision ID: 0014_confidence
Revises: 0012
Create Date: 2026-12-08 03:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_confidence"
down_revision: str | None = "0013_uninstalls"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column("checkins", sa.Column("confidence", sa.Integer(), nullable=True))


def downgrade() -> None:
    """Revert this revision: the column dropped in place (SQLite 3.35+ and PostgreSQL), never by copying the table,
    whose drop would take its check-ins' values with it (ON DELETE CASCADE)."""
    op.drop_column("checkins", "confidence")
