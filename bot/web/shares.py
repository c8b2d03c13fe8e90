"""Read-only share links of one week's report: made by the boss or an admin (a button on `/`), opened without a
session, showing that report alone — no links into the workspace, no decision buttons."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from bot.core.rules import may_decide
from bot.services import workspace_language, workspace_timezone
from bot.services.web_access import create_share, share_of
from bot.web.auth import SignedIn, csrf_guard, form_of, reader_language
from bot.web.pages import report_view
from bot.web.templating import page

router = APIRouter(dependencies=[Depends(csrf_guard)])


@router.post("/shares", response_class=HTMLResponse, summary="Make a share link")
async def make_share(request: Request, viewer: SignedIn) -> Response:
    """A share link of the week on the form, for the person named on it; the boss or an admin only (403 otherwise)."""
    if not may_decide(person=viewer.as_person):
        raise HTTPException(status_code=403, detail="web.share_not_allowed")
    form = await form_of(request)
    state = request.app.state
    share_id, url = await run_in_threadpool(
        lambda: create_share(uow=state.uow, week=form.get("week", ""), made_for=form.get("made_for", ""),
                             at=state.clock(), secret_key=state.secret_key, public_url=state.public_url,
                             by=viewer.person, workspace=viewer.workspace))
    return page(request, template="shared.html.j2", lang=reader_language(request, viewer), tz=viewer.timezone,
                viewer=viewer, share_id=share_id, url=url, week=form.get("week", ""),
                made_for=" ".join(form.get("made_for", "").split()))


@router.get("/share/{token}", response_class=HTMLResponse, summary="A shared week's report")
def shared_report(request: Request, token: Annotated[str, Path(max_length=400)]) -> Response:
    """The week's report as the share link names it, read-only; 404 for a forged link, 410 once expired or revoked."""
    state = request.app.state
    share = share_of(uow=state.uow, token=token, at=state.clock(), secret_key=state.secret_key)
    if share is None:
        raise HTTPException(status_code=404)
    lang = reader_language(request, default=workspace_language(uow=state.uow, workspace=share.workspace))
    if not share.live:
        return page(request, template="message.html.j2", lang=lang, viewer=None, status=410,
                    title_key="web.share_gone_title", message=None, message_key="web.share_gone")
    timezone = workspace_timezone(uow=state.uow, workspace=share.workspace)
    return report_view(request, workspace=share.workspace, week=share.week, timezone=timezone, lang=lang, viewer=None,
                       links=False, share=share, may_share=False)
