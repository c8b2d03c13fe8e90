"""The owner's confidence beside the trend (CONTRACT §6, §7): read as typed, the latest kept, held against the status.

Confidence is the owner's own call on reaching the KR's target by its deadline, 0–10. The words `on track` /
`at risk` / `off track` (`有把握` / `有风险` / `没把握`) are read as 8, 5 and 2. It disagrees with the trend when it is
7 or more while the KR is off track, or 3 or less while it is on track. The final report holds each owner's
confidence four weeks before the deadline against the result (calibration).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from bot.core.errors import KrbotError
from bot.core.model import Checkin, Status
from bot.core.units import fold, normalise

HIGHEST = 10
SURE_FROM = 7  # said 7 or more: the owner expects to make it
DOUBT_UNTIL = 3  # said 3 or less: the owner expects to miss
CALIBRATION_DAYS = 28  # the final report reads the confidence four weeks before the deadline
WORDS: dict[str, int] = {
    "ontrack": 8,
    "atrisk": 5,
    "offtrack": 2,
    "有把握": 8,
    "有风险": 5,
    "没把握": 2,
    "正常": 8,
    "落后": 2,
}
_SCORE = re.compile(r"(\d{1,2})(?:\s*/\s*10)?")


def read_confidence(*, text: str) -> int:
    """A confidence as typed: `7`, `7/10`, `on track` / `at risk` / `off track` (`有把握` / `有风险` / `没把握`)."""
    typed = normalise(text).rstrip("。.!！")
    word = WORDS.get(fold(typed))
    if word is not None:
        return word
    match = _SCORE.fullmatch(typed)
    if match is None or int(match[1]) > HIGHEST:
        raise KrbotError("confidence.unreadable", word=typed or text)
    return int(match[1])


@dataclass(frozen=True, slots=True)
class Said:
    """The owner's latest confidence in a KR: the score and when it was given."""

    score: int
    at: datetime


def latest_confidence(*, checkins: Sequence[Checkin], until: datetime | None = None) -> Said | None:
    """The latest confidence among one code's check-ins (time-ordered), at or before `until` when given."""
    for checkin in reversed(checkins):
        if checkin.confidence is None or (until is not None and checkin.at > until):
            continue
        return Said(score=checkin.confidence, at=checkin.at)
    return None


def latest_by_code(*, checkins: Iterable[Checkin]) -> dict[str, int]:
    """Each code's latest confidence among time-ordered check-ins."""
    said: dict[str, int] = {}
    for checkin in checkins:
        if checkin.confidence is not None:
            said[checkin.code] = checkin.confidence
    return said


def disagrees(*, score: int, status: Status) -> bool:
    """True when the owner's confidence and the trend's status say opposite things."""
    return (score >= SURE_FROM and status is Status.OFF_TRACK) or (score <= DOUBT_UNTIL and status is Status.ON_TRACK)


def gap(*, score: int, forecast: float | None) -> float:
    """How far the owner's call lies from the trend: |score/10 − forecast completion| (0 without a forecast)."""
    return 0.0 if forecast is None else abs(score / HIGHEST - forecast)


def calibration_moment(*, deadline: date, tz: object) -> datetime:
    """Four weeks before the end of the deadline day, on the workspace's clock."""
    end = datetime.combine(deadline + timedelta(days=1), time(), tzinfo=tz)  # type: ignore[arg-type]
    return end - timedelta(days=CALIBRATION_DAYS)


@dataclass(frozen=True, slots=True)
class Calibrated:
    """One KR of an owner in the final report: what they said four weeks before its deadline, what it reached."""

    code: str
    score: int
    reached: float | None  # the KR's result as a completion
    met: bool


@dataclass(frozen=True, slots=True)
class Calibration:
    """One owner's calls against the results, KR by KR."""

    owner: str
    krs: tuple[Calibrated, ...]


def calibrations(*, items: Iterable[tuple[str, Calibrated]]) -> tuple[Calibration, ...]:
    """(owner, calibrated KR) pairs gathered per owner, in the order the owners first appear."""
    owners: dict[str, list[Calibrated]] = {}
    for owner, item in items:
        owners.setdefault(owner, []).append(item)
    return tuple(Calibration(owner=owner, krs=tuple(krs)) for owner, krs in owners.items())
