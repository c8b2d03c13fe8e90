"""Data sources over real databases (§9): values arrive as synced check-ins, once per slot; failures are kept,
recorded and told once a day; writes and implausible values are refused."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from bot import services
from bot.app import App
from bot.metrics import SOURCE_PULLS
from storage.models import DeliveryRow
from tests.fakes.served import free_port
from tests.fakes.sources import add_orders, count_orders, sources_yaml
from tests.fakes.synced import IMPORTED, OCT15, Synced, synced_workspace


@pytest.fixture
def synced(app: App, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Synced]:
    """The example with sourced measures (tests/fakes/synced.py)."""
    with synced_workspace(app=app, db_url=db_url, tmp_path=tmp_path, monkeypatch=monkeypatch) as workspace:
        yield workspace


def _values(app: App) -> dict[tuple[str, str], float]:
    data = services.export_all(uow=app.uow, at=datetime(2026, 12, 1, tzinfo=UTC))
    return {(c["code"], c["measure"]): c["value"] for c in data["checkins"] if c["origin"] == "synced"}


def test_sql_and_json_values_arrive_as_one_synced_checkin_per_kr(synced: Synced) -> None:
    before = SOURCE_PULLS.labels(kind="sql", outcome="ok")._value.get()
    outcome = synced.runner().run(job="sync", now=OCT15)
    assert SOURCE_PULLS.labels(kind="sql", outcome="ok")._value.get() == before + 2  # in /metrics
    assert outcome.counts["pulled"] == 3 and outcome.counts["pull failed"] == 0, outcome.counts
    rows = synced.synced()
    assert [(r.code, r.person_key) for r in rows] == [("KR1", "ana"), ("KR2", "ben")]
    assert _values(synced.app) == {("KR1", "GMV"): 3500.75, ("KR1", "Orders"): 420, ("KR2", "Returns"): 5}
    pulls = synced.pulls()
    assert pulls["GMV"]["source"]["kind"] == "sql" and pulls["GMV"]["source"]["database_env"] == "SALES_DB_URL"
    assert pulls["Orders"]["source"]["headers_env"] == "SHOP_HEADERS" and "s3cret" not in str(pulls)
    assert {m["source"]["last_pull"]["status"] for m in pulls.values()} == {"ok"}
    assert pulls["GMV"]["value"] == 3500.75  # the synced value is the measure's value


def test_the_scheduled_slot_pulls_once_even_when_run_twice_and_concurrently(synced: Synced) -> None:
    runners = [synced.runner(), synced.runner()]
    threads = [threading.Thread(target=r.run, kwargs={"job": "sync", "now": OCT15}) for r in runners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    again = synced.runner().run(job="sync", now=OCT15.replace(minute=30))
    assert again.counts["pulled"] == 0 and again.counts["already"] == 3
    assert len(synced.synced()) == 2  # one check-in per KR, not one per run
    assert synced.json.requests == 1
    later = synced.runner().tick(now=OCT15.replace(hour=20))  # 22:00 in Berlin: past the slot's grace, nothing owed
    assert later.counts["pulled"] == 0
    by_hand = synced.runner().run(job="sync", now=OCT15.replace(minute=31), force=True)  # `krbot jobs run sync`
    assert by_hand.counts["pulled"] == 3
    assert len(synced.synced()) == 4 and synced.json.requests == 2


def test_an_unreachable_source_is_recorded_told_once_a_day_and_its_last_value_kept(
    synced: Synced, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced.runner().run(job="sync", now=OCT15)
    if db_url.startswith("sqlite"):
        (tmp_path / "sales.db").rename(tmp_path / "sales-moved.db")
    else:  # the database server moved: nothing listens where the URL points
        monkeypatch.setenv("SALES_DB_URL", f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/sales")
    nov10 = datetime(2026, 11, 10, 5, 1, tzinfo=UTC)
    outcome = synced.runner().run(job="sync", now=nov10)
    assert outcome.counts["pulled"] == 1 and outcome.counts["pull failed"] == 2, outcome.counts  # JSON still works
    pulls = synced.pulls()
    gmv = pulls["GMV"]["source"]["last_pull"]
    assert gmv["status"] == "failed" and gmv["error"] == "unreachable", gmv  # the kind only: export is no owner's DM
    assert gmv["value"] == 3500.75 and pulls["GMV"]["value"] == 3500.75  # the last good value stands
    told = synced.notices()
    assert sorted(n["target"] for n in told) == ["ana", "ben"]
    ana = next(n["text"] for n in told if n["target"] == "ana")
    assert "KR1 · GMV" in ana and "could not connect" in ana and "SALES_DB_URL" in ana and "3,500.75" in ana
    second = synced.runner().run(job="sync", now=nov10.replace(hour=11), force=True)  # later that day, by hand
    assert second.counts["pull failed"] == 2
    assert len(synced.notices()) == 2  # not told twice that day
    synced.runner().run(job="sync", now=nov10.replace(day=11))
    assert len(synced.notices()) == 4  # the next day it is told again


def test_a_write_through_a_source_query_is_refused_by_the_read_only_transaction(
    synced: Synced, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = count_orders(synced.sales)
    monkeypatch.delenv("SALES_DB_URL")  # imported where the database is unknown, so the import cannot refuse the text
    services.import_okrs(
        uow=synced.app.uow, filename="sync.yaml", at=IMPORTED,
        text=sources_yaml(json_url=synced.json.url, gmv_sql="INSERT INTO orders (id, gmv, returned) VALUES (99, 1, 0) RETURNING gmv"),
    )
    monkeypatch.setenv("SALES_DB_URL", synced.sales)
    outcome = synced.runner().run(job="sync", now=OCT15)
    assert outcome.counts["pull failed"] == 1
    assert synced.pulls()["GMV"]["source"]["last_pull"]["error"] == "refused"
    told = next(n["text"] for n in synced.notices() if n["target"] == "ana")
    assert "KR1 · GMV" in told and ("SELECT" in told or "read-only" in told), told  # the owner reads why
    assert count_orders(synced.sales) == before


def test_an_implausible_pulled_value_is_refused_and_reported_not_stored(synced: Synced) -> None:
    add_orders(synced.sales, (99_000_000, 0))  # far beyond ten spans of 0 → 200,000 EUR
    outcome = synced.runner().run(job="sync", now=OCT15)
    assert outcome.counts["pull failed"] == 1 and outcome.counts["pulled"] == 2
    assert ("KR1", "GMV") not in _values(synced.app) and ("KR1", "Orders") in _values(synced.app)
    assert synced.pulls()["GMV"]["source"]["last_pull"]["error"] == "implausible value"
    assert any("implausible" in n["text"] and "99003500.75" in n["text"] for n in synced.notices() if n["target"] == "ana")


def test_a_failed_source_leaves_a_failed_ledger_row_and_pulled_ones_name_their_checkin(synced: Synced) -> None:
    synced.json.document = {"data": {}}
    synced.runner().run(job="sync", now=OCT15)
    with synced.app.uow.begin() as session:
        rows = list(session.scalars(select(DeliveryRow).where(DeliveryRow.kind == "sync")))
    assert sorted(r.status for r in rows) == ["failed", "sent", "sent"]
    assert all(r.message_id.startswith("checkin:") for r in rows if r.status == "sent")
    failed = next(r for r in rows if r.status == "failed")
    assert failed.error == "source.kind.no_value"  # the kind's key: each reader reads it in their own language
    assert any("nothing at $.data.orders" in n["text"] for n in synced.notices() if n["target"] == "ana")
    digest = services.compose(uow=synced.app.uow, as_of=OCT15.replace(hour=12))
    assert digest.failed == ()  # a failed pull is no undelivered message


def test_a_pulled_text_is_read_by_the_number_reader_or_refused_with_its_words(synced: Synced) -> None:
    text = sources_yaml(json_url=synced.json.url, gmv_sql="SELECT '12.500,50 EUR'")
    services.import_okrs(uow=synced.app.uow, filename="sync.yaml", at=IMPORTED, text=text)
    synced.runner().run(job="sync", now=OCT15)
    assert _values(synced.app)[("KR1", "GMV")] == 12500.5  # a form only one convention reads, in any locale
    text = sources_yaml(json_url=synced.json.url, gmv_sql="SELECT 'abc'")
    services.import_okrs(uow=synced.app.uow, filename="sync.yaml", at=IMPORTED, text=text)
    synced.runner().run(job="sync", now=OCT15.replace(day=16))
    assert synced.pulls()["GMV"]["source"]["last_pull"]["error"] == "not a number"
    assert any("returned the text “abc”, which is not a number" in n["text"] for n in synced.notices())


def test_a_pulled_text_with_nul_and_a_lone_surrogate_is_refused_and_its_error_stored(synced: Synced) -> None:
    synced.json.document = b'{"data": {"orders": "4\\u0000 2\\ud800"}}'  # what a broken ERP export may send
    outcome = synced.runner().run(job="sync", now=OCT15)
    assert outcome.counts["pull failed"] == 1 and outcome.counts["error"] == 0
    assert synced.pulls()["Orders"]["source"]["last_pull"]["error"] == "not a number"
    told = next(n["text"] for n in synced.notices() if n["target"] == "ana" and "Orders" in n["text"])
    assert "returned the text" in told and "\x00" not in told and "\ud800" not in told, told
