"""CSV cells that a spreadsheet never runs as a formula (OWASP), and that read back to the text that was written."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

FORMULA_STARTS = "=+-@\t\r"
_NEEDS_QUOTE = re.compile(f"^'*[{re.escape(FORMULA_STARTS)}]")
_QUOTED = re.compile(f"^'+[{re.escape(FORMULA_STARTS)}]")


def escape_cell(*, value: Any) -> Any:
    """A text cell starting with = + - @ tab or CR gets a leading `'`; numbers, booleans and None stay as they are.

    Text that already starts with quotes before such a sign gets one more, so that reading it back is exact.
    """
    if isinstance(value, str) and _NEEDS_QUOTE.match(value):
        return "'" + value
    return value


def unescape_cell(*, text: str) -> str:
    """The text a cell held before `escape_cell`: one leading `'` removed where escaping added it."""
    return text[1:] if _QUOTED.match(text) else text


def escaped_row(*, row: Mapping[str, Any]) -> dict[str, Any]:
    """Every text cell of a CSV row escaped (numbers left as numbers: `-2.5` is a value, not a formula)."""
    return {key: escape_cell(value=value) for key, value in row.items()}
