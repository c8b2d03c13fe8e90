"""Addresses and outside words made safe to show: URLs without credentials or query strings, quotes cut short and plain.

Every log line, `krbot jobs list` row and message that names a source's or a webhook's address passes it through
`blank_url`; whatever a source or receiver answered passes through `plain_quote` before its owner or an admin sees it.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

from bot.core.text import clean_text

QUOTE_LIMIT = 120  # characters of what a source said that its owner and the admins may read
BLANK = "…"
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"'<>]+")
_SPACES = re.compile(r"\s+")


def blank_url(*, url: str) -> str:
    """The URL with its user, password, query string and fragment blanked ("https://…@host/path?…")."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return BLANK
    if not parts.scheme or not host:
        return url.split("?", 1)[0].split("#", 1)[0]
    netloc = host if ":" not in host else f"[{host}]"
    if port is not None:
        netloc = f"{netloc}:{port}"
    if parts.username is not None or parts.password is not None:
        netloc = f"{BLANK}@{netloc}"
    query = BLANK if parts.query else ""
    fragment = BLANK if parts.fragment else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, fragment))


def blank_urls(*, text: str) -> str:
    """Every URL inside `text` blanked as `blank_url` does."""
    return _URL.sub(lambda match: blank_url(url=match.group(0)), text)


def plain_quote(*, text: str, limit: int = QUOTE_LIMIT) -> str:
    """What an outside system said, as at most `limit` plain characters on one line (cut with "…"), URLs blanked."""
    plain = _SPACES.sub(" ", clean_text(text=blank_urls(text=text))).strip()
    return plain if len(plain) <= limit else plain[: limit - 1].rstrip() + BLANK
