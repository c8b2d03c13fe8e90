"""What an operator sees of a SQL source that connects as a superuser: a warning from `krbot import`, and its name in
the /healthz details of `krbot run --http` (a warning only: /healthz stays ok)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import POSTGRES, ROOT
from tests.fakes.served import free_port
from tests.fakes.source_databases import SourceDatabase, source_database
from tests.fakes.sources import sources_yaml

pytestmark = pytest.mark.skipif(not POSTGRES, reason="a PostgreSQL source reached as its superuser")
TOKEN = "health-details-token"


@pytest.fixture
def superuser_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SourceDatabase]:
    with source_database(kind="postgres", tmp_path=tmp_path) as database:
        monkeypatch.setenv("SALES_DB_URL", database.url)
        monkeypatch.setenv("KRBOT_SOURCE_ENVS", "SALES_DB_URL,SHOP_HEADERS")
        yield database


def test_krbot_import_prints_the_superuser_warning(superuser_source: SourceDatabase, run_cli, tmp_path: Path) -> None:
    okr_file = tmp_path / "okrs.yaml"
    okr_file.write_text(sources_yaml(json_url="https://shop.example/m.json"), encoding="utf-8")
    code, out, _ = run_cli("import", str(okr_file))
    assert code == 0, out
    assert "the data source SALES_DB_URL connects as postgres, a superuser" in out, out


def test_healthz_details_name_a_source_that_connects_as_a_superuser(
    superuser_source: SourceDatabase, tmp_path: Path
) -> None:
    database = f"sqlite:///{tmp_path / 'krbot.db'}"
    okr_file = tmp_path / "okrs.yaml"
    okr_file.write_text(sources_yaml(json_url="https://shop.example/m.json"), encoding="utf-8")
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith(("SLACK_", "FEISHU_", "KRBOT_"))},
        "PYTHONPATH": str(ROOT), "KRBOT_LOG_LEVEL": "WARNING", "KRBOT_METRICS_TOKEN": TOKEN,
        "KRBOT_SOURCE_ENVS": "SALES_DB_URL,SHOP_HEADERS", "SALES_DB_URL": superuser_source.url,
        # Feishu over HTTP starts without a network; its API points at a closed port, so nothing leaves the machine
        "FEISHU_APP_ID": "cli_health", "FEISHU_APP_SECRET": "health-secret", "FEISHU_VERIFICATION_TOKEN": "health",
        "FEISHU_ENCRYPT_KEY": "health-encrypt-key", "FEISHU_DOMAIN": f"http://127.0.0.1:{free_port()}",
    }
    imported = subprocess.run([sys.executable, "-m", "bot", "import", str(okr_file), "--db", database],
                              env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert imported.returncode == 0, imported.stderr
    port = free_port()
    log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen([sys.executable, "-m", "bot", "run", "--http", "--port", str(port), "--db", database],
                              env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
    try:
        details: dict = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not details.get("sources", {}).get("checked"):
            assert server.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/healthz", headers={"Authorization": f"Bearer {TOKEN}"})
                details = answer.json()
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        assert details.get("sources") == {"checked": True, "privileged": {"SALES_DB_URL": "superuser"},
                                          "unchecked": []}, details
        assert details["ok"] is True and answer.status_code == 200  # a warning, not an outage
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").json() == {"ok": True}  # no details without the token
    finally:
        server.terminate()
        server.wait(timeout=20)
