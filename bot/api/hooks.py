"""`POST /hooks/{secret}`: one measure's value from a tool that cannot hold a token (a spreadsheet, n8n, an ERP job)."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import parse_qs

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from bot import services
from bot.api.auth import MAX_KEY
from bot.api.errors import ApiError, error_response, refusal
from bot.api.schemas import HookOut, saved_values
from bot.core.errors import KrbotError
from bot.i18n import translate


def value_of(*, body: bytes, content_type: str) -> Any:
    """The value a hook request carries: JSON `{"value": …}`, a form or text `value=…`, or the bare text; else None."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if "json" in content_type or text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            return None
        value = data.get("value") if isinstance(data, dict) else None
        return value if isinstance(value, int | float | str | bool) else None
    fields = parse_qs(text, keep_blank_values=True)
    if "value" in fields:
        return fields["value"][0]
    return text.strip() or None if "=" not in text else None


async def receive_hook(request: Request) -> JSONResponse:
    """Store the value as a check-in by the KR's owner: 201 as stored; 404 for an unknown or revoked secret
    (alike); 422 with the §6 refusal in the owner's language."""
    body = await request.body()
    value = value_of(body=body, content_type=request.headers.get("content-type", ""))
    key = request.headers.get("idempotency-key")
    key = key.strip()[:MAX_KEY] if key and key.strip() else None
    try:
        reply, workspace = await run_in_threadpool(
            lambda: services.hook_checkin(
                uow=request.state.uow, secret=request.path_params["secret"], value=value, now=request.state.clock(), key=key
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
