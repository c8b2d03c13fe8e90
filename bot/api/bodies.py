"""Request bodies read strictly: UTF-8 JSON, not nested past reason, with finite numbers only (the API and hooks)."""

from __future__ import annotations

import json
import math
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request

from bot.core.errors import KrbotError

NOT_FINITE = object()  # what NaN, Infinity and numbers past a float's range read as, until they are refused by name


def _number(text: str) -> Any:
    """A JSON number with a fraction or exponent; 1e400 is no number krbot can hold."""
    number = float(text)
    return number if math.isfinite(number) else NOT_FINITE


def _place(path: tuple[str, ...]) -> str:
    """A value's place in the body as the API names fields: `values.GMV`, `ask`, or `body` for the whole."""
    return ".".join(path) or "body"


def parse_json(*, body: bytes) -> Any:
    """The JSON a body holds; refused by kind (`body.utf8`, `body.nested`, `body.not_finite` naming the field).

    Text that is no JSON at all raises json.JSONDecodeError, as json.loads does."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise KrbotError("body.utf8") from None
    try:
        data = json.loads(text, parse_constant=lambda _: NOT_FINITE, parse_float=_number)
    except RecursionError:
        raise KrbotError("body.nested") from None
    except ValueError as error:
        if isinstance(error, json.JSONDecodeError):
            raise
        raise KrbotError("body.not_finite", field="body") from None  # an integer of thousands of digits
    pending: list[tuple[tuple[str, ...], Any]] = [((), data)]
    while pending:  # depth-first without recursion: the body is as deep as json.loads allowed
        path, value = pending.pop()
        if value is NOT_FINITE or (isinstance(value, int) and not isinstance(value, bool) and abs(value) > 1e308):
            raise KrbotError("body.not_finite", field=_place(path))
        if isinstance(value, dict):
            pending.extend(((*path, str(name)), item) for name, item in reversed(value.items()))
        elif isinstance(value, list):
            pending.extend(((*path, str(index)), item) for index, item in reversed(list(enumerate(value))))
    return data


class BodyRefused(HTTPException):
    """A body the strict reader refused, carried through FastAPI's body parsing (which lets HTTP errors pass)."""

    def __init__(self, error: KrbotError) -> None:
        super().__init__(status_code=422, detail=error.key)
        self.error = error


class StrictRequest(Request):
    """A request whose JSON is read by parse_json: FastAPI validates what it returns."""

    async def json(self) -> Any:
        """The body's JSON, or BodyRefused."""
        if not hasattr(self, "_json"):
            try:
                self._json = parse_json(body=await self.body())
            except KrbotError as error:
                raise BodyRefused(error) from None
        return self._json
