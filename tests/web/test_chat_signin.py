"""Sign in with Slack (OpenID Connect) and with Feishu (the app's web login) through Authlib, against the local fake
Slack and Feishu serving recorded token and userinfo answers (no network): shown only when configured; the state
checked; the person found by their chat id (the Slack team and Feishu tenant checked); a stranger told to ask an admin,
nothing more; inside the Feishu client no click."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.testclient import TestClient

from bot import services
from bot.app import App, web_routes
from bot.http import build_http_app
from tests.conftest import EXAMPLE_ZH
from tests.fakes import fake_feishu as ff
from tests.fakes.fake_slack import CLIENT_ID, CLIENT_SECRET, TEAM_ID, FakeSlack
from tests.fakes.okr_helpers import reimport
from tests.fakes.web_client import PUBLIC, SECRET, Clock, browser

LARK_AGENT = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile Lark/7.20.0 "
              "LarkLocale/zh_CN")


@pytest.fixture(scope="module")
def slack_api() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def feishu_api() -> Iterator[ff.FakeFeishu]:
    fake = ff.FakeFeishu()
    fake.start()
    yield fake
    fake.stop()


def served(app: App, **settings: Any) -> TestClient:
    """The web pages with these settings (as the environment would give them), as a browser that keeps cookies."""
    keyed = App(settings=app.settings.model_copy(update={"secret_key": SECRET, "public_url": PUBLIC, **settings}),
                uow=app.uow)
    routes = web_routes(app=keyed, clock=Clock())
    return TestClient(build_http_app(routes=routes, health=lambda: {"ok": True}), raise_server_exceptions=True,
                      follow_redirects=False)


@pytest.fixture
def web(example: App, slack_api: FakeSlack, feishu_api: ff.FakeFeishu) -> TestClient:
    """The pages with the bot's own Slack app and Feishu app configured, both pointing at the fakes."""
    return served(example, slack_client_id=CLIENT_ID, slack_client_secret=CLIENT_SECRET,
                  slack_api_url=slack_api.api_url, feishu_app_id=ff.APP_ID, feishu_app_secret=ff.APP_SECRET,
                  feishu_domain=feishu_api._served.url)


def authorize(web: TestClient, kind: str) -> dict[str, str]:
    """Press "Sign in with …": where the browser is sent, as its query."""
    start = web.get(f"/auth/{kind}")
    assert start.status_code == 303
    query = {k: v[0] for k, v in parse_qs(urlsplit(start.headers["location"]).query).items()}
    query["path"] = urlsplit(start.headers["location"]).path
    return query


def back(web: TestClient, kind: str, code: str, state: str) -> Any:
    """The chat app sends the browser back with a code (a zh browser)."""
    return web.get(f"/auth/{kind}/callback", params={"code": code, "state": state},
                   headers={"accept-language": "zh-CN"})


def greeting(web: TestClient) -> str | None:
    """Whose week /me shows, or None when the browser is not signed in."""
    me = web.get("/me")
    return None if me.status_code != 200 else me.text.split("<h1>", 1)[1].split("</h1>", 1)[0]


def test_the_buttons_show_only_when_configured(example: App, web: TestClient) -> None:
    """Both buttons with both apps set (zh and en); none, and 404 behind them, without."""
    page = web.get("/signin", headers={"accept-language": "zh-CN"}).text
    assert 'href="/auth/slack">用Slack登录' in page and 'href="/auth/feishu">用飞书登录' in page
    english = web.get("/signin", headers={"accept-language": "en-US"}).text
    assert "Sign in with Slack" in english and "Sign in with Feishu" in english
    plain = browser(example)
    bare = plain.get("/signin").text
    assert "/auth/slack" not in bare and "/auth/feishu" not in bare
    assert plain.get("/auth/slack").status_code == 404 and plain.get("/auth/feishu/callback").status_code == 404


def test_sign_in_with_slack(web: TestClient, slack_api: FakeSlack) -> None:
    """To Slack's OIDC authorize with the app's id and a state; back with a code: chen's session, on to /me."""
    web.get("/signin", params={"next": "/me"})
    asked = authorize(web, "slack")
    assert asked["path"] == "/openid/connect/authorize" and asked["client_id"] == CLIENT_ID
    assert asked["scope"] == "openid profile" and asked["redirect_uri"] == f"{PUBLIC}/auth/slack/callback"
    assert asked["response_type"] == "code" and asked["nonce"]
    done = back(web, "slack", f"oidc-U0CHEN0001-{TEAM_ID}", asked["state"])
    assert (done.status_code, done.headers["location"]) == (303, "/me")
    assert greeting(web) == "陈静：我的本周"
    exchange = [c for c in slack_api.of("openid.connect.token") if c.args.get("code") == f"oidc-U0CHEN0001-{TEAM_ID}"]
    assert exchange and exchange[-1].args["client_secret"] == CLIENT_SECRET


def test_a_forged_state_or_a_refused_code_signs_nobody_in(web: TestClient) -> None:
    """A state that is not the session's, or a code Slack refuses: "try again", no session."""
    asked = authorize(web, "slack")
    forged = back(web, "slack", f"oidc-U0CHEN0001-{TEAM_ID}", "not-the-state")
    assert forged.status_code == 400 and "登录没有完成" in forged.text
    asked = authorize(web, "slack")
    refused = back(web, "slack", "bad-code", asked["state"])
    assert refused.status_code == 400 and "登录没有完成" in refused.text
    replay = back(web, "slack", f"oidc-U0CHEN0001-{TEAM_ID}", asked["state"])  # the state was used up
    assert replay.status_code == 400 and greeting(web) is None


def test_a_slack_user_krbot_does_not_know_is_told_to_ask_an_admin(web: TestClient) -> None:
    """Someone of the team who is not in the OKR file: that sentence and nothing more; no session."""
    asked = authorize(web, "slack")
    stranger = back(web, "slack", f"oidc-U0NOBODY01-{TEAM_ID}", asked["state"])
    assert stranger.status_code == 403 and "krbot还不认识你：请联系管理员把你加进来。" in stranger.text
    assert "U0NOBODY01" not in stranger.text and greeting(web) is None


def test_a_slack_user_of_another_team_is_nobody_here(example: App, web: TestClient) -> None:
    """The workspace lives in T0KRBOT001: chen's id signed in through another team is refused."""
    reimport(example, EXAMPLE_ZH.read_text(encoding="utf-8").replace("  name: 欧洲事业部\n",
                                                                       f"  name: 欧洲事业部\n  slack_team: {TEAM_ID}\n", 1))
    assert services.slack_team_of(uow=example.uow) == TEAM_ID
    asked = authorize(web, "slack")
    other = back(web, "slack", "oidc-U0CHEN0001-T0OTHER0001", asked["state"])
    assert other.status_code == 403 and greeting(web) is None
    asked = authorize(web, "slack")
    assert back(web, "slack", f"oidc-U0CHEN0001-{TEAM_ID}", asked["state"]).status_code == 303


def test_sign_in_with_feishu(web: TestClient, feishu_api: ff.FakeFeishu) -> None:
    """To the app's web login with its id; back with a code exchanged as JSON at the token URL: lin's session."""
    asked = authorize(web, "feishu")
    assert asked["path"] == "/open-apis/authen/v1/authorize" and asked["client_id"] == ff.APP_ID
    assert asked["app_id"] == ff.APP_ID and asked["redirect_uri"] == f"{PUBLIC}/auth/feishu/callback"
    done = back(web, "feishu", "code-ou_lin00001", asked["state"])
    assert done.status_code == 303 and greeting(web) == "林雪：我的本周"
    sent = [c for c in feishu_api.calls if c.get("path") == "/open-apis/authen/v2/oauth/token"]
    assert sent[-1]["body"]["code"] == "code-ou_lin00001" and sent[-1]["body"]["client_secret"] == ff.APP_SECRET


def test_feishu_strangers_and_other_tenants_are_told_to_ask_an_admin(example: App, feishu_api: ff.FakeFeishu) -> None:
    """An open id krbot does not know, and (FEISHU_TENANT_KEY set to another tenant) a known one: refused alike."""
    settings = {"feishu_app_id": ff.APP_ID, "feishu_app_secret": ff.APP_SECRET,
                "feishu_domain": feishu_api._served.url}
    web = served(example, **settings)
    asked = authorize(web, "feishu")
    stranger = back(web, "feishu", "code-ou_nobody0001", asked["state"])
    assert stranger.status_code == 403 and "请联系管理员把你加进来" in stranger.text
    fenced = served(example, **settings, feishu_tenant_key="another-tenant")
    asked = authorize(fenced, "feishu")
    assert back(fenced, "feishu", "code-ou_lin00001", asked["state"]).status_code == 403 and greeting(fenced) is None
    english = served(example, **settings)
    asked = authorize(english, "feishu")
    told = english.get("/auth/feishu/callback", params={"code": "code-ou_nobody0001", "state": asked["state"]},
                       headers={"accept-language": "en"})
    assert "krbot does not know you yet: ask your admin to add you." in told.text


def test_the_token_url_is_a_setting(example: App, feishu_api: ff.FakeFeishu) -> None:
    """FEISHU_TOKEN_URL sends the exchange elsewhere: a URL that answers nothing signs nobody in."""
    web = served(example, feishu_app_id=ff.APP_ID, feishu_app_secret=ff.APP_SECRET,
                 feishu_domain=feishu_api._served.url, feishu_token_url=feishu_api._served.url + "/nowhere")
    asked = authorize(web, "feishu")
    assert back(web, "feishu", "code-ou_lin00001", asked["state"]).status_code == 400 and greeting(web) is None


def test_inside_the_feishu_client_signing_in_needs_no_click(web: TestClient) -> None:
    """The Feishu client's web view goes from /signin straight to the app's login (which asks nothing there)."""
    inside = web.get("/signin", params={"next": "/asks"}, headers={"user-agent": LARK_AGENT})
    assert (inside.status_code, inside.headers["location"]) == (303, "/auth/feishu")
    asked = authorize(web, "feishu")
    done = back(web, "feishu", "code-ou_boss0001", asked["state"])
    assert (done.status_code, done.headers["location"]) == (303, "/asks")
    assert web.get("/signin").status_code == 200  # an ordinary browser sees the page with its buttons
