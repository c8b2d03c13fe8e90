"""A sourced measure's pulls for tests: a synced check-in and a `source_pulls` row written through the real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from bot.app import App
from bot.core import model
from bot.services.context import load_scope
from storage import repository
from storage.models import MeasureRow, SourcePullRow
from tests.fakes.surfaces import said

AT = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)  # a Friday: the week is Nov 13 16:00 .. Nov 20 16:00
SYNCED_AT = AT - timedelta(days=3, hours=2)
FAILED_AT = AT - timedelta(hours=2)
SOURCE = {"sql": "SELECT avg(cvr) FROM visits", "database_env": "BI_URL"}


def synced_with_pull(app: App, *, error: str | None, failed: bool = True) -> None:
    """KR2's conversion pulled from a source 3 days ago (a synced check-in), and its last pull's outcome since."""
    with app.uow.begin() as session:
        scope = load_scope(session=session, workspace=None, at=AT)
        measure_id = scope.loaded.measure_ids[("KR2", "新客转化率")]
        session.execute(update(MeasureRow).where(MeasureRow.id == measure_id).values(source=SOURCE))
        checkin = model.Checkin(code="KR2", person="chen", at=SYNCED_AT, values={"新客转化率": 1.7})
        repository.add_checkin(session=session, loaded=scope.loaded, checkin=checkin, source=model.SYNCED)
        session.add(
            SourcePullRow(
                workspace_id=scope.workspace.id, measure_id=measure_id, tried_at=FAILED_AT, ok_at=SYNCED_AT,
                value=1.7, failed_at=FAILED_AT if failed else None, error=error if failed else None,
            )
        )


def typed(app: App) -> None:
    """ACOS typed 10 days ago (older than the week), KR4's coverage typed yesterday (inside it)."""
    assert said(app, person="chen", text="/kr update KR2 ACOS=23%", at=AT - timedelta(days=10)).ok
    assert said(app, person="chen", text="/kr update KR4 竞品监控覆盖率=80%", at=AT - timedelta(days=1)).ok
