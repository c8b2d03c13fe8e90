"""A workspace whose measures pull from real sources: the sales database, the JSON server and a fake chat platform."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from bot import services
from bot.app import App
from bot.scheduler import RetryPolicy, Runner
from storage.models import CheckinRow, SourcePullRow
from tests.conftest import POSTGRES_URL
from tests.fakes.fake_platform import FakePlatformServer, HttpTestPlatform
from tests.fakes.sources import HEADERS, JsonSource, add_orders, sales_database, sources_yaml

IMPORTED = datetime(2026, 9, 30, 12, 0, tzinfo=UTC)
OCT15 = datetime(2026, 10, 15, 4, 5, tzinfo=UTC)  # 06:05 in Berlin, just after the daily 06:00 slot
FAST = RetryPolicy(tries=2, backoff=0.01, backoff_max=0.02, workers=4)


@dataclass
class Synced:
    """The app with sourced OKRs imported, the sales database, the JSON server and the fake chat platform."""

    app: App
    sales: str
    json: JsonSource
    chat: FakePlatformServer
    platform: HttpTestPlatform

    def runner(self) -> Runner:
        return Runner(uow=self.app.uow, platforms=[self.platform], policy=FAST)

    def synced(self) -> list[CheckinRow]:
        with self.app.uow.begin() as session:
            return list(session.scalars(select(CheckinRow).where(CheckinRow.source == "sync").order_by(CheckinRow.id)))

    def pulls(self) -> dict[str, SourcePullRow]:
        data = services.export_all(uow=self.app.uow, at=OCT15)
        measures = {m["name"]: m for o in data["objectives"] for p in o["paths"] for k in p["krs"] for m in k["measures"]}
        return {name: m for name, m in measures.items() if "source" in m}

    def notices(self) -> list[dict]:
        return [item for item in self.chat.stats.received if item["kind"] == "notice"]


@contextmanager
def synced_workspace(*, app: App, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Synced]:
    """Sources on a second database of the same kind as krbot's (SQLite file, PostgreSQL schema) and a JSON server."""
    kind = "sqlite" if db_url.startswith("sqlite") else "postgres"
    with sales_database(kind=kind, tmp_path=tmp_path, postgres_url=POSTGRES_URL) as sales, JsonSource() as json, \
            FakePlatformServer() as chat:
        monkeypatch.setenv("SALES_DB_URL", sales)
        monkeypatch.setenv("SHOP_HEADERS", HEADERS)
        services.import_okrs(uow=app.uow, text=sources_yaml(json_url=json.url), filename="sync.yaml", at=IMPORTED)
        add_orders(sales, (1000.5, 3), (2500.25, 2))
        platform = HttpTestPlatform(url=chat.url)
        yield Synced(app=app, sales=sales, json=json, chat=chat, platform=platform)
        platform.stop()
