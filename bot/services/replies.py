"""What an action returns to its edge: the reply, the notices to others, an import's outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.core import model
from bot.core.digest import Digest
from bot.core.lint import Finding


@dataclass(frozen=True, slots=True)
class Notice:
    """Someone else to tell about what just happened: a person key, a catalog key and its words."""

    person: str
    key: str
    params: dict[str, Any] = field(default_factory=dict)
    name: str = ""


@dataclass(frozen=True, slots=True)
class Reply:
    """What an edge shows the user (a catalog key and its data, or a digest), and whom else to tell."""

    key: str
    lang: str
    params: dict[str, Any] = field(default_factory=dict)
    ok: bool = True
    digest: Digest | None = None
    notices: tuple[Notice, ...] = ()


@dataclass(frozen=True, slots=True)
class ImportOutcome:
    """What `krbot import` did (or would do, on a dry run), and the SMART lint of the file."""

    workspace: str
    language: str
    created: dict[str, int]
    updated: dict[str, int]
    archived: dict[str, int]
    changes: list[model.GoalChange]
    findings: list[Finding]
    dry_run: bool


@dataclass(frozen=True, slots=True)
class Escalation:
    """A stale KR and the accountable person to tell about it."""

    code: str
    title: str
    owner: str
    person: model.Person
    last_at: datetime | None
    days: int
