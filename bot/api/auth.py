"""Who a request acts as: its bearer token turned into a person (401 otherwise), and its Idempotency-Key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bot import services
from bot.api.errors import ApiError, reader_language, refusal
from bot.core.errors import KrbotError
from bot.i18n import translate

bearer = HTTPBearer(auto_error=False, description="A token from `krbot token create --as PERSON`.")


def now() -> datetime:
    """The real clock (the API's own unless a test gives it another)."""
    return datetime.now(UTC)


def caller(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> services.Caller:
    """The person the request's token acts as; 401 (with WWW-Authenticate: Bearer) for none, an unknown or revoked
    one, or one whose person is no longer in the OKR file."""
    uow = request.app.state.uow
    found = None
    if credentials is not None and credentials.credentials.isascii():
        found = services.token_caller(uow=uow, token=credentials.credentials, at=request.app.state.clock())
    if found is None:
        raise ApiError(
            status=401,
            code="api.unauthorized",
            message=translate("api.unauthorized", lang=reader_language(request)),
            headers={"WWW-Authenticate": "Bearer"},
        )
    request.state.caller = found
    return found


@dataclass(frozen=True, slots=True)
class KeyIn:
    """A request's Idempotency-Key (None without one) and its body, which the key is bound to."""

    key: str | None
    body: bytes


async def idempotency_key(
    request: Request,
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="Any unique string of 1 to 255 characters (a UUID): a retry with the same key and the same "
            "body stores once and gets the same answer; the same key with another body or route gets 422, and "
            "while its first request is still in flight 409.",
        ),
    ] = None,
) -> KeyIn:
    """The client's Idempotency-Key (1 to 255 characters, never cut: 400 otherwise) with the body it comes with."""
    try:
        checked = services.checked_key(key=key)
    except KrbotError as error:
        raise refusal(error, lang=reader_language(request)) from None
    return KeyIn(key=checked, body=await request.body() if checked is not None else b"")


Caller = Annotated[services.Caller, Depends(caller)]
IdempotencyKey = Annotated[KeyIn, Depends(idempotency_key)]
