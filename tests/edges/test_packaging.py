"""`pip install .` gives a working krbot anywhere: templates, migrations and examples ship inside the wheel."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Building the wheel fetches its build backend, and the fresh venv its dependencies, from the package index: the default
# `make test` deselects these, and CI runs them in a step of their own (`make test-network`).
pytestmark = pytest.mark.network


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project built as a wheel, the way `pip install .` builds it."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)],
        check=True,
        timeout=300,
    )
    return next(out.glob("krbot-*.whl"))


def test_wheel_carries_templates_migrations_and_examples(wheel: Path) -> None:
    """What the code loads at run time is inside the wheel, not only in the source tree."""
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "bot/_data/templates/digest.text.j2",
        "bot/_data/templates/i18n/zh/digest.yaml",
        "bot/_data/templates/i18n/en/digest.yaml",
        "bot/_data/alembic/env.py",
        "bot/_data/alembic/versions/0001_initial.py",
        "bot/_data/examples/q4-europe.zh.yaml",
        "storage/models.py",
        "bot/_data/templates/web/layout.html.j2",
        "bot/_data/templates/i18n/zh/web.yaml",
        "bot/web/static/htmx.min.js",  # vendored: the web pages load nothing from a CDN
        "bot/web/static/web.css",
    ):
        assert needed in names, needed


def test_installed_wheel_migrates_and_digests_from_another_folder(wheel: Path, tmp_path: Path) -> None:
    """Installed apart from the source tree, krbot finds its migrations and templates and does real work."""
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(target), str(wheel)],
        check=True,
        timeout=300,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target), "KRBOT_DATABASE_URL": f"sqlite:///{elsewhere / 'k.db'}"}

    def krbot(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot", *args], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=120
        )

    where = subprocess.run(
        [sys.executable, "-c", "import bot; print(bot.__file__)"], cwd=elsewhere, env=env, capture_output=True, text=True
    )
    assert where.stdout.startswith(str(target)), where.stdout + where.stderr
    assert krbot("db", "upgrade").returncode == 0
    example = ROOT / "examples" / "q4-europe.zh.yaml"
    imported = krbot("import", str(example))
    assert imported.returncode == 0, imported.stderr
    digest = krbot("digest", "--as-of", "2026-11-20T17:00", "--lang", "en")
    assert digest.returncode == 0, digest.stderr
    assert digest.stdout.splitlines()[0].startswith("欧洲事业部 · weekly OKR report")


@pytest.fixture(scope="module")
def fresh_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment with the wheel and its dependencies installed from the index, as the image does."""
    venv = tmp_path_factory.mktemp("venv") / "krbot"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check", str(wheel)],
        check=True,
        timeout=600,
    )
    return venv


def test_fresh_install_migrates_and_serves_http_from_outside_the_tree(
    fresh_venv: Path, db_url: str, tmp_path: Path
) -> None:
    """The image's commands outside Docker: migrate SQLite and PostgreSQL, start `krbot run --http`, /healthz says ok."""
    import socket
    import time
    import urllib.request

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    krbot = str(fresh_venv / "bin" / "krbot")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "FEISHU_", "KRBOT_", "PYTHONPATH", "VIRTUAL_ENV"))
    }
    # Feishu over HTTP needs no network to start; without any platform `run --http` refuses (nothing to serve).
    env |= {"FEISHU_APP_ID": "cli_fresh", "FEISHU_APP_SECRET": "fresh-secret", "FEISHU_VERIFICATION_TOKEN": "fresh-token",
            "FEISHU_ENCRYPT_KEY": "fresh-encrypt-key", "KRBOT_METRICS_TOKEN": "fresh-metrics-token"}
    bearer = {"Authorization": "Bearer fresh-metrics-token"}
    upgraded = subprocess.run([krbot, "db", "upgrade", "--db", db_url], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=120)
    assert upgraded.returncode == 0, upgraded.stderr
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [krbot, "run", "--http", "--port", str(port), "--db", db_url],
        cwd=elsewhere,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                asked = urllib.request.Request(f"http://127.0.0.1:{port}/healthz", headers=bearer)
                with urllib.request.urlopen(asked, timeout=2) as answer:
                    status = answer.status
                    health = answer.read().decode()
                break
            except OSError:
                time.sleep(0.25)
        assert status == 200, server.stdout.read() if server.poll() is not None else "no answer"
        assert '"database":true' in health.replace(" ", "")
        asked = urllib.request.Request(f"http://127.0.0.1:{port}/metrics", headers=bearer)
        with urllib.request.urlopen(asked, timeout=5) as answer:
            assert b"krbot_commands_total" in answer.read() or answer.status == 200
    finally:
        server.terminate()
        server.wait(timeout=20)
    assert not (elsewhere / "krbot.db").exists()
