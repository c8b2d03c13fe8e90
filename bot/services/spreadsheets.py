"""Check-in history in from a spreadsheet: delimiter sniffed, numbers read in the locale, every row or none."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from bot.core import model
from bot.core.asks import classify_ask, split_asks
from bot.core.cells import unescape_cell
from bot.core.errors import KrbotError, NotAllowed
from bot.core.numbers import NumberStyle
from bot.core.rules import check_checkin_day, find_measure, may_update
from bot.core.text import clean_text
from bot.locales import check_locale, number_style
from bot.services.checkins import read_measure
from bot.services.context import Scope, load_scope, owned_target, parse_moment, person_in
from storage import repository
from storage.db import UnitOfWork
from storage.models import (
    AskRow,
    CheckinRow,
    CheckinValueRow,
)

CSV_COLUMNS = ("code", "measure", "value", "person", "at")


CSV_OPTIONAL = ("note", "next", "ask", "risk")


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

    The delimiter is sniffed; numbers are read in `locale`, else the workspace's; a row repeating another's
    code, measure and time is refused with both line numbers."""
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
        tz = scope.workspace.timezone
        style = _style(scope=scope, locale=locale)
        seen: dict[tuple[str, str, datetime], int] = {}
        groups: dict[tuple[str, str, datetime], dict[str, Any]] = {}
        targets: dict[str, model.KeyResult | model.Objective] = {}
        rows = 0
        for line_number, raw in enumerate(reader, start=2):
            # A cell the export escaped (`'=…`) reads back as the text it was.
            row = {k.strip(): unescape_cell(text=(v or "").strip()) for k, v in raw.items() if k is not None}
            rows += 1
            try:
                person = person_in(scope, row["person"])
                code = row["code"].upper()
                target = targets.get(code) or owned_target(scope, code, person)
                targets[code] = target
                if not may_update(target=target, person=person):
                    owner = scope.okrs.people.get(target.owner)
                    raise NotAllowed(
                        "checkin.not_owner", code=code, owner=owner.name if owner else target.owner
                    )
                at = parse_moment(text=row["at"], timezone=tz)
                check_checkin_day(day=scope.local(at).date(), cycle=scope.okrs.cycle)
                group = groups.setdefault((code, person.key, at), {"values": {}, "asks": []})
                if row["measure"] or row["value"]:
                    measure = find_measure(target=target, name=row["measure"] or None)
                    key = (target.code, measure.name, at)
                    if key in seen:
                        raise KrbotError("csv.duplicate", first=seen[key], code=target.code, measure=measure.name)
                    seen[key] = line_number
                    group["values"][measure.name] = read_measure(measure, row["value"], style=style, check_range=True)
                for column, attribute in (("note", "note"), ("next", "next_step"), ("risk", "risk")):
                    if row.get(column):
                        group[attribute] = row[column]
                if row.get("ask"):
                    for part in split_asks(text=row["ask"]):
                        group["asks"].append(classify_ask(text=part, style=style))
            except KrbotError as error:
                raise KrbotError(
                    "csv.row", file=filename, line=line_number, inner=error.key, **error.params
                ) from None
        _bulk_insert(session=session, scope=scope, groups=groups)
    return {"rows": rows, "checkins": len(groups)}


def _bulk_insert(
    *, session: Session, scope: Scope, groups: dict[tuple[str, str, datetime], dict[str, Any]]
) -> None:
    if not groups:
        return
    keys = list(groups)
    ids = session.scalars(
        insert(CheckinRow).returning(CheckinRow.id, sort_by_parameter_order=True),
        [
            {
                "workspace_id": scope.workspace.id,
                "cycle_id": scope.cycle.id,
                "code": code,
                "person_key": person,
                "at": at,
                "note": groups[(code, person, at)].get("note"),
                "next_step": groups[(code, person, at)].get("next_step"),
                "risk": groups[(code, person, at)].get("risk"),
                "source": "import",
            }
            for code, person, at in keys
        ],
        execution_options={"render_nulls": True},  # one batch for every row, not one per pattern of NULLs
    ).all()
    values = []
    asks = []
    for checkin_id, key in zip(ids, keys, strict=True):
        code, person, at = key
        for name, value in groups[key]["values"].items():
            values.append(
                {
                    "checkin_id": checkin_id,
                    "measure_id": scope.loaded.measure_ids[(code, name)],
                    "value": value,
                }
            )
        for classified in groups[key]["asks"]:
            asks.append(
                {
                    "workspace_id": scope.workspace.id,
                    "cycle_id": scope.cycle.id,
                    "checkin_id": checkin_id,
                    "code": code,
                    "person_key": person,
                    "kind": classified.kind.value,
                    "amount": classified.amount,
                    "unit": classified.unit,
                    "text": classified.text,
                    "status": model.AskStatus.OPEN.value,
                    "at": at,
                }
            )
    if values:
        session.execute(insert(CheckinValueRow), values)
    if asks:
        session.execute(insert(AskRow), asks)
    repository.tell_checkins(session=session, loaded=scope.loaded, source="import", stored=[
        (checkin_id, model.Checkin(code=code, person=person, at=at, values=groups[(code, person, at)]["values"],
                                   note=groups[(code, person, at)].get("note"),
                                   next_step=groups[(code, person, at)].get("next_step"),
                                   risk=groups[(code, person, at)].get("risk")))
        for checkin_id, (code, person, at) in zip(ids, keys, strict=True)
    ])


def _style(*, scope: Scope, locale: str | None) -> NumberStyle:
    """The number style a spreadsheet is read in: `--locale`, else the workspace's."""
    return number_style(locale=check_locale(tag=locale) if locale else scope.okrs.workspace.number_locale)
