"""Signing in and out: the sign-in page, a one-time link (opened, then confirmed with one click, so that a link
preview fetching it uses nothing), signing out, and the zh/en switch."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bot.services.web_access import redeem_link, sign_out
from bot.web.auth import LANGUAGES, csrf_guard, reader_language, safe_target
from bot.web.templating import page

router = APIRouter(dependencies=[Depends(csrf_guard)])
Token = Annotated[str, Path(max_length=400)]
Next = Annotated[str | None, Query(alias="next", max_length=2000)]


@router.get("/signin", response_class=HTMLResponse, summary="How to sign in")
def signin_page(request: Request, target: Next = None) -> Response:
    """How to get a sign-in link; the page asked for is kept, to go on to once signed in."""
    request.session["next"] = safe_target(target)
    return page(request, template="signin.html.j2", lang=reader_language(request), viewer=None, token=None)


@router.get("/signin/{token}", response_class=HTMLResponse, summary="A sign-in link")
def signin_link(request: Request, token: Token) -> Response:
    """The link's page: one button signs in (a GET uses nothing, so a chat app's link preview cannot spend it)."""
    return page(request, template="signin.html.j2", lang=reader_language(request), viewer=None, token=token)


@router.post("/signin/{token}", summary="Sign in with a link")
def signin_post(request: Request, token: Token) -> Response:
    """Use the link, once: a session for its person, then on to the page that was asked for."""
    state = request.app.state
    session_id = redeem_link(uow=state.uow, token=token, at=state.clock(), secret_key=state.secret_key)
    if session_id is None:
        return page(request, template="message.html.j2", lang=reader_language(request), viewer=None, status=403,
                    title_key="web.link_refused_title", message=None, message_key="web.link_refused")
    target = safe_target(request.session.get("next"))
    language = request.session.get("lang")
    request.session.clear()  # a new session id and CSRF token: nothing of the anonymous visit carries over
    request.session["sid"] = session_id
    if language in LANGUAGES:
        request.session["lang"] = language
    return RedirectResponse(target, status_code=303)


@router.post("/signout", summary="Sign out")
def signout(request: Request) -> Response:
    """End the session at once (its cookie opens nothing any more) and go to the sign-in page."""
    session_id = request.session.get("sid")
    if isinstance(session_id, str):
        sign_out(uow=request.app.state.uow, session_id=session_id, at=request.app.state.clock())
    request.session.clear()
    return RedirectResponse("/signin", status_code=303)


@router.get("/lang/{lang}", summary="Read the pages in zh or en")
def switch_language(request: Request, lang: Annotated[str, Path(pattern="^(zh|en)$")], target: Next = None) -> Response:
    """Keep the chosen language in the session and go back to the page."""
    request.session["lang"] = lang
    return RedirectResponse(safe_target(target), status_code=303)
