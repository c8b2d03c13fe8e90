"""Alembic environment: runs krbot's migrations on the engine the app hands over (or the configured URL)."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine

from storage.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    """Run migrations online, in one transaction, batch mode for SQLite's ALTER limits."""
    url = os.environ.get("KRBOT_DATABASE_URL") or config.get_main_option("sqlalchemy.url")
    engine = config.attributes.get("engine") or create_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations()
