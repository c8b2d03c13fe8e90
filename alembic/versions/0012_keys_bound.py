"""Idempotency-Keys bound to their holder, route and body (request_keys); hooks bound to the owner they were made for

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 23:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

hooks = sa.table("measure_hooks", sa.column("id", sa.Integer), sa.column("workspace_id", sa.Integer),
                 sa.column("code", sa.String), sa.column("owner_key", sa.String))
cycles = sa.table("cycles", sa.column("id", sa.Integer), sa.column("workspace_id", sa.Integer))
krs = sa.table("krs", sa.column("cycle_id", sa.Integer), sa.column("code", sa.String), sa.column("owner_key", sa.String))
objectives = sa.table("objectives", sa.column("cycle_id", sa.Integer), sa.column("code", sa.String),
                      sa.column("owner_key", sa.String))


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "request_keys",
        sa.Column("key_hash", sa.String(length=80), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("route", sa.String(length=200), nullable=False),
        sa.Column("body_sha256", sa.String(length=64), nullable=False),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key_hash", name=op.f("pk_request_keys")),
    )
    with op.batch_alter_table("measure_hooks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner_key", sa.String(length=100), nullable=True))
    connection = op.get_bind()
    for hook_id, workspace_id, code in connection.execute(sa.select(hooks.c.id, hooks.c.workspace_id, hooks.c.code)).all():
        owner = None
        for table in (krs, objectives):  # the code's owner in the newest cycle that has it: the one it stores for today
            owner = owner or connection.execute(
                sa.select(table.c.owner_key).join(cycles, cycles.c.id == table.c.cycle_id)
                .where(cycles.c.workspace_id == workspace_id, table.c.code == code)
                .order_by(cycles.c.id.desc()).limit(1)
            ).scalar()
        connection.execute(sa.update(hooks).where(hooks.c.id == hook_id).values(owner_key=owner))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("measure_hooks", schema=None) as batch_op:
        batch_op.drop_column("owner_key")
    op.drop_table("request_keys")
