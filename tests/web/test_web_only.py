"""`krbot run --http --web-only` (CONTRACT §3): the web pages, the API and hooks with no chat token at all; plain
`--http` without a platform still refuses, and now names `--web-only`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import EXAMPLE_ZH, ROOT
from tests.fakes.served import free_port


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _get(url: str) -> tuple[int, dict[str, str], str]:
    """One GET, redirects not followed: status, headers, body."""
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(url, timeout=5) as answer:
            return answer.status, dict(answer.headers), answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def _env(**extra: str) -> dict[str, str]:
    """The environment of a server with no chat platform configured."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "FEISHU_", "KRBOT_SECRET", "KRBOT_PUBLIC"))}
    return {**env, "PYTHONPATH": str(ROOT), **extra}


def test_run_http_without_a_platform_names_web_only(run_cli: Callable[..., Any], monkeypatch: Any) -> None:
    """The refusal keeps naming the platforms' variables and adds the way to serve without one."""
    for name in [n for n in os.environ if n.startswith(("SLACK_", "FEISHU_"))]:
        monkeypatch.delenv(name)
    code, _, err = run_cli("run", "--http")
    assert code == 2 and "SLACK_BOT_TOKEN" in err and "krbot run --http --web-only" in err


def test_web_only_serves_the_web_the_api_and_hooks_without_chat_tokens(tmp_path: Path) -> None:
    """A real `krbot run --http --web-only`: /healthz ok, / sends to sign-in, /api/v1 wants a token, and a link from
    `krbot web-link` opens its sign-in page; without KRBOT_SECRET_KEY the API still serves and the web says it is off."""
    database = f"sqlite:///{tmp_path / 'k.db'}"
    port = free_port()
    env = _env(KRBOT_SECRET_KEY="a-key-for-this-test", KRBOT_PUBLIC_URL=f"http://127.0.0.1:{port}")
    krbot = [sys.executable, "-m", "bot"]
    assert subprocess.run([*krbot, "import", str(EXAMPLE_ZH), "--db", database], env=env, capture_output=True,
                          timeout=120).returncode == 0
    server = subprocess.Popen([*krbot, "run", "--http", "--web-only", "--port", str(port), "--db", database], env=env,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        status = None
        while status is None and time.monotonic() < deadline and server.poll() is None:
            try:
                status = _get(f"http://127.0.0.1:{port}/healthz")[0]
            except OSError:
                time.sleep(0.2)
        assert status == 200, server.stdout.read() if server.poll() is not None else "no answer"
        code, headers, _ = _get(f"http://127.0.0.1:{port}/")
        assert code == 303 and headers["location"].startswith("/signin")
        assert _get(f"http://127.0.0.1:{port}/api/v1/okrs")[0] == 401
        made = subprocess.run([*krbot, "web-link", "--as", "boss", "--db", database], env=env, capture_output=True,
                              text=True, timeout=120)
        url = re.search(r"http://\S+/signin/\S+", made.stdout).group(0)
        code, headers, body = _get(url)
        assert code == 200 and 'method="post"' in body and "script-src 'self'" in headers["content-security-policy"]
    finally:
        server.terminate()
        output = server.communicate(timeout=20)[0]
    assert "krbot web-link --as ID" in output  # it said where the pages are
    off = _env()
    port = free_port()
    server = subprocess.Popen([*krbot, "run", "--web-only", "--port", str(port), "--db", database], env=off,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        status = None
        while status is None and time.monotonic() < deadline and server.poll() is None:
            try:
                status = _get(f"http://127.0.0.1:{port}/api/v1/okrs")[0]
            except OSError:
                time.sleep(0.2)
        assert status == 401  # the API serves
        assert _get(f"http://127.0.0.1:{port}/")[0] == 404  # no web pages without the key
    finally:
        server.terminate()
        output = server.communicate(timeout=20)[0]
    assert "KRBOT_SECRET_KEY" in output and "krbot secret-key" in output
