"""Check-in history in from a spreadsheet: delimiter sniffed, numbers read in the locale, every row or none."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import datetime

from bot import commands
from bot.core import model
from bot.core.cells import unescape_cell
from bot.core.confidence import read_confidence
from bot.core.errors import KrbotError
from bot.core.numbers import NumberStyle
from bot.core.text import clean_text
from bot.locales import check_locale, number_style
from bot.services.checkins import checkin_for
from bot.services.context import Scope, load_scope, owned_target, parse_moment, person_in
from storage import repository
from storage.db import UnitOfWork

CSV_COLUMNS = ("code", "measure", "value", "person", "at")


CSV_OPTIONAL = ("note", "next", "ask", "risk", "confidence")


IMPORT_SOURCE = "import"  # what a check-in from a spreadsheet is marked as

CSV_IGNORED = ("period", "origin")  # written by `krbot export --format csv`, so an export reads back in


def sniff_delimiter(*, text: str) -> str:
    """The delimiter of a spreadsheet export: `,` `;` or tab (csv.Sniffer, checked against the header)."""
    first = text.split("\n", 1)[0]
    try:
        sniffed = csv.Sniffer().sniff(text[:4096], delimiters=",;\t").delimiter
    except csv.Error:
        sniffed = ","
    if all(column in [h.strip() for h in first.split(sniffed)] for column in CSV_COLUMNS):
        return sniffed
    return max(",;\t", key=lambda sign: sum(h.strip() in CSV_COLUMNS for h in first.split(sign)))


def import_checkins(
    *,
    uow: UnitOfWork,
    text: str,
    filename: str,
    workspace: str | None = None,
    now: datetime,
    locale: str | None = None,
) -> dict[str, int]:
    """History from a CSV (code,measure,value,person,at[,note,next,ask,risk]): every row or none.

    The delimiter is sniffed; numbers are read in `locale` for every row, else in each row's person's locale (theirs,
    else the workspace's); a row dated in the future is refused like a typed one; a row repeating another's code,
    measure and time is refused with both line numbers."""
    body = clean_text(text=text).lstrip("\ufeff")
    reader = csv.DictReader(io.StringIO(body), delimiter=sniff_delimiter(text=body))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        raise KrbotError(
            "csv.columns", file=filename, missing=", ".join(missing), expected=",".join(CSV_COLUMNS)
        )
    unknown = [h for h in header if h not in CSV_COLUMNS + CSV_OPTIONAL + CSV_IGNORED]
    if unknown:
        raise KrbotError(
            "csv.unknown_column",
            file=filename,
            word=unknown[0],
            expected=",".join(CSV_COLUMNS + CSV_OPTIONAL),
        )
    with uow.begin() as session:
        scope = load_scope(session=session, workspace=workspace, at=now)
        style = number_style(locale=check_locale(tag=locale)) if locale else None
        seen: dict[tuple[str, str, datetime], int] = {}
        groups: dict[tuple[str, str, datetime], repository.NewCheckin] = {}
        targets: dict[str, model.KeyResult | model.Objective] = {}
        rows = 0
        for line_number, raw in enumerate(reader, start=2):
            # A cell the export escaped (`'=…`) reads back as the text it was.
            row = {k.strip(): unescape_cell(text=(v or "").strip()) for k, v in raw.items() if k is not None}
            rows += 1
            try:
                checkin, asks = _row_checkin(scope=scope, row=row, style=style, targets=targets, now=now)
                for name in checkin.values:
                    key = (checkin.code, name, checkin.at)
                    if key in seen:
                        raise KrbotError("csv.duplicate", first=seen[key], code=checkin.code, measure=name)
                    seen[key] = line_number
            except KrbotError as error:
                raise KrbotError(
                    "csv.row", file=filename, line=line_number, inner=error.key, **error.params
                ) from None
            group = (checkin.code, checkin.person, checkin.at)
            groups[group] = _merged(earlier=groups.get(group), checkin=checkin, asks=asks)
        repository.add_checkins(session=session, loaded=scope.loaded, items=list(groups.values()))
    return {"rows": rows, "checkins": len(groups)}


def _row_checkin(
    *, scope: Scope, row: dict[str, str], style: NumberStyle | None,
    targets: dict[str, model.KeyResult | model.Objective], now: datetime,
) -> tuple[model.Checkin, list[model.Ask]]:
    """One spreadsheet row through the one check-in builder (one value, the words, the ask), its code looked up once;
    its numbers read in `style`, else in the row's person's locale."""
    person = person_in(scope, row["person"])
    code = row["code"].upper()
    target = targets.get(code) or owned_target(scope, code, person)
    targets[code] = target
    typed = (commands.MeasureValue(measure=row["measure"] or None, text=row["value"]),) if row["measure"] or row["value"] else ()
    update = commands.Update(
        code=code, values=typed, note=row.get("note") or None, next_step=row.get("next") or None,
        risk=row.get("risk") or None, asks=(row["ask"],) if row.get("ask") else (),
        confidence=read_confidence(text=row["confidence"]) if row.get("confidence") else None,
    )
    at = parse_moment(text=row["at"], timezone=scope.workspace.timezone)
    return checkin_for(scope=scope, target=target, person=person, update=update, at=at, now=now, style=style)


def _merged(*, earlier: repository.NewCheckin | None, checkin: model.Checkin, asks: list[model.Ask]) -> repository.NewCheckin:
    """The rows of one check-in (same code, person and time) as one: their values, the last words given, every ask."""
    if earlier is None:
        return repository.NewCheckin(checkin=checkin, asks=asks, source=IMPORT_SOURCE)
    before = earlier.checkin
    merged = replace(
        before,
        values={**before.values, **checkin.values},
        note=checkin.note or before.note,
        next_step=checkin.next_step or before.next_step,
        risk=checkin.risk or before.risk,
        confidence=checkin.confidence if checkin.confidence is not None else before.confidence,
    )
    return repository.NewCheckin(checkin=merged, asks=[*earlier.asks, *asks], source=IMPORT_SOURCE)
