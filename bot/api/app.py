"""The FastAPI application of /api/v1/: its routes, its one error shape, and the OpenAPI document generated from them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import FastAPI

from bot.api.auth import now
from bot.api.errors import HANDLERS
from bot.api.routes import router

DESCRIPTION = (
    "Check in, read the OKR tree and the digest, list and decide asks — as the person a bearer token "
    "(`krbot token create --as PERSON`) acts as, with exactly that person's rights. Errors are JSON "
    "`{\"error\": {\"code\", \"message\", \"field\"}}` in that person's language."
)


def build_api(
    *,
    uow: Any,
    tell: Callable[[Any, str, str], None] | None = None,
    clock: Callable[[], datetime] = now,
) -> FastAPI:
    """The API over `uow`; `tell(reply, workspace, cause)` delivers a stored reply's notices after the answer;
    `clock` is the time each request is stored at (the real one but in tests)."""
    api = FastAPI(
        title="krbot API",
        version="1",
        description=DESCRIPTION,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    api.state.uow = uow
    api.state.tell = tell
    api.state.clock = clock
    for kind, handler in HANDLERS.items():
        api.add_exception_handler(kind, handler)
    api.include_router(router)
    return api
