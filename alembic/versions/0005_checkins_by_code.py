"""Check-ins found by code: an index so that one KR's history is read without scanning the cycle's

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 04:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_checkins_cycle_code_at", "checkins", ["cycle_id", "code", "at"])


def downgrade() -> None:
    op.drop_index("ix_checkins_cycle_code_at", table_name="checkins")
