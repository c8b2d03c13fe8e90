"""An ask's decision may carry the decider's comment (made on the web's /asks page, told to the asker)

Revision ID: 0016_ask_comment
Revises: 0015_web
Create Date: 2026-12-08 03:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_ask_comment"
down_revision: str | None = "0015_web"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("asks") as batch:
        batch.add_column(sa.Column("decision_comment", sa.Text(), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("asks") as batch:
        batch.drop_column("decision_comment")
