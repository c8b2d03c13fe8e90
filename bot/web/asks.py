"""`/asks`: the cycle's asks, open and decided; the boss or an admin approves or declines each with an optional
comment, once — through the same decision the chat's buttons make, so the loser of a race is told who decided."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bot import services
from bot.core.rules import may_decide
from bot.i18n import translate
from bot.services.my_week import all_asks
from bot.services.web_access import Viewer
from bot.web.auth import SignedIn, csrf_guard, form_of, reader_language
from bot.web.templating import page

router = APIRouter(dependencies=[Depends(csrf_guard)])
AskId = Annotated[int, Path(ge=1, le=2**31 - 1)]
DECISIONS = {"approve": True, "decline": False}


def _asks_page(request: Request, viewer: Viewer, *, said: dict[str, str] | None = None, status: int = 200
               ) -> HTMLResponse:
    opened, decided = all_asks(uow=request.app.state.uow, at=request.app.state.clock(), workspace=viewer.workspace)
    return page(request, template="asks.html.j2", lang=reader_language(request, viewer), tz=viewer.timezone,
                viewer=viewer, opened=opened, decided=decided, decides=may_decide(person=viewer.as_person),
                said=said, status=status, once=secrets.token_urlsafe(12))


@router.get("/asks", response_class=HTMLResponse, summary="Asks, open and decided")
def asks_page(request: Request, viewer: SignedIn) -> HTMLResponse:
    """Open asks first (with approve/decline for the boss or an admin), then the decided ones with who and why."""
    return _asks_page(request, viewer, said=request.session.pop("said", None))


@router.post("/asks/{ask_id}/decision", summary="Approve or decline an ask")
async def decide(request: Request, viewer: SignedIn, ask_id: AskId, background: BackgroundTasks) -> Response:
    """Decide as the chat buttons do (boss or admin only, else 403): the first decision wins, a later one is told who
    decided; the asker is told in chat after the answer."""
    if not may_decide(person=viewer.as_person):
        raise HTTPException(status_code=403, detail="web.asks_not_allowed")
    form = await form_of(request)
    choice = form.get("decision", "")
    if choice not in DECISIONS:
        raise HTTPException(status_code=400, detail="web.asks_decision_unknown")
    state = request.app.state
    reply = services.decide_ask(
        uow=state.uow, person=viewer.person, ask_id=ask_id, approve=DECISIONS[choice], at=state.clock(),
        workspace=viewer.workspace, comment=form.get("comment"),
        event_key=f"web:{viewer.session[:16]}:{form.get('once', '')[:40]}" if form.get("once") else None,
    )
    if reply.shows is services.Shows.DECISION and reply.notices and state.tell is not None:
        background.add_task(state.tell, reply, viewer.workspace, f"web-ask:{ask_id}")
    lang = reader_language(request, viewer)
    said = {"id": str(ask_id), "text": translate(reply.key, lang=lang, **reply.params),
            "kind": "done" if reply.shows is services.Shows.DECISION else "lost"}
    request.session["said"] = said
    return RedirectResponse("/asks", status_code=303)
