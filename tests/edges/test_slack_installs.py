"""Slack installed into several workspaces (OAuth): the install flow, tokens encrypted at rest, each team's own token."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from bot import services
from bot.app import App
from bot.config import Settings
from bot.core.errors import KrbotError
from bot.platforms import slack
from bot.platforms.base import Reminder
from storage.slack_installs import new_secret_key
from tests.conftest import EXAMPLE_ZH, IMPORTED_AT
from tests.edges.test_slack import CHEN, NOW, Bot, served_bot
from tests.fakes.fake_slack import (
    CLIENT_ID,
    CLIENT_SECRET,
    SIGNING_SECRET,
    TEAM_ID,
    installed_token,
)

KEY = new_secret_key()


def install_settings(*, api_url: str, key: str | None = KEY, **extra: str) -> Settings:
    """Settings of a multi-workspace app: client id and secret, signing secret, the key for tokens; no bot token."""
    values = {"SLACK_CLIENT_ID": CLIENT_ID, "SLACK_CLIENT_SECRET": CLIENT_SECRET, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
              "SLACK_API_URL": api_url, **extra}
    if key is not None:
        values["KRBOT_SECRET_KEY"] = key
    return Settings(_env_file=None, **values)


@pytest.fixture
def installs_bot(example: App) -> Iterator[Bot]:
    """The served bot in multi-workspace mode (with its worker, as `krbot run --http` has it), installed nowhere yet."""
    with served_bot(example=example, settings=lambda fake: install_settings(api_url=fake.api_url)) as served:
        yield served


def install(bot: Bot, *, team: str) -> httpx.Response:
    """An admin of `team` presses "Add to Slack", approves on Slack, and is sent back with a code."""
    with httpx.Client(base_url=bot.served.url, follow_redirects=False) as browser:
        start = browser.get("/slack/install")
        assert start.status_code == 302
        authorize = urlparse(start.headers["location"])
        query = parse_qs(authorize.query)
        assert authorize.netloc == "slack.com" and query["client_id"] == [CLIENT_ID]
        assert set(query["scope"][0].split(",")) == set(slack.BOT_SCOPES)
        cookie = start.headers["set-cookie"].split(";")[0]  # a Secure cookie: a browser sends it back over HTTPS
        return browser.get("/slack/oauth_redirect", params={"code": f"code-{team}", "state": query["state"][0]},
                           headers={"cookie": cookie})


def stored_tokens(app: App) -> list[str]:
    """The bot tokens as they lie in the database."""
    with app.uow.engine.connect() as connection:
        return [row[0] for row in connection.execute(text("SELECT bot_token FROM slack_bots ORDER BY id"))]


def test_an_install_stores_the_teams_token_encrypted_and_its_requests_use_it(installs_bot: Bot) -> None:
    finished = install(installs_bot, team=TEAM_ID)
    assert finished.status_code == 200
    assert f"team {TEAM_ID}" in finished.text and "已安装" in finished.text and "is now in the Slack workspace" in finished.text
    token = installed_token(team=TEAM_ID)
    at_rest = stored_tokens(installs_bot.app)
    assert len(at_rest) == 1 and token not in at_rest[0] and "xoxb" not in at_rest[0]
    assert Fernet(KEY.encode()).decrypt(at_rest[0].encode()).decode() == token
    with installs_bot.app.uow.engine.connect() as connection:
        row = connection.execute(text("SELECT bot_token, user_token FROM slack_installations")).one()
    assert token not in str(row)
    answer = installs_bot.command(user=CHEN, text="update KR2 1.8%", trigger="inst-1")
    assert "1.8%" in answer["text"]
    opened = installs_bot.slack.command(user_id=CHEN, text="update", response_url=installs_bot.fake.response_url(name="form"),
                                        trigger_id="inst-form")
    assert opened.status_code == 200
    views = installs_bot.fake.wait_for("views.open")
    assert views[0].token == token  # the modal was opened with the installed team's token


def test_sends_go_out_with_the_token_of_the_workspaces_team(installs_bot: Bot) -> None:
    install(installs_bot, team=TEAM_ID)
    person = services.person_of(uow=installs_bot.app.uow, key="chen", at=NOW)
    assert person is not None
    rows = services.list_krs(uow=installs_bot.app.uow, person="chen", at=NOW).params["rows"]
    installs_bot.platform.send_reminder(reminder=Reminder(workspace="欧洲事业部", lang="zh", person=person, rows=rows),
                                        idempotency_key="r1")
    installs_bot.platform.notify(person=person, text="hello", idempotency_key="n1")
    posted = installs_bot.fake.of("chat.postMessage")
    assert [call.token for call in posted] == [installed_token(team=TEAM_ID)] * 2


def test_with_two_teams_the_okr_file_names_which_one(installs_bot: Bot) -> None:
    install(installs_bot, team=TEAM_ID)
    install(installs_bot, team="T0SECOND01")
    person = services.person_of(uow=installs_bot.app.uow, key="chen", at=NOW)
    assert person is not None
    with pytest.raises(KrbotError) as unsure:
        installs_bot.platform.notify(person=person, text="hello", idempotency_key="n1")
    assert unsure.value.key == "slack.which_team" and "T0SECOND01" in unsure.value.params["teams"]
    named = EXAMPLE_ZH.read_text(encoding="utf-8").replace("workspace:\n", "workspace:\n  slack_team: T0SECOND01\n", 1)
    services.import_okrs(uow=installs_bot.app.uow, text=named, filename="named.yaml", at=IMPORTED_AT)
    installs_bot.platform.notify(person=person, text="hello", idempotency_key="n2")
    assert installs_bot.fake.of("chat.postMessage")[-1].token == installed_token(team="T0SECOND01")


def test_a_forged_state_or_a_bad_code_installs_nothing(installs_bot: Bot) -> None:
    with httpx.Client(base_url=installs_bot.served.url, follow_redirects=False) as browser:
        forged = browser.get("/slack/oauth_redirect", params={"code": f"code-{TEAM_ID}", "state": "made-up"})
        start = browser.get("/slack/install")
        state = parse_qs(urlparse(start.headers["location"]).query)["state"][0]
        bad_code = browser.get("/slack/oauth_redirect", params={"code": "nonsense", "state": state},
                               headers={"cookie": start.headers["set-cookie"].split(";")[0]})
    assert forged.status_code >= 400 and bad_code.status_code >= 400
    assert "/slack/install" in forged.text and "安装失败" in bad_code.text
    assert stored_tokens(installs_bot.app) == []


def test_a_team_that_never_installed_krbot_is_told_so_and_nothing_is_stored(installs_bot: Bot) -> None:
    acked = installs_bot.slack.command(user_id=CHEN, text="update KR2 1.8%",
                                       response_url=installs_bot.fake.response_url(name="stranger"), trigger_id="x1")
    assert acked.status_code == 200
    told = installs_bot.fake.wait_for("response_url")
    assert "/slack/install" in told[0].args["text"] and "还没有安装" in told[0].args["text"]
    assert installs_bot.checkins() == []


@pytest.mark.parametrize(
    ("extra", "key", "http", "error"),
    [
        ({}, None, True, "slack.oauth_needs_key"),
        ({}, "not-a-fernet-key", True, "slack.oauth_bad_key"),
        ({}, KEY, False, "slack.oauth_needs_http"),
        ({"SLACK_CLIENT_SECRET": ""}, KEY, True, "slack.oauth_needs_secret"),
    ],
    ids=["no-key", "bad-key", "socket-mode", "no-secret"],
)
def test_multi_workspace_mode_refuses_to_start_without_what_it_needs(
    example: App, extra: dict[str, str], key: str | None, http: bool, error: str
) -> None:
    settings = install_settings(api_url="http://127.0.0.1:9/api/", key=key, **extra)  # refused before anything connects
    with pytest.raises(KrbotError) as refused:
        slack.build(settings=settings, uow=example.uow, http=http)
    assert refused.value.key == error


def test_secret_key_prints_a_fresh_key_that_encrypts() -> None:
    from typer.testing import CliRunner

    from bot.__main__ import cli

    keys = [CliRunner().invoke(cli, ["secret-key"]).stdout.strip() for _ in range(2)]
    assert keys[0] != keys[1]
    assert Fernet(keys[0].encode()).decrypt(Fernet(keys[0].encode()).encrypt(b"xoxb-1")) == b"xoxb-1"
