"""How the data sources of a cycle's measures last went, read for the digest's freshness marks."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.freshness import PullStatus
from storage.models import MeasureRow, SourcePullRow


def pull_statuses(*, session: Session, cycle_id: int) -> dict[tuple[str, str], PullStatus]:
    """The last good pull and the last failure of every sourced measure of the cycle, by (code, name), in one query."""
    rows = session.execute(
        select(
            MeasureRow.code,
            MeasureRow.name,
            SourcePullRow.ok_at,
            SourcePullRow.value,
            SourcePullRow.failed_at,
            SourcePullRow.error,
        )
        .join(SourcePullRow, SourcePullRow.measure_id == MeasureRow.id)
        .where(MeasureRow.cycle_id == cycle_id, MeasureRow.archived.is_(False))
    )
    return {
        (code, name): PullStatus(code=code, measure=name, ok_at=ok_at, value=value, failed_at=failed_at, error=error)
        for code, name, ok_at, value, failed_at, error in rows
    }
