"""The owner's confidence in the digest (CONTRACT §7): beside each KR line, the largest disagreement with the trend
for the conclusion, and each owner's calibration in the final report."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from bot.core import model
from bot.core.confidence import Calibrated, Calibration, calibration_moment, calibrations, disagrees, gap
from bot.core.confidence import latest_confidence as latest
from bot.core.digest_lists import name_of
from bot.core.digest_model import KrLine
from bot.core.progress import KrProgress


def kr_confidence(*, history: Sequence[model.Checkin], status: model.Status) -> tuple[int | None, bool]:
    """A KR's latest confidence this cycle, and whether it disagrees with the KR's status."""
    said = latest(checkins=history)
    if said is None:
        return None, False
    return said.score, disagrees(score=said.score, status=status)


def largest_disagreement(*, lines: Sequence[KrLine]) -> KrLine | None:
    """The KR line whose owner's confidence lies farthest from its trend, among those that disagree (ties: first)."""
    best: KrLine | None = None
    for line in lines:
        if not line.disagrees or line.confidence is None:
            continue
        if best is None or gap(score=line.confidence, forecast=line.forecast_completion) > gap(
            score=best.confidence or 0, forecast=best.forecast_completion
        ):
            best = line
    return best


def calibration(
    *, okrs: model.Okrs, krs: Sequence[KrProgress], history: Mapping[str, Sequence[model.Checkin]], as_of: datetime
) -> tuple[Calibration, ...]:
    """Per owner, each KR's confidence four weeks before its deadline against its result (KRs with such a call)."""
    items = []
    for progress in krs:
        if not progress.measures:
            continue
        deadline = max(m.deadline for m in progress.measures)
        said = latest(checkins=history.get(progress.kr.code, ()), until=calibration_moment(deadline=deadline,
                                                                                          tz=as_of.tzinfo))
        if said is None:
            continue
        reached = progress.forecast_completion if progress.forecast_completion is not None else progress.completion
        items.append((
            name_of(okrs, progress.kr.owner),
            Calibrated(code=progress.kr.code, score=said.score, reached=reached,
                       met=progress.status is model.Status.MET),
        ))
    return calibrations(items=items)
