"""Helpers shared by the tests of archived people and of changes made once: the example file edited, commands said."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import yaml
from sqlalchemy import func, select

from bot import services
from bot.app import App
from tests.conftest import EXAMPLE_ZH

AT = datetime(2026, 10, 15, 8, 0, tzinfo=UTC)
LATER = datetime(2026, 10, 16, 8, 0, tzinfo=UTC)


def okr_file_without(*, person: str, heir: str) -> str:
    """The example OKR file with one person removed, everything they held handed to `heir`."""
    data = yaml.safe_load(EXAMPLE_ZH.read_text(encoding="utf-8"))
    data["people"] = [p for p in data["people"] if p["id"] != person]

    def hand_over(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: hand_over(v) for k, v in node.items()}
        if isinstance(node, list):
            return list(dict.fromkeys(hand_over(v) for v in node)) if all(isinstance(v, str) for v in node) else [
                hand_over(v) for v in node
            ]
        return heir if node == person else node

    return yaml.safe_dump(hand_over(data), allow_unicode=True, sort_keys=False)


def reimport(app: App, text: str, at: datetime = LATER) -> services.ImportOutcome:
    """`krbot import` of a file's text."""
    return services.import_okrs(uow=app.uow, text=text, filename="okrs.yaml", at=at)


def say(app: App, person: str, line: str, at: datetime = AT, **extra: Any) -> services.Reply:
    """A chat command through the one path every edge uses."""
    return services.run_command(uow=app.uow, person=person, text=line, at=at, **extra)


def count(app: App, table: type) -> int:
    """Rows in a table."""
    with app.uow.begin() as session:
        return session.scalar(select(func.count()).select_from(table)) or 0


def exported(app: App) -> dict[str, Any]:
    """Everything stored, as `krbot export` gives it."""
    return services.export_all(uow=app.uow, at=LATER)


def new_ask(app: App, words: str = "追加5000欧预算") -> int:
    """chen asks for something; the ask's id."""
    assert say(app, "chen", f"/kr update KR2 1.7% 需求：{words}").ok
    return max(a["id"] for a in exported(app)["asks"])
