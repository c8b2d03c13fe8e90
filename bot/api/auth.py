"""Who a request acts as: its bearer token turned into a person (401 otherwise), and its Idempotency-Key."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bot import services
from bot.api.errors import ApiError, reader_language
from bot.i18n import translate

MAX_KEY = 200

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


def idempotency_key(
    request: Request,
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="Any unique string (a UUID): a retry with the same key stores once and gets the same answer.",
        ),
    ] = None,
) -> str | None:
    """The client's Idempotency-Key (1 to 200 characters), or None."""
    if key is not None and not 1 <= len(key.strip()) <= MAX_KEY:
        raise ApiError(
            status=422, code="api.idempotency_key", message=translate("api.idempotency_key", lang=reader_language(request)),
            field="Idempotency-Key",
        )
    return None if key is None else key.strip()


Caller = Annotated[services.Caller, Depends(caller)]
IdempotencyKey = Annotated[str | None, Depends(idempotency_key)]
