"""The starter OKR file of `krbot init`: the shipped example team, moved to the quarter holding a given day."""

from __future__ import annotations

import re
from datetime import date

from bot.core.quarters import moved, quarter_name, quarters_between
from bot.resources import resource_dir

EXAMPLE_QUARTER = date(2026, 10, 1)  # the shipped example's cycle: 2026-Q4
_DATE = re.compile(r"(?<![0-9])(\d{4})-(\d{2})-(\d{2})(?![0-9])")
_CYCLE_NAME = re.compile(r"(?<![0-9])\d{4}-Q[1-4](?![0-9])")
_QUARTER_WORD = re.compile(r"(?<![0-9A-Za-z])Q4(?![0-9])")  # "Q4 new-product sales", "Q4首月"


def starter_okrs(*, lang: str, today: date) -> str:
    """The example OKR file in `lang` with every date moved by whole quarters into the quarter holding `today`, and
    its quarter's name (the cycle `2026-Q4`, the titles' `Q4`) with it; comments and layout as shipped."""
    text = (resource_dir(name="examples") / f"q4-europe.{lang}.yaml").read_text(encoding="utf-8")
    quarters = quarters_between(start=EXAMPLE_QUARTER, day=today)
    name = quarter_name(day=today)

    def shifted(match: re.Match[str]) -> str:
        day = date(int(match[1]), int(match[2]), int(match[3]))
        return moved(day=day, quarters=quarters).isoformat()

    text = _CYCLE_NAME.sub(name, _DATE.sub(shifted, text))
    return "".join(line if line.lstrip().startswith("#") else _QUARTER_WORD.sub(name.split("-")[1], line)
                   for line in text.splitlines(keepends=True))
