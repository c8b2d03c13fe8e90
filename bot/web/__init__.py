"""The web pages edge (CONTRACT §10): server-rendered pages on the HTTP server that serves /api/v1; it calls
bot.services only, and is on when KRBOT_SECRET_KEY is set."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from starlette.routing import Mount

from bot.web.app import build_web, now


def web_routes(
    *, uow: Any, secret_key: str, public_url: str, clock: Callable[[], datetime] = now,
    tell: Callable[[Any, str, str], None] | None = None,
) -> list[Any]:
    """The web pages as one mount at the site's root: put it after every other route (it answers the rest)."""
    return [Mount("", app=build_web(uow=uow, secret_key=secret_key, public_url=public_url, clock=clock, tell=tell))]


__all__ = ["build_web", "web_routes"]
