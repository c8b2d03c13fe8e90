"""Sign in with Slack (OpenID Connect) and with Feishu (the app's web login), through Authlib against the bot's own
apps: the chat identity is looked up as a krbot person (the Slack team or Feishu tenant checked), and a stranger is
told to ask an admin, nothing more. Shown on the sign-in page only when configured."""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlsplit

from authlib.integrations.httpx_client import OAuth2Client
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response

from bot import services
from bot.services.web_access import open_session
from bot.web.auth import LANGUAGES, csrf_guard, reader_language, safe_target
from bot.web.templating import page

log = logging.getLogger(__name__)
router = APIRouter(dependencies=[Depends(csrf_guard)])
SLACK_API = "https://slack.com/api/"
FEISHU_DOMAIN = "https://open.feishu.cn"
TIMEOUT = 10.0  # seconds for each call to Slack's or Feishu's sign-in endpoints
Param = Annotated[str | None, Query(max_length=2000)]


@dataclass(frozen=True, slots=True)
class ChatSignIn:
    """The bot's own Slack app (OIDC) and Feishu app (web login), as far as they are configured."""

    slack_client_id: str | None = None
    slack_client_secret: str | None = None
    slack_api: str = SLACK_API
    feishu_app_id: str | None = None
    feishu_app_secret: str | None = None
    feishu_domain: str = FEISHU_DOMAIN
    feishu_token_url: str | None = None
    feishu_tenant: str | None = None

    @property
    def slack(self) -> bool:
        """True when "Sign in with Slack" is configured (SLACK_CLIENT_ID and SLACK_CLIENT_SECRET)."""
        return bool(self.slack_client_id and self.slack_client_secret)

    @property
    def feishu(self) -> bool:
        """True when "Sign in with Feishu" is configured (FEISHU_APP_ID and FEISHU_APP_SECRET)."""
        return bool(self.feishu_app_id and self.feishu_app_secret)

    def slack_urls(self) -> tuple[str, str, str]:
        """(authorize, token, userinfo): Slack's own, or beside SLACK_API_URL when that points elsewhere."""
        api = self.slack_api if self.slack_api.endswith("/") else self.slack_api + "/"
        origin = "https://slack.com" if api == SLACK_API else "{0.scheme}://{0.netloc}".format(urlsplit(api))
        return f"{origin}/openid/connect/authorize", api + "openid.connect.token", api + "openid.connect.userInfo"

    def feishu_urls(self) -> tuple[str, str, str]:
        """(authorize, token, userinfo) of the Feishu (or Lark) web login on FEISHU_DOMAIN; the token URL a setting."""
        domain = self.feishu_domain.rstrip("/")
        token = self.feishu_token_url or f"{domain}/open-apis/authen/v2/oauth/token"
        return f"{domain}/open-apis/authen/v1/authorize", token, f"{domain}/open-apis/authen/v1/user_info"


def chat_sign_in(*, settings: Any) -> ChatSignIn:
    """What of Slack's and Feishu's sign-in the settings configure."""
    return ChatSignIn(
        slack_client_id=settings.slack_client_id, slack_client_secret=settings.slack_client_secret,
        slack_api=settings.slack_api_url or SLACK_API, feishu_app_id=settings.feishu_app_id,
        feishu_app_secret=settings.feishu_app_secret, feishu_domain=settings.feishu_domain or FEISHU_DOMAIN,
        feishu_token_url=settings.feishu_token_url, feishu_tenant=settings.feishu_tenant_key,
    )


def _config(request: Request, kind: str) -> ChatSignIn:
    config = request.app.state.sign_in
    if not isinstance(config, ChatSignIn) or not getattr(config, kind):
        raise HTTPException(status_code=404)
    return config


def _callback(request: Request, kind: str) -> str:
    return f"{request.app.state.public_url}/auth/{kind}/callback"


def _secret_in_json(client: Any, method: str, uri: str, headers: Any, body: Any) -> tuple[str, Any, bytes]:
    """Feishu's token endpoint takes JSON: the token request's form, with the app's id and secret, as one object."""
    text = body.decode() if isinstance(body, bytes) else str(body or "")
    fields = {**dict(parse_qsl(text)), "client_id": client.client_id, "client_secret": client.client_secret or ""}
    content = json.dumps(fields).encode()
    headers["Content-Type"] = "application/json; charset=utf-8"
    headers["Content-Length"] = str(len(content))
    return uri, headers, content


def _client(config: ChatSignIn, kind: str, redirect_uri: str) -> OAuth2Client:
    if kind == "slack":
        return OAuth2Client(client_id=config.slack_client_id, client_secret=config.slack_client_secret,
                            scope="openid profile", redirect_uri=redirect_uri,
                            token_endpoint_auth_method="client_secret_post", timeout=TIMEOUT)
    client = OAuth2Client(client_id=config.feishu_app_id, client_secret=config.feishu_app_secret,
                          redirect_uri=redirect_uri, token_endpoint_auth_method="client_secret_json", timeout=TIMEOUT)
    client.register_client_auth_method(("client_secret_json", _secret_in_json))
    return client


def _start(request: Request, kind: str) -> Response:
    """Send the browser to the chat app's sign-in, with a state kept in the session (checked on the way back)."""
    config = _config(request, kind)
    state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(16)
    request.session["oauth"] = {"kind": kind, "state": state}
    client = _client(config, kind, _callback(request, kind))
    if kind == "slack":
        url, _ = client.create_authorization_url(config.slack_urls()[0], state=state, nonce=nonce)
    else:
        url, _ = client.create_authorization_url(config.feishu_urls()[0], state=state, app_id=config.feishu_app_id)
    return RedirectResponse(url, status_code=303)


def _identity(config: ChatSignIn, kind: str, *, code: str, redirect_uri: str) -> tuple[str, str | None]:
    """The chat user id the code stands for, and their Slack team or Feishu tenant (a refused code raises)."""
    client = _client(config, kind, redirect_uri)
    _, token_url, userinfo_url = config.slack_urls() if kind == "slack" else config.feishu_urls()
    with client:
        client.fetch_token(token_url, code=code, grant_type="authorization_code")
        claims = client.get(userinfo_url).json()
    if kind == "slack":
        if not claims.get("ok"):
            raise ValueError(f"slack userinfo: {claims.get('error')}")
        return str(claims["https://slack.com/user_id"]), claims.get("https://slack.com/team_id")
    if claims.get("code") != 0:
        raise ValueError(f"feishu user_info: {claims.get('code')}")
    data = claims["data"]
    return str(data["open_id"]), data.get("tenant_key")


def _refused(request: Request, key: str, status: int) -> Response:
    return page(request, template="message.html.j2", lang=reader_language(request), viewer=None, status=status,
                title_key="web.sign_in_title", message=None, message_key=key)


def _finish(request: Request, kind: str, code: str | None, state: str | None) -> Response:
    """Back from the chat app: the state checked, the code exchanged, the person found (or told to ask an admin)."""
    config = _config(request, kind)
    kept = request.session.pop("oauth", None) or {}
    if not code or not state or kept.get("kind") != kind or not secrets.compare_digest(str(kept.get("state")), state):
        return _refused(request, "web.signin_failed", 400)
    try:
        user, group = _identity(config, kind, code=code, redirect_uri=_callback(request, kind))
    except Exception as error:  # noqa: BLE001 - a refused code, an unreachable app: the same "try again"
        log.warning("%s sign-in refused: %s", kind, type(error).__name__)
        return _refused(request, "web.signin_failed", 400)
    uow = request.app.state.uow
    who = services.chat_sender(uow=uow, platform=kind, user_id=user)
    if who is not None and kind == "slack":
        team = services.slack_team_of(uow=uow, workspace=who.workspace)
        who = who if team is None or team == group else None  # someone of another Slack team is nobody here
    if who is not None and kind == "feishu" and config.feishu_tenant and config.feishu_tenant != group:
        who = None
    if who is None:
        return _refused(request, "web.signin_unknown", 403)
    session_id = open_session(uow=uow, workspace=who.workspace, person=who.person, kind=kind,
                              at=request.app.state.clock())
    target, language = safe_target(request.session.get("next")), request.session.get("lang")
    request.session.clear()  # a new session: nothing of the anonymous visit carries over
    request.session["sid"] = session_id
    if language in LANGUAGES:
        request.session["lang"] = language
    return RedirectResponse(target, status_code=303)


@router.get("/auth/slack", summary="Sign in with Slack")
def slack_start(request: Request) -> Response:
    """To Slack's OpenID Connect sign-in for the bot's own app."""
    return _start(request, "slack")


@router.get("/auth/slack/callback", summary="Back from Slack's sign-in")
def slack_back(request: Request, code: Param = None, state: Param = None) -> Response:
    """The code exchanged for the Slack user, the team checked, a session opened for the person krbot knows."""
    return _finish(request, "slack", code, state)


@router.get("/auth/feishu", summary="Sign in with Feishu")
def feishu_start(request: Request) -> Response:
    """To the Feishu app's web login (inside the Feishu client it asks nothing: no click)."""
    return _start(request, "feishu")


@router.get("/auth/feishu/callback", summary="Back from Feishu's web login")
def feishu_back(request: Request, code: Param = None, state: Param = None) -> Response:
    """The code exchanged for the Feishu user (the tenant checked when FEISHU_TENANT_KEY is set), a session opened."""
    return _finish(request, "feishu", code, state)


def in_feishu(request: Request) -> bool:
    """True inside the Feishu (Lark) client, whose web view signs in with no click."""
    agent = request.headers.get("user-agent", "").lower()
    return "lark" in agent or "feishu" in agent
