"""Logging: one JSON object per line with KRBOT_LOG_FORMAT=json, readable lines otherwise; secrets never logged."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

CONTEXT = ("workspace", "person", "command", "platform", "job", "event_id")
_SECRET = re.compile(
    r"(xox[abposr]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+|(?:t|u)-[A-Za-z0-9]{20,}|(?i:bearer)\s+[A-Za-z0-9._~+/=-]+)"
)


def redact(text: str) -> str:
    """The text with anything that looks like a Slack or Feishu token or a bearer credential blanked out, and every
    URL's credentials and query string (a source's or a webhook's address may carry a key there)."""
    from bot.core.redact import blank_urls

    return blank_urls(text=_SECRET.sub("[redacted]", text))


class _Redacting(logging.Filter):
    """Blank secrets in every record's message and arguments, whatever logger wrote it."""

    def __init__(self, secrets: tuple[str, ...]) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s and len(s) >= 6)

    def blank(self, text: str) -> str:
        """The text with tokens and the configured secrets blanked out."""
        text = redact(text)
        for secret in self.secrets:
            text = text.replace(secret, "[redacted]")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self.blank(record.getMessage()), None
        if record.exc_info and not record.exc_text:  # the traceback, rendered once and redacted like the message
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text, record.exc_info = self.blank(record.exc_text), None
        if record.stack_info:
            record.stack_info = self.blank(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, and the krbot context fields given in `extra`."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({name: getattr(record, name) for name in CONTEXT if getattr(record, name, None) is not None})
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["error"] = redact(record.exc_text)
        if record.stack_info:
            entry["stack"] = redact(record.stack_info)
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """A readable line: time level logger: message [workspace=… person=… command=…]."""

    def format(self, record: logging.LogRecord) -> str:
        context = " ".join(f"{name}={getattr(record, name)}" for name in CONTEXT if getattr(record, name, None))
        line = f"{self.formatTime(record, '%Y-%m-%d %H:%M:%S')} {record.levelname:<7} {record.name}: {record.getMessage()}"
        if context:
            line += f" [{context}]"
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line += "\n" + redact(record.exc_text)
        return line


class _StderrHandler(logging.StreamHandler):
    """Writes to the standard error of the moment: a CLI runner or test harness may swap (and close) it."""

    @property
    def stream(self) -> Any:  # type: ignore[override]
        """sys.stderr as it is now."""
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        """Ignored: the stream is always the current sys.stderr."""


def configure_logging(*, fmt: str = "text", level: str = "INFO", secrets: tuple[str, ...] = ()) -> None:
    """Route every logger to stderr in the chosen format, with secrets redacted."""
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(_Redacting(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    adopt_library_loggers()


def adopt_library_loggers() -> None:
    """Take back every library logger that writes on its own (lark-oapi's "Lark" prints plain lines to stdout).

    Its handlers are removed and its records propagate to the root, through krbot's formatter and redaction.
    Call again after importing such a library (the platforms are imported after logging is set up).
    """
    for logger in list(logging.root.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger) and logger.handlers:
            logger.handlers.clear()
            logger.propagate = True
