"""What data-source tests pull from: a real second database (SQLite file or PostgreSQL schema) with an `orders`
table, a local HTTP server answering JSON behind a bearer header, and an OKR file whose measures name them."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from storage.scratch import postgres_schema

TOKEN = "Bearer s3cret-token"
HEADERS = json.dumps({"Authorization": TOKEN})


@contextmanager
def sales_database(*, kind: str, tmp_path: Path, postgres_url: str) -> Iterator[str]:
    """A second database holding `orders(gmv, returned)`: a SQLite file, or a schema on the local PostgreSQL."""
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'sales.db'}"
        _create(url)
        yield url
        return
    with postgres_schema(url=postgres_url, prefix="sales") as url:
        _create(url)
        yield url


def _create(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE orders (id INTEGER PRIMARY KEY, gmv NUMERIC(12, 2), returned INTEGER)"))
    engine.dispose()


def add_orders(url: str, *rows: tuple[float, int]) -> None:
    """Insert orders (gmv, returned) into the sales database."""
    engine = create_engine(url)
    with engine.begin() as connection:
        first = connection.execute(text("SELECT coalesce(max(id), 0) FROM orders")).scalar_one()
        for n, (gmv, returned) in enumerate(rows, start=first + 1):
            connection.execute(text("INSERT INTO orders (id, gmv, returned) VALUES (:i, :g, :r)"),
                               {"i": n, "g": gmv, "r": returned})
    engine.dispose()


def count_orders(url: str) -> int:
    """How many orders the sales database holds."""
    engine = create_engine(url)
    with engine.connect() as connection:
        count = int(connection.execute(text("SELECT count(*) FROM orders")).scalar_one())
    engine.dispose()
    return count


class JsonSource:
    """A local HTTP server answering GET with `document` (401 without the bearer token); `with JsonSource() as s`."""

    def __init__(self, *, document: Any = None) -> None:
        self.document = document if document is not None else {"data": {"orders": 420}}
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                return

            def do_GET(self) -> None:  # noqa: N802 - the http.server spelling
                server.requests += 1
                if self.headers.get("Authorization") != TOKEN:
                    self._answer(401, b'{"error": "unauthorized"}')
                    return
                body = server.document if isinstance(server.document, bytes) else json.dumps(server.document).encode()
                self._answer(200, body)

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/metrics.json"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> JsonSource:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def sources_yaml(*, json_url: str, gmv_sql: str = "SELECT sum(gmv) FROM orders", sync: str = "daily 06:00") -> str:
    """An OKR file: ana's KR1 is all synced (GMV by SQL, Orders by JSON); ben's KR2 mixes a typed and a synced measure."""
    return f"""workspace:
  name: Sync Test
  language: en
  timezone: Europe/Berlin
  reminder: "mon 09:30"
  digest: "fri 16:30"
  sync: "{sync}"
people:
  - {{id: boss, name: Boss, role: boss}}
  - {{id: lead, name: Lead, role: admin}}
  - {{id: ana, name: Ana}}
  - {{id: ben, name: Ben}}
cycle:
  name: Q4
  start: 2026-10-01
  end: 2026-12-31
objectives:
  - code: O1
    title: Grow Amazon Germany sales this quarter
    owner: lead
    strategy: Europe first
    deadline: 2026-12-31
    measures:
      - {{name: Sales, unit: EUR, baseline: 0, target: 1000000}}
    paths:
      - code: P1
        title: Sell more
        priority: 1
        krs:
          - code: KR1
            title: Raise GMV of Amazon Germany from 0 to 200000 EUR by end of December
            owner: ana
            accountable: lead
            measures:
              - name: GMV
                unit: EUR
                baseline: 0
                target: 200000
                source: {{sql: "{gmv_sql}", database_env: SALES_DB_URL}}
              - name: Orders
                unit: orders
                baseline: 0
                target: 2000
                source: {{url: "{json_url}", json_path: "$.data.orders", headers_env: SHOP_HEADERS}}
          - code: KR2
            title: Cut returned orders of Amazon Germany from 100 to 20 by end of December
            owner: ben
            accountable: lead
            measures:
              - {{name: Conversion, unit: "%", baseline: 1, target: 2}}
              - name: Returns
                unit: orders
                baseline: 100
                target: 20
                source: {{sql: "SELECT sum(returned) FROM orders", database_env: SALES_DB_URL}}
"""
