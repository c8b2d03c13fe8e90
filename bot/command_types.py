"""The commands the chat grammar produces: plain data that every edge and service shares."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Help:
    """`/kr` or `/kr help`: list the commands."""


@dataclass(frozen=True)
class MeasureValue:
    """One value as typed; `measure=None` means the first measure of the KR or objective."""

    measure: str | None
    text: str


@dataclass(frozen=True)
class Update:
    """`/kr update`: a check-in; `code=None` asks for the form."""

    code: str | None
    values: tuple[MeasureValue, ...] = ()
    note: str | None = None
    next_step: str | None = None
    risk: str | None = None
    asks: tuple[str, ...] = ()
    confidence: int | None = None  # `confidence: 7` / `信心：7`: the owner's call, 0–10


@dataclass(frozen=True)
class ListKrs:
    """`/kr list`: the sender's KRs with progress."""


@dataclass(frozen=True)
class StatusOf:
    """`/kr status [CODE]`: progress, forecast and last notes of one goal, or of all."""

    code: str | None = None


@dataclass(frozen=True)
class Report:
    """`/kr report`: a private preview of the next digest."""


@dataclass(frozen=True)
class Paths:
    """`/kr paths`: the path ranking."""


@dataclass(frozen=True)
class Matrix:
    """`/kr matrix`: the control × impact matrix."""


@dataclass(frozen=True)
class Plan:
    """`/kr plan CODE`: the backward plan of one KR."""

    code: str


@dataclass(frozen=True)
class TaskDone:
    """`/kr done CODE TASK`: mark a KR's task done (by its title, the start of it, or its number in the plan)."""

    code: str
    task: str


@dataclass(frozen=True)
class GoalEdit:
    """One goal edit: `field` is one of FIELDS; `measure=None` means the goal's first measure (or the goal itself)."""

    measure: str | None
    field: str
    text: str


@dataclass(frozen=True)
class Change:
    """`/kr change CODE field=value … reason: …`: a logged goal change."""

    code: str
    changes: tuple[GoalEdit, ...]
    reason: str | None = None
    insist: bool = False  # the command ends with `!`: a target may cross the baseline (reverse the goal)


@dataclass(frozen=True)
class Away:
    """`/kr away START..END`: no prompts on those days; both None means clear the absence."""

    start: date | None
    end: date | None


Command = Help | Update | ListKrs | StatusOf | Report | Paths | Matrix | Plan | Change | TaskDone | Away
