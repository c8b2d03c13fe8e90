"""The one HTTP server of `krbot run --http`: Slack's and Feishu's callback routes and /healthz, on uvicorn."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


def build_http_app(*, routes: Sequence[Any], health: Callable[[], dict[str, Any]]) -> Starlette:
    """An ASGI app with the platforms' routes and a /healthz that answers 503 when anything is down."""

    async def healthz(_request: Request) -> JSONResponse:
        report = health()
        return JSONResponse(report, status_code=200 if report.get("ok") else 503)

    return Starlette(routes=[Route("/healthz", healthz, methods=["GET"]), *routes])


def serve_http(*, app: Starlette, port: int, host: str = "0.0.0.0") -> None:  # noqa: S104 - a server listens
    """Serve until interrupted, with uvicorn (a production ASGI server)."""
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)
