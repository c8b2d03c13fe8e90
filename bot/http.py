"""The one HTTP server of `krbot run --http`: the platforms' callback routes, /healthz and /metrics, on uvicorn."""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.i18n import translate
from bot.metrics import REQUEST_LATENCY, exposition

GRACEFUL_SECONDS = 5  # on SIGTERM uvicorn stops taking connections and gives the requests under way this long
MAX_BODY = 1024 * 1024  # a platform callback is a few kilobytes; anything over 1 MB is refused while it streams in


class _TooLarge(HTTPException):
    """The request body passed the limit while it was being received (an HTTP error, so that a framework reading the
    body, FastAPI's included, lets it pass instead of answering 400)."""

    def __init__(self, *, limit: int) -> None:
        super().__init__(status_code=413, detail="http.too_large")
        self.limit = limit


class _BodyLimit:
    """Answer 413 to a body over `limit` bytes: at once by its Content-Length, else as soon as the count passes it.

    The body is never read whole: the receive channel stops at the limit and the connection is closed unread.
    """

    def __init__(self, app: ASGIApp, *, limit: int = MAX_BODY) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            await _too_large(send, headers=scope["headers"], limit=self.limit)
            return
        received = 0
        started = False

        async def counting_receive() -> Any:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _TooLarge(limit=self.limit)
            return message

        async def watching_send(message: Any) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except _TooLarge:
            if started:
                raise
            await _too_large(send, headers=scope["headers"], limit=self.limit)


def size_text(*, limit: int) -> str:
    """A body limit as people read it: 1 MB, 64 KB, 500 bytes."""
    for unit, size in (("MB", 1024 * 1024), ("KB", 1024)):
        if limit >= size and limit % size == 0:
            return f"{limit // size} {unit}"
    return f"{limit} bytes"


def too_large_message(*, lang: str, limit: int) -> str:
    """What a 413 says: the body is over the limit, and what to send instead."""
    return translate("http.too_large", lang=lang, limit=size_text(limit=limit))


def too_large_body(*, headers: Any, limit: int) -> bytes:
    """The 413 answer's JSON, in the error shape of /api/v1 and /hooks, in the language the client accepts."""
    accepted = dict(headers).get(b"accept-language", b"").decode("latin-1").strip().lower()
    message = too_large_message(lang="zh" if accepted.startswith("zh") else "en", limit=limit)
    return json.dumps({"error": {"code": "http.too_large", "message": message, "field": None}},
                      ensure_ascii=False).encode()


async def _too_large(send: Send, *, headers: Any, limit: int) -> None:
    """The 413 answer; the connection is closed, so the rest of the body is never read."""
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": too_large_body(headers=headers, limit=limit)})


async def _on_too_large(request: Request, error: Exception) -> Response:
    """A body over the limit found by a route reading it: the same JSON 413 (no route turns it into a 400 or 500)."""
    limit = error.limit if isinstance(error, _TooLarge) else MAX_BODY
    return Response(too_large_body(headers=request.scope["headers"], limit=limit), status_code=413,
                    media_type="application/json", headers={"Connection": "close"})


def _bearer_matches(request: Request, token: str | None) -> bool:
    """True when `token` is set and the request carries it as `Authorization: Bearer …`."""
    if not token:
        return False
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


class _Timing:
    """Observe each HTTP request's latency under its route (plain ASGI: no extra task or stream per request).

    Paths that are no route are counted as "other", so that a scanner's random URLs add no new series; a path under a
    mounted app or a route with a parameter counts under its fixed start (`/api/v1/*`, `/hooks/*`).
    """

    def __init__(self, app: ASGIApp, *, paths: frozenset[str], prefixes: tuple[str, ...] = ()) -> None:
        self.app = app
        self.paths = paths
        self.prefixes = prefixes

    def route_of(self, path: str) -> str:
        """The series a path is counted under."""
        if path in self.paths:
            return path
        return next((f"{prefix}*" for prefix in self.prefixes if path.startswith(prefix)), "other")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            REQUEST_LATENCY.labels(route=self.route_of(scope["path"])).observe(time.perf_counter() - started)


def build_http_app(
    *,
    routes: Sequence[Any],
    health: Callable[[], dict[str, Any]],
    metrics_token: str | None = None,
    max_body: int = MAX_BODY,
) -> Starlette:
    """An ASGI app with the platforms' routes, a /healthz that answers 503 when anything is down, and /metrics.

    With `metrics_token` set, /metrics wants it as a bearer token (401 without) and /healthz shows its details
    only to that token; without it /healthz says ok or not and nothing else, and /metrics is open.
    """

    async def healthz(request: Request) -> JSONResponse:
        report = await run_in_threadpool(health)  # it waits on the database (a second at most): never on the loop
        status = 200 if report.get("ok") else 503
        if _bearer_matches(request, metrics_token):
            return JSONResponse(report, status_code=status)
        return JSONResponse({"ok": bool(report.get("ok"))}, status_code=status)

    async def metrics(request: Request) -> Response:
        if metrics_token and not _bearer_matches(request, metrics_token):
            return Response("Bearer token required (KRBOT_METRICS_TOKEN)\n", status_code=401,
                            headers={"WWW-Authenticate": "Bearer"}, media_type="text/plain")
        body, content_type = exposition()
        return Response(body, media_type=content_type)

    every = [Route("/healthz", healthz, methods=["GET"]), Route("/metrics", metrics, methods=["GET"]), *routes]
    paths = frozenset(route.path for route in every if "{" not in route.path and not isinstance(route, Mount))
    prefixes = tuple(
        route.path + "/" if isinstance(route, Mount) else route.path.split("{", 1)[0]
        for route in every
        if isinstance(route, Mount) or "{" in route.path
    )
    return Starlette(
        routes=every,
        middleware=[Middleware(_BodyLimit, limit=max_body), Middleware(_Timing, paths=paths, prefixes=prefixes)],
        exception_handlers={_TooLarge: _on_too_large},
    )


def serve_http(*, app: Starlette, port: int, host: str = "0.0.0.0") -> None:  # noqa: S104 - a server listens
    """Serve until interrupted, with uvicorn (a production ASGI server); SIGTERM stops taking connections, lets the
    requests under way finish (GRACEFUL_SECONDS at most), then raises SIGTERM again for `krbot run` to drain the rest."""
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False, log_config=None,
                timeout_graceful_shutdown=GRACEFUL_SECONDS)
