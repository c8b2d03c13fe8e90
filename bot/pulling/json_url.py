"""A JSON source: one guarded HTTP GET (bot.outbound: no loopback or metadata address, no redirect, 10 s for the whole
exchange, 1 MB of answer at most), headers from the environment, one JSONPath match that is a number."""

from __future__ import annotations

import json
from typing import Any

from bot.core.errors import KrbotError
from bot.core.redact import plain_quote
from bot.outbound.client import OutboundClient
from bot.pulling import Puller, environment, scalar

SHOWN_START = 40  # characters of a non-JSON answer quoted to its owner


def _headers(*, headers_env: str | None) -> dict[str, str]:
    """The request headers the named variable holds as a JSON object of strings."""
    if headers_env is None:
        return {}
    raw = environment(name=headers_env)
    try:
        headers = json.loads(raw)
    except ValueError:
        raise KrbotError("source.headers", name=headers_env) from None
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise KrbotError("source.headers", name=headers_env)
    return headers


def _expression(*, json_path: str) -> Any:
    """The parsed JSONPath, or the refusal that quotes it."""
    from jsonpath_ng.ext import parse

    try:
        return parse(json_path)
    except Exception:  # noqa: BLE001 - the library raises several kinds (lexer, parser, plain Exception)
        raise KrbotError("source.json_path_bad", path=json_path) from None


def _client(*, puller: Puller) -> OutboundClient:
    """The run's one guarded client, made by the first pull that needs it (closed by `Puller.close`)."""
    with puller.lock:
        if puller.client is None:
            puller.client = OutboundClient()
        return puller.client


def pull_json(*, puller: Puller, url: str, json_path: str, headers_env: str | None) -> Any:
    """The one value at `json_path` in the JSON document at `url`."""
    headers = _headers(headers_env=headers_env)
    expression = _expression(json_path=json_path)
    status, body = _client(puller=puller).get(url=url, headers=headers, seconds=puller.timeout)
    if not 200 <= status < 300:
        raise KrbotError("source.http_status", status=status)
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, or nested deeper than Python's parser goes
        start = plain_quote(text=body[:400].decode("utf-8", "replace"), limit=SHOWN_START)
        raise KrbotError("source.not_json", start=start) from None
    matches = [match.value for match in expression.find(document)]
    if not matches:
        raise KrbotError("source.path_missing", path=json_path)
    if len(matches) > 1:
        raise KrbotError("source.path_many", path=json_path, count=len(matches))
    return scalar(value=matches[0])
