"""A JSON source: an HTTP GET with a time limit and headers from the environment, one JSONPath match that is a number."""

from __future__ import annotations

import json
from typing import Any

import httpx

from bot.core.errors import KrbotError
from bot.pulling import Puller, environment, scalar

MAX_BYTES = 5_000_000  # a document larger than this is no single number's home


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


def pull_json(*, puller: Puller, url: str, json_path: str, headers_env: str | None) -> Any:
    """The one value at `json_path` in the JSON document at `url`."""
    headers = _headers(headers_env=headers_env)
    expression = _expression(json_path=json_path)
    with puller.lock:
        if puller.client is None:
            puller.client = httpx.Client(timeout=puller.timeout, follow_redirects=True)
        client = puller.client
    try:
        response = client.get(url, headers=headers)
    except httpx.TimeoutException:
        raise KrbotError("source.timeout", seconds=int(puller.timeout)) from None
    except httpx.HTTPError as error:
        raise KrbotError("source.connect", detail=str(error)[:300] or type(error).__name__) from None
    if response.status_code >= 400:
        raise KrbotError("source.http_status", status=response.status_code)
    if len(response.content) > MAX_BYTES:
        raise KrbotError("source.too_big", limit=MAX_BYTES)
    try:
        document = response.json()
    except ValueError:
        raise KrbotError("source.not_json", start=response.text[:40]) from None
    matches = [match.value for match in expression.find(document)]
    if not matches:
        raise KrbotError("source.path_missing", path=json_path)
    if len(matches) > 1:
        raise KrbotError("source.path_many", path=json_path, count=len(matches))
    return scalar(value=matches[0])
