"""Who a web request acts as (the session cookie's person, checked on every request), its language, and the CSRF
token every POST must carry (403 without)."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated
from urllib.parse import parse_qs, quote

from fastapi import Depends, HTTPException, Request

from bot.services.web_access import Viewer, viewer_of

LANGUAGES = ("zh", "en")


class SignInNeeded(Exception):
    """No live session: the page answers with a redirect to sign-in, keeping where the reader was going."""

    def __init__(self, *, target: str) -> None:
        super().__init__(target)
        self.target = target


def csrf_token(request: Request) -> str:
    """The session's CSRF token (made on first use); every form posts it back."""
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(24)
    return token


async def form_of(request: Request) -> dict[str, str]:
    """A posted form's fields (application/x-www-form-urlencoded), read once per request; the last value of a name."""
    cached = getattr(request.state, "form", None)
    if cached is None:
        body = (await request.body()).decode("utf-8", "replace")
        cached = {name: values[-1] for name, values in parse_qs(body, keep_blank_values=True).items()}
        request.state.form = cached
    return cached


async def csrf_guard(request: Request) -> None:
    """Refuse (403) a POST whose CSRF token (form field `csrf` or header X-CSRF-Token) is not the session's."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    expected = request.session.get("csrf") or ""
    given = request.headers.get("x-csrf-token") or (await form_of(request)).get("csrf", "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(status_code=403, detail="web.csrf")


def reader_language(request: Request, viewer: Viewer | None = None, default: str | None = None) -> str:
    """The language chosen with the zh/en switch, else the viewer's own (or `default`), else the browser's."""
    chosen = request.session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    if viewer is not None:
        return viewer.lang
    if default in LANGUAGES:
        return default
    accepted = request.headers.get("accept-language", "").lower()
    return "zh" if accepted.startswith("zh") else "en"


def current_viewer(request: Request) -> Viewer:
    """The signed-in person, read again on every request (a signed-out session or an archived person is nobody)."""
    session_id = request.session.get("sid")
    viewer = None
    if isinstance(session_id, str):
        viewer = viewer_of(uow=request.app.state.uow, session_id=session_id, at=request.app.state.clock())
    if viewer is None:
        request.session.pop("sid", None)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInNeeded(target=target)
    request.state.viewer = viewer
    return viewer


def sign_in_url(*, target: str) -> str:
    """The sign-in page, with the page to come back to."""
    return "/signin?next=" + quote(target, safe="")


def safe_target(target: str | None) -> str:
    """A place to go back to after sign-in or the language switch: a path of this site only, else `/`."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


SignedIn = Annotated[Viewer, Depends(current_viewer)]
__all__ = ["SignedIn", "csrf_guard", "csrf_token", "current_viewer", "form_of", "reader_language"]
