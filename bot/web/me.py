"""`/me`: my week — what I owe this period, a check-in form per KR I report on (stored by the same service as the
chat's check-in form, answered with the same echo), my open asks and the asks waiting on my decision."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bot import services
from bot.core.errors import KrbotError
from bot.i18n import error_message
from bot.render import render_reply
from bot.services.my_week import MyWeek, my_week
from bot.services.web_access import Viewer
from bot.web.auth import SignedIn, csrf_guard, form_of, reader_language
from bot.web.templating import page

router = APIRouter(dependencies=[Depends(csrf_guard)])
Code = Annotated[str, Path(max_length=32)]
MEASURE = "m:"  # a form field named "m:<measure name>" carries that measure's value as typed
FIELDS = ("note", "next", "risk", "ask")


def _week(request: Request, viewer: Viewer) -> MyWeek:
    return my_week(uow=request.app.state.uow, person=viewer.person, at=request.app.state.clock(),
                   workspace=viewer.workspace)


def _me_page(request: Request, viewer: Viewer, *, status: int = 200, failed: dict[str, Any] | None = None,
             echo: dict[str, str] | None = None) -> HTMLResponse:
    """The whole page; `failed` keeps one form's typed text and its errors, `echo` the last saved check-in's answer."""
    return page(request, template="me.html.j2", lang=reader_language(request, viewer), tz=viewer.timezone,
                viewer=viewer, w=_week(request, viewer), failed=failed or {}, echo=echo, once=secrets.token_urlsafe(12),
                status=status)


@router.get("/me", response_class=HTMLResponse, summary="My week")
def me_page(request: Request, viewer: SignedIn) -> HTMLResponse:
    """What I owe this period, a check-in form per KR I report on, my asks and those waiting on my decision."""
    return _me_page(request, viewer, echo=request.session.pop("echo", None))


@router.post("/me/checkin/{code}", summary="Check in on one of my KRs")
async def checkin(request: Request, viewer: SignedIn, code: Code, background: BackgroundTasks) -> Response:
    """Store the form as the chat's check-in form is stored (§6 rules, once per form); htmx gets the echo in place,
    a plain form post a redirect to /me with the echo on top; refusals come back beside their fields."""
    form = await form_of(request)
    state, htmx = request.app.state, request.headers.get("hx-request") == "true"
    values = {name.removeprefix(MEASURE): text for name, text in form.items() if name.startswith(MEASURE)}
    lang = reader_language(request, viewer)
    try:
        reply, problems = services.record_form(
            uow=state.uow, person=viewer.person, code=code, values=values, note=form.get("note"),
            confidence=form.get("confidence"), next_step=form.get("next"), risk=form.get("risk"), ask_text=form.get("ask"), ask_kind=None,
            ask_amount=None, at=state.clock(), workspace=viewer.workspace, source="web",
            event_key=f"web:{viewer.session[:16]}:{form.get('once', '')[:40]}" if form.get("once") else None,
        )
    except KrbotError as error:  # not mine, unknown code: said on the form, nothing stored
        reply, problems = None, {"form": error}
    if reply is None:
        errors = {name: error_message(error, lang=lang) for name, error in problems.items()}
        failed = {"code": code.upper(), "typed": dict(form), "errors": errors}
        if htmx:
            row = next((r for r in _week(request, viewer).rows if r["code"] == code.upper()), None)
            return page(request, template="me_form.html.j2", lang=lang, tz=viewer.timezone, viewer=viewer, row=row,
                        failed=failed, echo=None, once=form.get("once", ""), w=None, status=200)
        return _me_page(request, viewer, status=400, failed=failed)
    if reply.notices and state.tell is not None:
        background.add_task(state.tell, reply, viewer.workspace, f"web:{form.get('once') or secrets.token_hex(8)}")
    echo = {"code": code.upper(), "text": render_reply(reply=reply)}
    if htmx:
        week = _week(request, viewer)
        row = next((r for r in week.rows if r["code"] == code.upper()), None)
        return page(request, template="me_swap.html.j2", lang=lang, tz=viewer.timezone, viewer=viewer, row=row,
                    failed={}, echo=echo, once=secrets.token_urlsafe(12), w=week)
    request.session["echo"] = echo
    return RedirectResponse(f"/me#kr-{code.upper()}", status_code=303)
