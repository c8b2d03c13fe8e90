"""The OKR file out: the current cycle's stored tree written as the file `krbot import` reads, with its revision."""

from __future__ import annotations

from datetime import datetime

from bot.okrfile.writing import write_okr_file
from bot.services.context import load_scope
from storage import repository
from storage.db import UnitOfWork


def export_okr_file(*, uow: UnitOfWork, at: datetime, workspace: str | None = None) -> str:
    """The OKR file as it stands now (the current cycle at `at`), with the workspace's revision."""
    with uow.snapshot() as session:
        scope = load_scope(session=session, workspace=workspace, at=at)
        revision = repository.current_revision(session=session, workspace_id=scope.workspace.id)
    return write_okr_file(okrs=scope.okrs, revision=revision)
