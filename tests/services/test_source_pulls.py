"""One pull at a time against real sources: exactly one number, or a clear error naming what was wrong (zh and en)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.core import model
from bot.core.errors import KrbotError
from bot.i18n import translate
from bot.pulling import Puller
from tests.conftest import POSTGRES, POSTGRES_URL
from tests.fakes.sources import HEADERS, JsonSource, add_orders, sales_database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def sales(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A second database with two orders, its URL in SALES_DB_URL."""
    if request.param == "postgres" and not POSTGRES:
        pytest.skip("PostgreSQL does not answer")
    with sales_database(kind=request.param, tmp_path=tmp_path, postgres_url=POSTGRES_URL) as url:
        add_orders(url, (1000.5, 3), (2500.25, 2))
        monkeypatch.setenv("SALES_DB_URL", url)
        yield url


def _sql(query: str, *, timeout: float = 10) -> Any:
    puller = Puller(timeout=timeout)
    try:
        return puller.pull(source=model.Source(sql=query, database_env="SALES_DB_URL"))
    finally:
        puller.close()


def _refusal(query: str, **options: Any) -> tuple[str, str]:
    with pytest.raises(KrbotError) as caught:
        _sql(query, **options)
    error = caught.value
    return translate(error.key, lang="en", **error.params), translate(error.key, lang="zh", **error.params)


def test_one_row_one_number_is_the_value(sales: str) -> None:
    assert Decimal(str(_sql("SELECT sum(gmv) FROM orders"))) == Decimal("3500.75")
    assert _sql("SELECT '52,000.50'") == "52,000.50"  # a string goes to the §6 reader in the workspace locale


@pytest.mark.parametrize(
    ("query", "english", "chinese"),
    [
        ("SELECT gmv FROM orders", "returned 2 rows — a source must return one row with one number", "返回了 2 行"),
        ("SELECT gmv FROM orders WHERE gmv < 0", "returned 0 rows", "返回了 0 行"),
        ("SELECT sum(gmv) FROM orders WHERE gmv < 0", "returned NULL", "NULL"),
        ("SELECT 1, 2", "returned 2 columns", "返回了 2 列"),
        ("SELECT sum(gmv) FROM no_such_table", "the database refused the query", "数据库拒绝了这条查询"),
    ],
)
def test_wrong_shapes_give_clear_errors(sales: str, query: str, english: str, chinese: str) -> None:
    en, zh = _refusal(query)
    assert english in en and chinese in zh, (en, zh)


def test_a_missing_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SALES_DB_URL", raising=False)
    en, zh = _refusal("SELECT 1")
    assert en.startswith("the environment variable SALES_DB_URL is not set") and "SALES_DB_URL" in zh


def test_a_write_is_refused_and_nothing_changes(sales: str) -> None:
    en, _ = _refusal("UPDATE orders SET gmv = 0 WHERE id = 1 RETURNING gmv")
    assert "tried to write" in en, en
    assert Decimal(str(_sql("SELECT gmv FROM orders WHERE id = 1"))) == Decimal("1000.5")


def test_a_slow_query_times_out(sales: str) -> None:
    slow = (
        "SELECT pg_sleep(3), 1" if sales.startswith("postgresql")
        else "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n"
    )
    en, zh = _refusal(slow, timeout=0.5)
    assert "no answer within" in en and "秒内没有回应" in zh, en


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[JsonSource]:
    monkeypatch.setenv("SHOP_HEADERS", HEADERS)
    with JsonSource(document={"data": {"orders": 420, "rate": "12,5"}, "items": [{"v": 1}, {"v": 2}]}) as server:
        yield server


def _json(url: str, path: str, headers_env: str | None = "SHOP_HEADERS") -> Any:
    puller = Puller(timeout=5)
    try:
        return puller.pull(source=model.Source(url=url, json_path=path, headers_env=headers_env))
    finally:
        puller.close()


def test_a_json_source_reads_one_match_with_headers_from_the_environment(served: JsonSource) -> None:
    assert _json(served.url, "$.data.orders") == 420
    assert _json(served.url, "$.data.rate") == "12,5"


@pytest.mark.parametrize(
    ("path", "headers_env", "english"),
    [
        ("$.data.gmv", "SHOP_HEADERS", "nothing at $.data.gmv in the document"),
        ("$.items[*].v", "SHOP_HEADERS", "2 values at $.items[*].v — the path must point at exactly one number"),
        ("$.data", "SHOP_HEADERS", "returned a dict, not a number"),
        ("$.data.orders", None, "the address answered HTTP 401"),
        ("$..[", "SHOP_HEADERS", "cannot read the JSONPath"),
    ],
)
def test_json_shapes_give_clear_errors(served: JsonSource, path: str, headers_env: str | None, english: str) -> None:
    with pytest.raises(KrbotError) as caught:
        _json(served.url, path, headers_env)
    said = translate(caught.value.key, lang="en", **caught.value.params)
    assert english in said, said


def test_headers_that_are_not_a_json_object_are_named(served: JsonSource, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOP_HEADERS", json.dumps(["Authorization"]))
    with pytest.raises(KrbotError) as caught:
        _json(served.url, "$.data.orders")
    assert caught.value.key == "source.headers" and caught.value.params["name"] == "SHOP_HEADERS"


def test_a_closed_port_is_could_not_connect() -> None:
    from tests.fakes.served import free_port

    with pytest.raises(KrbotError) as caught:
        _json(f"http://127.0.0.1:{free_port()}/x.json", "$.a", None)
    assert translate(caught.value.key, lang="en", **caught.value.params).startswith("could not connect")
