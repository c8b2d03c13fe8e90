"""What an action returns to its edge: the reply, the notices to others, an import's outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.core import model
from bot.core.digest import Digest
from bot.core.lint import Finding
from storage.renames import ArchivedHistory


@dataclass(frozen=True, slots=True)
class Notice:
    """Someone else to tell about what just happened: a person key, a catalog key and its words."""

    person: str
    key: str
    params: dict[str, Any] = field(default_factory=dict)
    name: str = ""
    locale: str | None = None  # BCP 47: how the person told writes numbers (None: the language's way)


class Shows(StrEnum):
    """What kind of answer a reply is, so that an edge picks its surface without reading catalog keys."""

    TEXT = "text"  # words only
    FORM = "form"  # open the check-in form (Slack modal, Feishu card) on the reply's rows
    CHART = "chart"  # words, and the priority matrix as a picture where the platform shows images
    DIGEST = "digest"  # a header, then the digest on the platform's own surface
    DECISION = "decision"  # this request decided an ask: the digest message and the asker are updated
    REPEAT = "repeat"  # the same request again: it was answered already, nothing more to show


@dataclass(frozen=True, slots=True)
class Reply:
    """What an edge shows the user (a catalog key and its data, or a digest), and whom else to tell."""

    key: str
    lang: str
    params: dict[str, Any] = field(default_factory=dict)
    ok: bool = True
    digest: Digest | None = None
    notices: tuple[Notice, ...] = ()
    shows: Shows = Shows.TEXT
    locale: str | None = None  # BCP 47: how the reader writes numbers (None: the language's way)


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
    history: list[ArchivedHistory] = field(default_factory=list)  # archived although they have check-ins


@dataclass(frozen=True, slots=True)
class Escalation:
    """A stale KR and the accountable person to tell about it."""

    code: str
    title: str
    owner: str
    person: model.Person
    last_at: datetime | None
    days: int


@dataclass(frozen=True, slots=True)
class DigestRun:
    """What the weekly digest job sends, composed once: the digest, escalations and overdue tasks."""

    digest: Digest
    escalations: tuple[Escalation, ...]
    overdue: tuple[tuple[model.Person, model.KeyResult, model.Task], ...]
