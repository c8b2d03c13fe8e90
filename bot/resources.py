"""Where the shipped data lives: inside the wheel (bot/_data) or, in a source checkout, the repo root."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_SOURCE_ROOT = _PACKAGE.parent


def resource_dir(*, name: str) -> Path:
    """The folder `templates`, `alembic` or `examples`, from the installed wheel or the source tree."""
    packaged = _PACKAGE / "_data" / name
    if packaged.is_dir():
        return packaged
    source = _SOURCE_ROOT / name
    if source.is_dir():
        return source
    raise FileNotFoundError(f"krbot data folder {name!r} is missing from this installation")
