"""The report pages: `/` (the week's report, conclusion first, a week picker), `/o/{code}` and `/kr/{code}`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse

from bot.core.rules import may_decide
from bot.core.weeks import neighbours, read_week
from bot.render import inline, line_renderer
from bot.services import web_pages
from bot.services.web_access import Viewer, this_week
from bot.web.auth import SignedIn, csrf_guard, reader_language
from bot.web.templating import page

router = APIRouter(dependencies=[Depends(csrf_guard)])
Week = Annotated[str | None, Query(max_length=16, description="An ISO week, 2026-W44 (default: this one).")]
Code = Annotated[str, Path(max_length=32)]


def report_view(request: Request, *, workspace: str, week: str | None, timezone: str, lang: str,
                viewer: Viewer | None, **extra: Any) -> HTMLResponse:
    """A week's report page (the signed-in one, or a share link's), the digest's own sentences laid out for the web."""
    if week is not None:
        year, number = read_week(text=week)
        week = f"{year}-W{number:02d}"
    now = request.app.state.clock()
    shown = web_pages.report(uow=request.app.state.uow, workspace=workspace, week=week, now=now, timezone=timezone)
    digest = shown.digest
    current = this_week(moment=now, timezone=timezone)
    week = week or current
    before, after = neighbours(text=week)
    return page(
        request, template="report.html.j2", lang=lang, tz=digest.timezone, viewer=viewer, d=digest,
        charts=shown.charts, line=line_renderer(digest=digest, lang=lang, escape=inline), week=week,
        before=before, after=None if week >= current else after, **extra,
    )


@router.get("/", response_class=HTMLResponse, summary="This week's report")
def report_page(request: Request, viewer: SignedIn, week: Week = None) -> HTMLResponse:
    """The digest as the chat surfaces show it, for this week or `?week=2026-W44` as it was then."""
    lang = reader_language(request, viewer)
    return report_view(request, workspace=viewer.workspace, week=week, timezone=viewer.timezone, lang=lang,
                       viewer=viewer, links=True, share=None, may_share=may_decide(person=viewer.as_person))


@router.get("/kr/{code}", response_class=HTMLResponse, summary="One KR")
def kr_page(request: Request, viewer: SignedIn, code: Code) -> HTMLResponse:
    """A KR: each measure's chart and numbers, its timeline newest first, RACI, path, tasks and backward plan."""
    shown = web_pages.kr_page(uow=request.app.state.uow, workspace=viewer.workspace, code=code,
                              at=request.app.state.clock())
    return page(request, template="code.html.j2", lang=reader_language(request, viewer), tz=viewer.timezone,
                viewer=viewer, p=shown)


@router.get("/o/{code}", response_class=HTMLResponse, summary="One objective")
def objective_page(request: Request, viewer: SignedIn, code: Code) -> HTMLResponse:
    """An objective: its measures' charts and numbers, its KRs with their status, its timeline newest first."""
    shown = web_pages.objective_page(uow=request.app.state.uow, workspace=viewer.workspace, code=code,
                                     at=request.app.state.clock())
    return page(request, template="code.html.j2", lang=reader_language(request, viewer), tz=viewer.timezone,
                viewer=viewer, p=shown)
