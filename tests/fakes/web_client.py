"""The web pages under test: the real server app (API, hooks and web on one port) over a real database, a fixed clock,
and signing in as a person by the same one-time link `krbot web-link` prints."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from starlette.testclient import TestClient

from bot import services
from bot.app import App, api_routes, web_routes
from bot.http import build_http_app
from bot.services.web_access import issue_link
from tests.conftest import ROOT

NOW = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)  # a Friday in the example's Q4 2026, after the digest's hour
SECRET = "test-secret-key-for-the-web-pages-only"
PUBLIC = "http://testserver"


class Clock:
    """A clock a test can move (a link's 10 minutes, a share's 14 days)."""

    def __init__(self, at: datetime = NOW) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def with_key(app: App, *, public: str = PUBLIC) -> App:
    """The app with KRBOT_SECRET_KEY and KRBOT_PUBLIC_URL set, as an operator sets them."""
    settings = app.settings.model_copy(update={"secret_key": SECRET, "public_url": public})
    return App(settings=settings, uow=app.uow)


def http_app(app: App, *, clock: Callable[[], datetime], public: str = PUBLIC) -> Any:
    """The ASGI app `krbot run --http --web-only` serves."""
    keyed = with_key(app, public=public)
    routes = api_routes(app=keyed, platforms=[], clock=clock) + web_routes(app=keyed, clock=clock)
    return build_http_app(routes=routes, health=lambda: {"ok": True})


def browser(app: App, *, clock: Callable[[], datetime] | None = None, public: str = PUBLIC) -> TestClient:
    """A client that keeps cookies like a browser and gets answers (never exceptions)."""
    scheme = "https" if public.startswith("https://") else "http"  # a Secure cookie comes back over https only
    return TestClient(http_app(app, clock=clock or Clock(), public=public), raise_server_exceptions=False,
                      follow_redirects=False, base_url=f"{scheme}://testserver")


def link(app: App, person: str, *, at: datetime = NOW, workspace: str | None = None) -> str:
    """A one-time sign-in link for `person`, as `krbot web-link --as` makes it."""
    return issue_link(uow=app.uow, person=person, at=at, secret_key=SECRET, public_url=PUBLIC, workspace=workspace)


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms carry."""
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def sign_in(client: TestClient, app: App, person: str, *, workspace: str | None = None) -> TestClient:
    """Open a sign-in link and press its button, as a person would; the client then holds the session cookie."""
    path = link(app, person, workspace=workspace).removeprefix(PUBLIC)
    page = client.get(path)
    assert page.status_code == 200, page.text
    done = client.post(path, data={"csrf": csrf_of(page.text)})
    assert done.status_code == 303, done.text
    return client


def quarter(app: App) -> None:
    """The example's check-ins of the quarter so far."""
    csv_text = (ROOT / "examples" / "q4-europe.checkins.zh.csv").read_text(encoding="utf-8")
    services.import_checkins(uow=app.uow, text=csv_text, filename="q4.csv", now=NOW.replace(tzinfo=UTC))
