"""The /api/v1/ operations: each reads its request, calls one service as the token's person, and shapes the answer."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from contextlib import AbstractContextManager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from fastapi.routing import APIRoute

from bot import services
from bot.api.auth import Caller, IdempotencyKey, KeyIn
from bot.api.bodies import StrictRequest
from bot.api.errors import ApiError, refusal
from bot.api.schemas import (
    AskOut,
    AsksOut,
    CheckinIn,
    CheckinOut,
    DecisionIn,
    DecisionOut,
    OkrsOut,
    checkin_out,
    errors,
)
from bot.core.errors import KrbotError
from bot.i18n import translate
from bot.render import REPORT_CSP


class StrictRoute(APIRoute):
    """A route whose JSON body is read strictly (bot.api.bodies): no NaN, no invalid UTF-8, no endless nesting."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """FastAPI's handler, given the strict request."""
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(StrictRequest(request.scope, request.receive))

        return strict


router = APIRouter(route_class=StrictRoute)
MAX_ID = 2**31 - 1  # the largest id a database integer holds: larger ones are no ask, not a database error


def _bound(*, request: Request, who: services.Caller, key: KeyIn, route: str) -> AbstractContextManager[str | None]:
    """The request run under its Idempotency-Key, bound to the token's person, this route and this body."""
    return services.bound_request(
        uow=request.app.state.uow, holder=f"{who.workspace}\n{who.person}", key=key.key, route=route, body=key.body,
        at=request.app.state.clock(),
    )


def _tell(request: Request, background: BackgroundTasks, *, reply: services.Reply, workspace: str, cause: str) -> None:
    """After the answer, tell the people the stored reply names (the asker, the consulted) once, as chat would."""
    tell = request.app.state.tell
    if tell is not None and reply.notices:
        background.add_task(tell, reply, workspace, cause)


@router.post(
    "/checkins", status_code=201, response_model=CheckinOut, responses=errors(400, 403, 404, 409, 413),
    summary="Check in on a KR or objective",
)
def post_checkin(
    body: CheckinIn, who: Caller, key: IdempotencyKey, request: Request, background: BackgroundTasks
) -> CheckinOut:
    """Store one check-in as the token's person, exactly as `/kr update` would; a retry with the same
    Idempotency-Key stores nothing more and gets the same answer."""
    try:
        with _bound(request=request, who=who, key=key, route="POST /api/v1/checkins") as event_key:
            reply = services.json_checkin(
                uow=request.app.state.uow, person=who.person, workspace=who.workspace, code=body.code,
                now=request.app.state.clock(), values=body.values, text=body.text, note=body.note, next_step=body.next,
                ask=body.ask, risk=body.risk, confidence=body.confidence, at=body.at, source="api", event_key=event_key,
            )
    except KrbotError as error:
        raise refusal(error, lang=who.lang) from None
    _tell(request, background, reply=reply, workspace=who.workspace, cause=f"api:{event_key or uuid.uuid4().hex}")
    return checkin_out(reply=reply, message=translate(reply.key, lang=who.lang, locale=reply.locale, **reply.params))


@router.get("/okrs", response_model=OkrsOut, responses=errors(), summary="The OKR tree with values, completion, forecast and status")
def get_okrs(who: Caller, request: Request) -> OkrsOut:
    """The current cycle's tree as `krbot export --format json` gives it."""
    try:
        data = services.export_all(uow=request.app.state.uow, at=request.app.state.clock(), workspace=who.workspace)
    except KrbotError as error:
        raise refusal(error, lang=who.lang) from None
    return OkrsOut(workspace=data["workspace"], cycle=data["cycle"], objectives=data["objectives"])


@router.get(
    "/digest",
    summary="The boss digest",
    response_class=Response,
    responses={
        200: {
            "description": "The digest on the surface asked for.",
            "content": {"text/plain": {}, "text/markdown": {}, "text/html": {}, "application/json": {}},
        },
        **errors(),
    },
)
def get_digest(
    who: Caller,
    request: Request,
    lang: Annotated[Literal["zh", "en"] | None, Query(description="Language (default: yours).")] = None,
    fmt: Annotated[Literal["text", "markdown", "html", "json"], Query(alias="format")] = "text",
    as_of: Annotated[
        str | None, Query(max_length=64, description="ISO date or date-time; a date alone is the end of that day.")
    ] = None,
) -> Response:
    """The digest as of now (or `as_of`), as text, markdown, the one-page HTML report, or its data as JSON."""
    from bot.render import render_digest, render_report

    uow, language = request.app.state.uow, lang or who.lang
    try:
        zone = services.workspace_timezone(uow=uow, workspace=who.workspace)
        moment = request.app.state.clock() if as_of is None else services.moment_within_reach(text=as_of, timezone=zone, as_of=True)
        if fmt == "html":
            digest, charts = services.compose_report(uow=uow, as_of=moment, workspace=who.workspace)
            page = render_report(digest=digest, charts=charts, lang=language)
            return HTMLResponse(page, headers={"Content-Security-Policy": REPORT_CSP})
        digest = services.compose(uow=uow, as_of=moment, workspace=who.workspace)
    except KrbotError as error:
        raise refusal(error, lang=who.lang) from None
    if fmt == "json":
        return JSONResponse(jsonable_encoder(digest))
    media = "text/markdown; charset=utf-8" if fmt == "markdown" else "text/plain; charset=utf-8"
    return PlainTextResponse(render_digest(digest=digest, fmt=fmt, lang=language), media_type=media)


def _asks(*, request: Request, who: services.Caller) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The cycle's asks as exported, and each person's name by id."""
    try:
        data = services.export_all(uow=request.app.state.uow, at=request.app.state.clock(), workspace=who.workspace)
    except KrbotError as error:
        raise refusal(error, lang=who.lang) from None
    return data["asks"], {p["id"]: p["name"] for p in data["people"]}


@router.get("/asks", response_model=AsksOut, responses=errors(), summary="Asks, open and decided")
def get_asks(
    who: Caller,
    request: Request,
    status: Annotated[Literal["open", "approved", "declined"] | None, Query(description="Only these.")] = None,
) -> AsksOut:
    """The current cycle's asks, oldest first, with who decided them."""
    asks, _names = _asks(request=request, who=who)
    return AsksOut(asks=[AskOut(**a) for a in asks if status is None or a["status"] == status])


@router.post(
    "/asks/{ask_id}/decision", response_model=DecisionOut, responses=errors(400, 403, 404, 409, 413),
    summary="Approve or decline an ask",
)
def post_decision(
    ask_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    body: DecisionIn,
    who: Caller,
    key: IdempotencyKey,
    request: Request,
    background: BackgroundTasks,
) -> DecisionOut:
    """Decide an open ask as the boss or an admin, once — the same decision as the chat's buttons: a later or
    concurrent decision gets 409 saying who decided; a retry with the same Idempotency-Key gets the same answer."""
    try:
        with _bound(request=request, who=who, key=key, route=f"POST /api/v1/asks/{ask_id}/decision") as event_key:
            reply = services.decide_ask(
                uow=request.app.state.uow, person=who.person, ask_id=ask_id, approve=body.decision == "approve",
                at=request.app.state.clock(), workspace=who.workspace, event_key=event_key,
            )
            if reply.shows not in (services.Shows.DECISION, services.Shows.REPEAT):  # another decision came first
                raise KrbotError("ask.already", **reply.params)
    except KrbotError as error:
        if error.key == "ask.already":
            raise ApiError(status=409, code=error.key, message=translate(error.key, lang=who.lang, **error.params)) from None
        raise refusal(error, lang=who.lang) from None
    if reply.shows is services.Shows.DECISION:
        _tell(request, background, reply=reply, workspace=who.workspace, cause=f"api-ask:{ask_id}")
        return DecisionOut(
            id=ask_id, status=reply.params["status"], decided_by=who.person,
            message=translate(reply.key, lang=who.lang, locale=reply.locale, **reply.params),
        )
    asks, names = _asks(request=request, who=who)  # a repeat of a request already done: the ask as it stands
    ask = next((a for a in asks if a["id"] == ask_id), None)
    if ask is None:  # decided in a cycle that has ended since: nothing more can happen to it
        error = KrbotError("ask.closed_cycle", id=ask_id)
        raise ApiError(status=409, code=error.key, message=translate(error.key, lang=who.lang, id=ask_id))
    by = ask["decided_by"]
    words = {"id": ask_id, "text": ask["text"], "status": ask["status"], "by": names.get(by, by or "")}
    return DecisionOut(
        id=ask_id, status=ask["status"], decided_by=by, message=translate("ask.decided", lang=who.lang, **words)
    )
