"""The one HTTP server of `krbot run --http`: the platforms' callback routes, /healthz and /metrics, on uvicorn."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.metrics import REQUEST_LATENCY, exposition


class _Timing:
    """Observe each HTTP request's latency under its route (plain ASGI: no extra task or stream per request).

    Paths that are no route are counted as "other", so that a scanner's random URLs add no new series.
    """

    def __init__(self, app: ASGIApp, *, paths: frozenset[str]) -> None:
        self.app = app
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            route = scope["path"] if scope["path"] in self.paths else "other"
            REQUEST_LATENCY.labels(route=route).observe(time.perf_counter() - started)


def build_http_app(*, routes: Sequence[Any], health: Callable[[], dict[str, Any]]) -> Starlette:
    """An ASGI app with the platforms' routes, a /healthz that answers 503 when anything is down, and /metrics."""

    async def healthz(_request: Request) -> JSONResponse:
        report = health()
        return JSONResponse(report, status_code=200 if report.get("ok") else 503)

    async def metrics(_request: Request) -> Response:
        body, content_type = exposition()
        return Response(body, media_type=content_type)

    every = [Route("/healthz", healthz, methods=["GET"]), Route("/metrics", metrics, methods=["GET"]), *routes]
    return Starlette(routes=every, middleware=[Middleware(_Timing, paths=frozenset(route.path for route in every))])


def serve_http(*, app: Starlette, port: int, host: str = "0.0.0.0") -> None:  # noqa: S104 - a server listens
    """Serve until interrupted, with uvicorn (a production ASGI server)."""
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False, log_config=None)
