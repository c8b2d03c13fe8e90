"""Every library's log record goes through krbot's formatter and redaction: lark-oapi's own handler included."""

from __future__ import annotations

import importlib
import json
import logging

import pytest

from bot.logs import adopt_library_loggers, configure_logging

SECRET = "feishu-app-secret-0123456789"


@pytest.fixture
def json_logs():
    """The root's handlers restored after a test that sets JSON logs up (inside the test, where stderr is captured)."""
    root = logging.getLogger()
    before = (root.handlers[:], root.level)
    yield
    root.handlers[:], root.level = before


def _lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_lark_records_and_tracebacks_come_out_as_redacted_json(json_logs, capsys: pytest.CaptureFixture[str]) -> None:
    """lark-oapi, imported after logging is set up (as the platforms are), writes JSON lines with secrets blanked."""
    import lark_oapi.core.log as lark_log

    configure_logging(fmt="json", secrets=(SECRET,))

    importlib.reload(lark_log)  # what importing lark-oapi does: its "Lark" logger gets its own stdout handler
    assert lark_log.logger.handlers  # the SDK's plain-line handler is there …
    adopt_library_loggers()  # … until `krbot run` takes it back, once the platforms are imported
    lark_log.logger.error(f"fetch tenant_access_token failed, app_secret={SECRET}, token t-{'a' * 24}")
    try:
        raise RuntimeError(f"request failed with Authorization: Bearer {SECRET} and xoxb-1-2-secretvalue")
    except RuntimeError:
        lark_log.logger.exception("callback crashed")
    captured = capsys.readouterr()
    assert "[Lark]" not in captured.out and captured.out == ""  # nothing written past krbot's handler
    lines = _lines(captured.err)
    assert [entry["logger"] for entry in lines] == ["Lark", "Lark"]
    assert all(entry["level"] == "error" for entry in lines)
    assert "Traceback" in lines[1]["error"] and "RuntimeError" in lines[1]["error"]
    assert SECRET not in captured.err and "xoxb-1-2" not in captured.err and "t-aaaa" not in captured.err


def test_a_traceback_is_redacted_of_configured_secrets_too(json_logs, capsys: pytest.CaptureFixture[str]) -> None:
    """A configured secret (not token-shaped) inside an exception's message is blanked in the traceback."""
    configure_logging(fmt="json", secrets=(SECRET,))
    try:
        raise ValueError(f"signature check with {SECRET} failed")
    except ValueError:
        logging.getLogger("slack_bolt.App").exception("listener failed")
    entry = _lines(capsys.readouterr().err)[-1]
    assert "ValueError" in entry["error"] and SECRET not in entry["error"] and "[redacted]" in entry["error"]


def test_urls_in_any_log_line_lose_their_credentials_and_query(json_logs, capsys: pytest.CaptureFixture[str]) -> None:
    """httpx logs every request's URL at INFO: a webhook's or source's key in the query never reaches the log."""
    configure_logging(fmt="text")
    logging.getLogger("httpx").info(
        'HTTP Request: POST https://user:pw123456@hooks.example.com/in?api_key=k-secret-42 "HTTP/1.1 200 OK"'
    )
    logging.getLogger("krbot.webhooks").warning("delivery to %s failed", "https://erp.example.com/x?token=abc987")
    err = capsys.readouterr().err
    assert "hooks.example.com/in?…" in err and "erp.example.com/x?…" in err, err
    for secret in ("k-secret-42", "pw123456", "abc987"):
        assert secret not in err
