"""A check-in's cost is flat in the workspace's size: the same SQL statements and the same rows loaded."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import event

from bench.digest import TIMEZONE, checkin_rows, okr_document, person_key
from bot import services
from bot.app import build_app
from storage.models import Base
from storage.scratch import postgres_schema
from tests.conftest import POSTGRES_URL

AT = datetime(2026, 12, 28, 9, 0, tzinfo=ZoneInfo(TIMEZONE))


def _workspace(*, url: str, krs: int) -> Any:
    """A generated quarter of `krs` KRs with 13 weekly check-ins each, imported through the services."""
    app = build_app(database_url=url)
    document = okr_document(krs=krs)
    services.import_okrs(uow=app.uow, text=yaml.safe_dump(document, allow_unicode=True), filename="okrs.yaml", at=AT)
    buffer = io.StringIO()
    rows = checkin_rows(document=document)
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    services.import_checkins(uow=app.uow, text=buffer.getvalue(), filename="history.csv", now=AT)
    return app


@contextmanager
def _cost(engine: Any) -> Iterator[dict[str, int]]:
    """Count the SQL statements sent and the table rows loaded as objects inside the block."""
    cost = {"statements": 0, "rows": 0}

    def statement(*_args: Any) -> None:
        cost["statements"] += 1

    def loaded(*_args: Any) -> None:
        cost["rows"] += 1

    event.listen(engine, "before_cursor_execute", statement)
    event.listen(Base, "load", loaded, propagate=True)
    try:
        yield cost
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(Base, "load", loaded)


def _update_cost(app: Any, *, text: str) -> tuple[dict[str, int], str]:
    with _cost(app.uow.engine) as cost:
        reply = services.run_command(uow=app.uow, person=person_key(0), text=text, at=AT)
    return cost, reply.key


@contextmanager
def _second_database(*, db_url: str, tmp_path: Path) -> Iterator[str]:
    """Another empty database on the same backend as `db_url`."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'big.db'}"
        return
    with postgres_schema(url=POSTGRES_URL) as url:
        yield url


def test_a_checkin_costs_the_same_in_a_10_and_a_200_kr_workspace(db_url: str, tmp_path: Path) -> None:
    """`/kr update KR1 …` reads its sender, its KR and that KR's history — never the whole tree."""
    small = _workspace(url=db_url, krs=10)
    small_cost, small_key = _update_cost(small, text="/kr update KR1 1.4% note: 素材更新")
    small.uow.engine.dispose()
    with _second_database(db_url=db_url, tmp_path=tmp_path) as url:
        big = _workspace(url=url, krs=200)
        big_cost, big_key = _update_cost(big, text="/kr update KR1 1.4% note: 素材更新")
        big.uow.engine.dispose()
    assert small_key == big_key == "checkin.saved"
    assert big_cost["statements"] == small_cost["statements"]
    assert big_cost["rows"] == small_cost["rows"], (small_cost, big_cost)
