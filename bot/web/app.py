"""The web pages' application (CONTRACT §10): its session cookie, security headers, static files and error pages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.core.errors import KrbotError
from bot.i18n import error_message
from bot.services.web_access import SESSION_DAYS
from bot.services.web_pages import NotFound
from bot.web.auth import SignInNeeded, reader_language, sign_in_url
from bot.web.routes import routers
from bot.web.templating import page

STATIC = Path(__file__).resolve().parent / "static"
COOKIE = "krbot_session"
# No inline script and nothing from elsewhere: scripts, styles and images come from this site (charts are inline SVG).
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),  # a sign-in link in the address bar never travels on as a referrer
    (b"x-frame-options", b"DENY"),
]


def now() -> datetime:
    """The real clock."""
    return datetime.now(UTC)


class _SecurityHeaders:
    """Put the CSP and its companions on every answer of the web pages."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)


def _viewer_lang(request: Request) -> str:
    return reader_language(request, getattr(request.state, "viewer", None))


async def _sign_in(request: Request, error: Exception) -> Response:
    assert isinstance(error, SignInNeeded)
    return RedirectResponse(sign_in_url(target=error.target), status_code=303)


async def _not_found(request: Request, error: Exception) -> Response:
    lang = _viewer_lang(request)
    return page(request, template="message.html.j2", lang=lang,
                viewer=getattr(request.state, "viewer", None), status=404, title_key="web.not_found_title",
                message=error_message(error, lang=lang) if isinstance(error, KrbotError) else "")


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    lang = _viewer_lang(request)
    if error.status_code == 404:
        return await _not_found(request, error)
    key = error.detail if isinstance(error.detail, str) and error.detail.startswith("web.") else "web.refused"
    return page(request, template="message.html.j2", lang=lang,
                viewer=getattr(request.state, "viewer", None), status=error.status_code, title_key="web.refused_title",
                message=error_message(KrbotError(key), lang=lang))


async def _refused(request: Request, error: Exception) -> Response:
    assert isinstance(error, KrbotError)
    lang = _viewer_lang(request)
    return page(request, template="message.html.j2", lang=lang,
                viewer=getattr(request.state, "viewer", None), status=400, title_key="web.refused_title",
                message=error_message(error, lang=lang))


async def _bad_request(request: Request, error: Exception) -> Response:
    return await _not_found(request, error)  # a path parameter out of shape names no page


def build_web(
    *, uow: Any, secret_key: str, public_url: str, clock: Callable[[], datetime] = now,
    tell: Callable[[Any, str, str], None] | None = None,
) -> FastAPI:
    """The web pages over `uow`, signed with `secret_key`; cookies are Secure when `public_url` is https."""
    web = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    web.state.uow, web.state.clock, web.state.tell = uow, clock, tell
    web.state.secret_key, web.state.public_url = secret_key, public_url.rstrip("/")
    for router in routers():
        web.include_router(router)
    web.mount("/static", StaticFiles(directory=STATIC), name="static")
    web.add_middleware(SessionMiddleware, secret_key=secret_key, session_cookie=COOKIE,
                       max_age=SESSION_DAYS * 86400, same_site="lax", https_only=public_url.startswith("https://"))
    web.add_middleware(_SecurityHeaders)
    handlers: dict[Any, Any] = {SignInNeeded: _sign_in, NotFound: _not_found, HTTPException: _http_error,
                                KrbotError: _refused, RequestValidationError: _bad_request}
    for kind, handler in handlers.items():
        web.add_exception_handler(kind, handler)
    return web
