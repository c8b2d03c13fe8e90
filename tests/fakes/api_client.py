"""The HTTP API under test: the real server app with /api/v1/ and /hooks, a fixed clock, and tokens for people."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from starlette.testclient import TestClient

from bot import services
from bot.app import App, api_routes
from bot.http import build_http_app
from storage.models import CheckinRow

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)  # a Friday in the example's Q4 2026


def http_app(app: App, *, platforms: list[Any] | None = None) -> Any:
    """The ASGI app `krbot run --http` serves, API and hooks included, stored at NOW."""
    routes = api_routes(app=app, platforms=platforms or [], clock=lambda: NOW)
    return build_http_app(routes=routes, health=lambda: {"ok": True})


def client(app: App, *, platforms: list[Any] | None = None) -> TestClient:
    """A client of that app that gets answers (never exceptions) for every request, as a real client would."""
    return TestClient(http_app(app, platforms=platforms), raise_server_exceptions=False)


def token(app: App, person: str, *, name: str | None = None) -> str:
    """A new API token acting as `person`."""
    return services.create_token(uow=app.uow, person=person, at=NOW, name=name).secret


def bearer(secret: str, **extra: str) -> dict[str, str]:
    """The request headers that present a token."""
    return {"Authorization": f"Bearer {secret}", **extra}


def checkin_rows(app: App) -> list[CheckinRow]:
    """Every stored check-in, oldest first."""
    with app.uow.begin() as session:
        rows = list(session.scalars(select(CheckinRow).order_by(CheckinRow.id)))
        session.expunge_all()
        return rows
