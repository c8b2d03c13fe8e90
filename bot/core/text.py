"""Text as users send it, made storable and sendable: no NUL or other control bytes, no lone surrogate halves."""

from __future__ import annotations

import re

# C0 controls but tab, newline and carriage return; DEL; C1 controls. PostgreSQL refuses NUL; none of them shows.
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATES = re.compile("[\ud800-\udfff]")  # half of a pair: UTF-8 cannot encode it, so no database or API takes it


def clean_text(*, text: str) -> str:
    """The text with control characters removed and each lone surrogate replaced by U+FFFD (�)."""
    return _SURROGATES.sub("\ufffd", _CONTROLS.sub("", text))


def clean_optional(*, text: str | None) -> str | None:
    """clean_text for a field that may be absent."""
    return None if text is None else clean_text(text=text)
