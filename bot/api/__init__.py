"""The HTTP API edge (CONTRACT §9): /api/v1/ with bearer tokens, and per-measure hooks; it calls bot.services only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.routing import Mount, Route

from bot.api.app import build_api
from bot.api.hooks import receive_hook

PREFIX = "/api/v1"


def api_routes(*, uow: Any, tell: Callable[[Any, str, str], None] | None = None) -> list[Any]:
    """The routes `krbot run --http` adds: /api/v1/ (FastAPI, its OpenAPI at /api/v1/openapi.json, docs at
    /api/v1/docs) and POST /hooks/{secret}."""
    api = build_api(uow=uow, tell=tell)
    return [Mount(PREFIX, app=api), Route("/hooks/{secret}", _with_uow(receive_hook, uow=uow), methods=["POST"])]


def _with_uow(endpoint: Callable[..., Any], *, uow: Any) -> Callable[..., Any]:
    """The hook endpoint with the unit of work at hand (the outer Starlette app holds no state of ours)."""

    async def handle(request: Any) -> Any:
        request.state.uow = uow
        return await endpoint(request)

    return handle


__all__ = ["PREFIX", "api_routes", "build_api"]
