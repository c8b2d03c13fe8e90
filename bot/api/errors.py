"""Every /api/v1/ and hook refusal as JSON `{"error": {"code", "message", "field"}}` with its 4xx, in the reader's language."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from bot.api.bodies import BodyRefused
from bot.core.errors import KrbotError, NotAllowed
from bot.http import MAX_BODY, too_large_message
from bot.i18n import error_message, translate

log = logging.getLogger("krbot.api")

NOT_FOUND = frozenset({"code.unknown", "ask.unknown", "hook.unknown"})
CONFLICT = frozenset({"api.idempotency_in_flight", "ask.closed_cycle"})  # 409: the state of things stands in the way
BAD_REQUEST = frozenset({"api.idempotency_key"})  # 400: the request itself is malformed (a header no key can be)
FIELDS = {
    "code.unknown": "code",
    "checkin.no_code": "code",
    "checkin.not_owner": "code",
    "measure.none": "code",
    "checkin.empty": "values",
    "confidence.unreadable": "confidence",
    "checkin.before_cycle": "at",
    "checkin.after_cycle": "at",
    "checkin.future": "at",
    "time.unreadable": "at",
    "api.too_far": "at",
    "api.text_or_values": "text",
    "api.idempotency_key": "Idempotency-Key",
    "api.idempotency_mismatch": "Idempotency-Key",
    "api.idempotency_in_flight": "Idempotency-Key",
    "hook.no_value": "value",
}


class ApiError(Exception):
    """A refusal with its HTTP status, stable code, sentence and field."""

    def __init__(
        self, *, status: int, code: str, message: str, field: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers or {}


def field_of(error: KrbotError) -> str | None:
    """The request field a refusal concerns: a measure's value as `values.NAME`, the code, the time, the text."""
    if error.key in FIELDS:
        return FIELDS[error.key]
    if error.key in ("checkin.bad_value", "checkin.measure_twice"):
        return f"values.{error.params.get('measure', '')}"
    if error.key == "measure.unknown":
        return f"values.{error.params.get('word', '')}"
    if error.key.startswith("body."):  # the strict body reader names the place itself
        return str(error.params.get("field") or "body")
    if error.key == "hook.unknown_field":
        return str(error.params.get("word", ""))
    if error.key.startswith("command."):
        return "text"
    if error.key.startswith("value."):  # an ask's amount (a measure's value comes as checkin.bad_value)
        return "ask"
    return None


def refusal(error: KrbotError, *, lang: str) -> ApiError:
    """A service's refusal as the API answers it: 403 not allowed, 404 unknown code or ask, 409 in the way, 400 a
    malformed header, else 422."""
    status = (
        403 if isinstance(error, NotAllowed)
        else 404 if error.key in NOT_FOUND
        else 409 if error.key in CONFLICT
        else 400 if error.key in BAD_REQUEST
        else 422
    )
    return ApiError(status=status, code=error.key, message=error_message(error, lang=lang), field=field_of(error))


def error_response(error: ApiError) -> JSONResponse:
    """The JSON answer of one refusal."""
    body = {"error": {"code": error.code, "message": error.message, "field": error.field}}
    return JSONResponse(body, status_code=error.status, headers=error.headers)


def reader_language(request: Request) -> str:
    """The language to refuse in: the token person's once known, else what the client accepts (zh or en)."""
    caller = getattr(request.state, "caller", None)
    if caller is not None:
        return str(caller.lang)
    return accepted_language(request)


def accepted_language(request: Request) -> str:
    """zh when the client's Accept-Language starts with it, else en."""
    accepted = request.headers.get("accept-language", "").strip().lower()
    return "zh" if accepted.startswith("zh") else "en"


def _problem(item: dict[str, Any], *, lang: str) -> tuple[str, str]:
    """(field, what is wrong) of one pydantic error, in `lang` where the catalog has its kind, else pydantic's words."""
    place = [str(part) for part in item.get("loc", ()) if part not in ("body", "query", "path", "header")]
    if item.get("type") == "json_invalid":
        place = []  # its place is a character offset, not a field
    kind = f"api.invalid.{item.get('type', '')}"
    context = item.get("ctx") or {}
    allowed = str(context.get("expected", "")).replace("'", "")
    try:
        problem = translate(kind, lang=lang, allowed=allowed)
    except KeyError:
        problem = str(item.get("msg", "invalid"))
    return ".".join(place) or "body", problem


async def on_api_error(request: Request, error: Exception) -> JSONResponse:
    """An ApiError as its JSON answer."""
    assert isinstance(error, ApiError)
    return error_response(error)


async def _language_after_all(request: Request) -> str:
    """The reader's language when the refusal came before the token was read (bad JSON): read it now."""
    if getattr(request.state, "caller", None) is None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token.strip().isascii() and token.strip():
            from datetime import UTC, datetime

            from bot import services

            uow = request.app.state.uow
            found = await run_in_threadpool(
                lambda: services.token_caller(uow=uow, token=token.strip(), at=datetime.now(UTC))
            )
            if found is not None:
                request.state.caller = found
    return reader_language(request)


async def on_invalid(request: Request, error: Exception) -> JSONResponse:
    """FastAPI's own validation errors (bad JSON, a missing or mistyped field) in the same shape, as 422."""
    assert isinstance(error, RequestValidationError)
    lang = await _language_after_all(request)
    problems = [_problem(item, lang=lang) for item in error.errors()]
    field, problem = problems[0] if problems else ("body", "invalid")
    where = field if field != "body" else translate("api.body", lang=lang)
    message = translate("api.bad_body", lang=lang, where=where, problem=problem)
    return error_response(ApiError(status=422, code="api.bad_body", message=message, field=field))


async def on_http(request: Request, error: Exception) -> JSONResponse:
    """Starlette's 404 and 405 (no such path or method), a body refused as it was read (422) or over the limit (413),
    in the same shape."""
    assert isinstance(error, HTTPException)
    lang = await _language_after_all(request)
    if isinstance(error, BodyRefused):
        return error_response(refusal(error.error, lang=lang))
    path, method = request.url.path, request.method
    if error.status_code == 413:
        message = too_large_message(lang=lang, limit=getattr(error, "limit", MAX_BODY))
        return error_response(ApiError(status=413, code="http.too_large", message=message, headers={"Connection": "close"}))
    if error.status_code == 404:
        code, message = "api.not_found", translate("api.not_found", lang=lang, path=path)
    elif error.status_code == 405:
        code, message = "api.method", translate("api.method", lang=lang, method=method, path=path)
    else:
        code, message = "api.http", str(error.detail)
    return error_response(
        ApiError(status=error.status_code, code=code, message=message, headers=dict(error.headers or {}))
    )


async def on_crash(request: Request, error: Exception) -> JSONResponse:
    """A bug: logged with its traceback, answered 500 without one."""
    log.exception("API request failed: %s %s", request.method, request.url.path)
    return JSONResponse({"error": {"code": "api.internal", "message": "internal error", "field": None}}, 500)


HANDLERS = {ApiError: on_api_error, RequestValidationError: on_invalid, HTTPException: on_http, Exception: on_crash}
