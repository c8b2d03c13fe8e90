"""The HTTP API edge (CONTRACT §9): /api/v1/ with bearer tokens, and per-measure hooks; it calls bot.services only."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from starlette.routing import Mount, Route

from bot.api.app import build_api
from bot.api.auth import now
from bot.api.hooks import receive_hook

PREFIX = "/api/v1"


def api_routes(
    *, uow: Any, tell: Callable[[Any, str, str], None] | None = None, clock: Callable[[], datetime] = now
) -> list[Any]:
    """The routes `krbot run --http` adds: /api/v1/ (FastAPI, its OpenAPI at /api/v1/openapi.json, docs at
    /api/v1/docs) and POST /hooks/{secret}."""
    api = build_api(uow=uow, tell=tell, clock=clock)
    hook = _with_state(receive_hook, uow=uow, clock=clock, tell=tell)
    return [Mount(PREFIX, app=api), Route("/hooks/{secret}", hook, methods=["POST"])]


def _with_state(
    endpoint: Callable[..., Any], *, uow: Any, clock: Callable[[], datetime], tell: Callable[..., None] | None
) -> Callable[..., Any]:
    """The hook endpoint with the unit of work, clock and notice teller at hand (the outer app holds none of ours)."""

    async def handle(request: Any) -> Any:
        request.state.uow = uow
        request.state.clock = clock
        request.state.tell = tell
        return await endpoint(request)

    return handle


__all__ = ["PREFIX", "api_routes", "build_api"]
