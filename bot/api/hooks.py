"""`POST /hooks/{secret}`: one measure's value from a tool that cannot hold a token (a spreadsheet, n8n, an ERP job)."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qs

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from bot import services
from bot.api.bodies import parse_json
from bot.api.errors import ApiError, accepted_language, error_response, refusal
from bot.api.schemas import HookOut, saved_values
from bot.core.errors import KrbotError
from bot.i18n import translate

HOOK_FIELDS = ("value",)  # the one JSON field a hook takes


def value_of(*, body: bytes, content_type: str) -> Any:
    """The value a hook request carries: JSON `{"value": …}`, a form or text `value=…`, or the bare text; else None.

    A body that is no UTF-8, JSON nested past reason, NaN or Infinity, or a JSON field other than `value` is refused
    (KrbotError), as the API refuses them."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise KrbotError("body.utf8") from None
    if "json" in content_type or text.lstrip().startswith("{"):
        try:
            data = parse_json(body=body)
        except ValueError:
            return None
        if isinstance(data, dict):
            unknown = next((name for name in data if name not in HOOK_FIELDS), None)
            if unknown is not None:
                raise KrbotError("hook.unknown_field", word=unknown, fields=", ".join(HOOK_FIELDS))
        value = data.get("value") if isinstance(data, dict) else None
        return value if isinstance(value, int | float | str | bool) else None
    fields = parse_qs(text, keep_blank_values=True)
    if "value" in fields:
        return fields["value"][0]
    return text.strip() or None if "=" not in text else None


async def receive_hook(request: Request) -> JSONResponse:
    """Store the value as a check-in by the KR's owner: 201 as stored; 404 for an unknown or revoked secret
    (alike); 400 for a malformed Idempotency-Key; 409/422 for a key bound to another request; 422 with the §6
    refusal in the owner's language."""
    try:
        key = services.checked_key(key=request.headers.get("idempotency-key"))
    except KrbotError as error:
        return error_response(refusal(error, lang=accepted_language(request)))
    body = await request.body()
    try:
        value, unreadable = value_of(body=body, content_type=request.headers.get("content-type", "")), None
    except KrbotError as error:
        value, unreadable = None, error
    try:
        reply, workspace = await run_in_threadpool(
            lambda: services.hook_checkin(
                uow=request.state.uow, secret=request.path_params["secret"], value=value, now=request.state.clock(),
                key=key, body=body, unreadable=unreadable,
            )
        )
    except services.HookRefused as refused:
        return error_response(refusal(refused.error, lang=refused.lang))
    except KrbotError as error:  # hook.unknown: nobody to speak to yet
        return error_response(ApiError(status=404, code=error.key, message=translate(error.key, lang="en")))
    params = reply.params
    shown = HookOut(
        code=params.get("code", ""), values=saved_values(params=params),
        message=translate(reply.key, lang=reply.lang, **params),
    )
    tell = request.state.tell
    later = None
    if tell is not None and reply.notices:  # a drop in status: the consulted hear it, once, as after a chat check-in
        once = uuid.uuid4().hex if key is None else services.request_key(scope=request.path_params["secret"], key=key)
        later = BackgroundTask(tell, reply, workspace, f"hook:{once}")
    return JSONResponse(shown.model_dump(), status_code=201, background=later)
