"""The OKR file (CONTRACT §5): YAML validated with pydantic, refusals located by line and field, turned into the domain."""

from __future__ import annotations

from bot.okrfile.domain import to_domain
from bot.okrfile.reading import file_language, load_yaml, parse_okr_file, refusals
from bot.okrfile.references import renames_in
from bot.okrfile.spec import (
    AchievableSpec,
    CycleSpec,
    KrSpec,
    MeasureSpec,
    ObjectiveSpec,
    OkrFile,
    PathSpec,
    PersonSpec,
    TaskSpec,
    WorkspaceSpec,
)

__all__ = [
    "AchievableSpec",
    "CycleSpec",
    "KrSpec",
    "MeasureSpec",
    "ObjectiveSpec",
    "OkrFile",
    "PathSpec",
    "PersonSpec",
    "TaskSpec",
    "WorkspaceSpec",
    "file_language",
    "load_yaml",
    "parse_okr_file",
    "refusals",
    "renames_in",
    "to_domain",
]
