"""`krbot demo`: the example quarter replayed week by week through the services, then the boss digest."""

from __future__ import annotations

import csv
import tempfile
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot import commands, services
from bot.app import build_app
from bot.core.digest import Digest
from bot.core.errors import KrbotError
from bot.i18n import error_message, translate
from bot.render import render_digest
from bot.resources import resource_dir

DIGEST_TIME = time(17, 0)


def _checkins_by_week(*, path: Path, zone: ZoneInfo) -> dict[datetime, list[commands.Update | tuple]]:
    """The example CSV grouped into check-ins, each filed under the Friday digest that follows it."""
    grouped: dict[tuple[str, str, str], dict] = {}
    with path.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            key = (row["code"], row["person"], row["at"])
            entry = grouped.setdefault(key, {"values": [], "note": None, "next": None, "risk": None, "asks": []})
            if row.get("value"):
                entry["values"].append(commands.MeasureValue(measure=row["measure"] or None, text=row["value"]))
            for column in ("note", "next", "risk"):
                if row.get(column):
                    entry[column] = row[column]
            if row.get("ask"):
                entry["asks"].append(row["ask"])
    weeks: dict[datetime, list] = defaultdict(list)
    for (code, person, at_text), entry in grouped.items():
        at = datetime.fromisoformat(at_text).replace(tzinfo=zone)
        friday = at.date() + timedelta(days=(4 - at.weekday()) % 7)
        update = commands.Update(
            code=code,
            values=tuple(entry["values"]),
            note=entry["note"],
            next_step=entry["next"],
            risk=entry["risk"],
            asks=tuple(entry["asks"]),
        )
        weeks[datetime.combine(friday, DIGEST_TIME, tzinfo=zone)].append((person, at, update))
    return dict(sorted(weeks.items()))


def _headlines(*, digest: Digest, lang: str, echo: Callable[[str], object], number: int, friday: datetime, checkins: int) -> None:
    """Each objective's headline of one Friday's digest, as the boss reads it first."""
    for section in digest.objectives:
        echo(
            translate(
                "demo.final" if section.final else "demo.week",
                lang=lang,
                number=number,
                day=translate("format.day", lang=lang, month=friday.month, day=friday.day, year=friday.year),
                checkins=checkins,
                code=section.code,
                completion=section.completion,
                forecast=section.forecast_completion,
                low=section.low_completion,
                high=section.high_completion,
                days=section.data_days,
                gap=section.gap,
                margin=section.margin,
                unit=section.headline_unit,
                status=section.status.value,
                risk=section.main_risk.code if section.main_risk else "",
            )
        )


def run_demo(*, lang: str, echo: Callable[[str], object], database_url: str | None = None) -> str:
    """Replay the example quarter into a fresh database, print each week's headline and the final digest."""
    folder = Path(tempfile.mkdtemp(prefix="krbot-demo-"))
    url = database_url or f"sqlite:///{folder / 'krbot-demo.db'}"
    app = build_app(database_url=url)
    examples = resource_dir(name="examples")
    okr_file = examples / f"q4-europe.{lang}.yaml"
    outcome = services.import_okrs(
        uow=app.uow, text=okr_file.read_text(encoding="utf-8"), filename=okr_file.name, at=datetime(2026, 9, 30, tzinfo=UTC)
    )
    zone = ZoneInfo(services.workspace_timezone(uow=app.uow, workspace=outcome.workspace))
    echo(translate("demo.title", lang=lang, workspace=outcome.workspace, file=okr_file.name))
    echo("")
    weeks = _checkins_by_week(path=examples / f"q4-europe.checkins.{lang}.csv", zone=zone)
    digest = None
    for number, (friday, items) in enumerate(weeks.items(), start=1):
        for person, at, update in sorted(items, key=lambda item: item[1]):
            try:
                services.record_checkin(uow=app.uow, person=person, update=update, at=at, workspace=outcome.workspace)
            except KrbotError as error:  # the shipped example is valid; say so loudly if it ever is not
                echo(error_message(error, lang=lang))
        digest = services.compose(uow=app.uow, as_of=friday, workspace=outcome.workspace)
        _headlines(digest=digest, lang=lang, echo=echo, number=number, friday=friday, checkins=len(items))
    if weeks:  # the Friday after the cycle's end: the final report
        friday = max(weeks) + timedelta(days=7)
        digest = services.compose(uow=app.uow, as_of=friday, workspace=outcome.workspace)
        _headlines(digest=digest, lang=lang, echo=echo, number=len(weeks) + 1, friday=friday, checkins=0)
    echo("")
    if digest is not None:
        echo(translate("demo.final_intro" if digest.final else "demo.digest_intro", lang=lang))
        echo("")
        echo(render_digest(digest=digest, fmt="text", lang=lang))
    echo(translate("demo.next", lang=lang, url=url))
    return url
