"""Slack uninstalls remembered with one SLACK_BOT_TOKEN (slack_uninstalls): a restart on the same token sends nothing there

Revision ID: 0013_uninstalls
Revises: 0012
Create Date: 2026-12-08 03:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_uninstalls"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "slack_uninstalls",
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("token_sha256", name=op.f("pk_slack_uninstalls")),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("slack_uninstalls")
