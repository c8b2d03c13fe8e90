"""Reading signed platform payloads defensively: a field of the wrong shape is a Malformed request (4xx), never a crash."""

from __future__ import annotations

import json
from typing import Any


class Malformed(ValueError):
    """A signed request whose payload is not what the platform sends: answered 400, logged without a traceback."""


def loads(*, text: str) -> dict[str, Any]:
    """A JSON object from text; Malformed for bad JSON, another type, or nesting too deep to read."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise Malformed(f"not JSON: {type(error).__name__}") from None
    if not isinstance(value, dict):
        raise Malformed(f"JSON {type(value).__name__}, not an object")
    return value


def decode(*, body: bytes) -> str:
    """A request body as UTF-8 text; Malformed when it is not."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise Malformed("body is not UTF-8") from None


def node(data: Any, *path: str) -> dict[str, Any]:
    """The object at `path` inside `data`; Malformed when any step is missing or not an object."""
    for step in path:
        data = data.get(step) if isinstance(data, dict) else None
    if not isinstance(data, dict):
        raise Malformed(f"{'.'.join(path) or 'payload'} is not an object")
    return data


def text(data: Any, *path: str, default: str | None = None) -> str:
    """The string at `path` inside `data` (`default` when absent and one is given); Malformed otherwise."""
    value: Any = data
    for step in path:
        value = value.get(step) if isinstance(value, dict) else None
    if value is None and default is not None:
        return default
    if not isinstance(value, str):
        raise Malformed(f"{'.'.join(path)} is not a string")
    return value


def integer(value: Any) -> int:
    """An id written as a number or digits; Malformed otherwise."""
    if isinstance(value, bool):
        raise Malformed("a boolean where an id belongs")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 18:
        return int(value)
    raise Malformed("not an id")
