"""Slack uninstalls honoured: `app_uninstalled` and `tokens_revoked` delete the team's tokens, and the jobs send to
the workspaces still installed (one log line for the one that is gone) and exit 0."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from bot import services
from bot.__main__ import cli
from bot.app import App
from tests.conftest import EXAMPLE_EN, EXAMPLE_ZH, IMPORTED_AT
from tests.edges.test_slack import CHEN, NOW, Bot, served_bot, settings_for
from tests.edges.test_slack_installs import KEY, install, install_settings, stored_tokens
from tests.fakes.fake_slack import (
    BOT_TOKEN,
    BOT_USER,
    CLIENT_ID,
    CLIENT_SECRET,
    SIGNING_SECRET,
    TEAM_ID,
    installed_token,
)

OTHER_TEAM = "T0SECOND01"
AS_OF = "2026-11-19T12:00:00+00:00"  # a Thursday inside the example's cycle


def team_event(bot: Bot, *, team: str, event: dict[str, Any], event_id: str) -> int:
    """A signed Events API callback from `team`; its HTTP status."""
    body = {"token": "deprecated", "team_id": team, "api_app_id": "A0KRBOT001", "event": event, "type": "event_callback",
            "event_id": event_id, "event_time": int(time.time())}
    return bot.slack.post(body=json.dumps(body), content_type="application/json").status_code


def uninstalled(bot: Bot, *, team: str) -> int:
    """Slack tells krbot it was removed from `team`."""
    return team_event(bot, team=team, event={"type": "app_uninstalled", "event_ts": "1790000000.1"},
                      event_id=f"Ev0UNINST{team}")


def bot_revoked(bot: Bot, *, team: str) -> int:
    """Slack tells krbot its bot token in `team` was revoked."""
    return team_event(bot, team=team, event={"type": "tokens_revoked", "tokens": {"oauth": [], "bot": [BOT_USER]}},
                      event_id=f"Ev0REVOKE{team}")


@pytest.fixture
def two_workspaces(example: App) -> App:
    """Two krbot workspaces, each named to its own Slack team: the example's (TEAM_ID) and its English twin's."""
    for path, team in ((EXAMPLE_ZH, TEAM_ID), (EXAMPLE_EN, OTHER_TEAM)):
        text = path.read_text(encoding="utf-8").replace("workspace:\n", f"workspace:\n  slack_team: {team}\n", 1)
        services.import_okrs(uow=example.uow, text=text, filename=path.name, at=IMPORTED_AT)
    return example


@pytest.fixture
def installs_bot(two_workspaces: App) -> Iterator[Bot]:
    """The served bot in multi-workspace mode, installed nowhere yet."""
    with served_bot(example=two_workspaces, settings=lambda fake: install_settings(api_url=fake.api_url)) as served:
        yield served


def run_reminders(bot: Bot, db_url: str, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    """`krbot jobs run reminders` as an operator runs it, with the multi-workspace app's environment."""
    for name, value in {"SLACK_CLIENT_ID": CLIENT_ID, "SLACK_CLIENT_SECRET": CLIENT_SECRET, "KRBOT_SECRET_KEY": KEY,
                        "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_API_URL": bot.fake.api_url}.items():
        monkeypatch.setenv(name, value)
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "FEISHU_APP_ID"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(cli, ["jobs", "run", "reminders", "--as-of", AS_OF, "--db", db_url])
    return result.exit_code, result.stdout


@pytest.mark.parametrize("gone", [uninstalled, bot_revoked], ids=["app_uninstalled", "tokens_revoked"])
def test_a_team_that_took_krbot_back_gets_nothing_and_the_other_workspace_its_reminders(
    installs_bot: Bot, db_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, gone: Any
) -> None:
    install(installs_bot, team=TEAM_ID)
    assert len(stored_tokens(installs_bot.app)) == 1
    assert gone(installs_bot, team=TEAM_ID) == 200
    assert stored_tokens(installs_bot.app) == []  # the team's tokens are deleted, not kept
    install(installs_bot, team=OTHER_TEAM)
    with caplog.at_level(logging.WARNING):
        code, out = run_reminders(installs_bot, db_url, monkeypatch)
    assert code == 0, out
    posted = installs_bot.fake.of("chat.postMessage")
    assert posted and {call.token for call in posted} == {installed_token(team=OTHER_TEAM)}
    assert len(posted) == 4  # the English workspace's four KR owners; nothing to the team that is gone
    gone_lines = [r.getMessage() for r in caplog.records if "install for workspace" in r.getMessage()]
    assert len(gone_lines) == 1 and "欧洲事业部" in gone_lines[0], gone_lines
    acked = installs_bot.slack.command(user_id=CHEN, text="update KR2 1.8%", trigger_id="after-gone",
                                       response_url=installs_bot.fake.response_url(name="after-gone"))
    assert acked.status_code == 200  # from the team that is gone: told krbot is not installed there, nothing stored
    assert "/slack/install" in installs_bot.fake.wait_for("response_url")[0].args["text"]
    assert all(services.export_all(uow=installs_bot.app.uow, at=NOW, workspace=name)["checkins"] == []
               for name in ("欧洲事业部", "Europe Division"))


def test_an_uninstall_for_a_team_krbot_does_not_know_is_acked_and_changes_nothing(installs_bot: Bot) -> None:
    install(installs_bot, team=TEAM_ID)
    before = stored_tokens(installs_bot.app)
    assert uninstalled(installs_bot, team="T0UNKNOWN9") == 200
    assert bot_revoked(installs_bot, team="T0UNKNOWN9") == 200
    assert team_event(installs_bot, team=TEAM_ID, event={"type": "tokens_revoked", "tokens": {"oauth": ["U0ADMIN001"]}},
                      event_id="Ev0USERONLY") == 200
    assert stored_tokens(installs_bot.app) == before  # a user's token revoked leaves the bot's (krbot's own)
    assert installs_bot.platform.installed_in(workspace="欧洲事业部")


def test_with_one_token_an_uninstall_stops_the_jobs_sending_with_one_log_line(
    example: App, caplog: pytest.LogCaptureFixture
) -> None:
    from bot.scheduler import Runner

    with served_bot(example=example) as bot:
        assert uninstalled(bot, team=TEAM_ID) == 200
        with caplog.at_level(logging.WARNING):
            outcome = Runner(uow=example.uow, platforms=[bot.platform]).run(job="reminders", now=NOW, force=True)
        assert outcome.counts["not installed"] == 4 and not outcome.counts["failed"] and not outcome.counts["error"]
        assert bot.fake.of("chat.postMessage") == []
        told = [r.getMessage() for r in caplog.records if "SLACK_BOT_TOKEN no longer works" in r.getMessage()]
        skipped = [r.getMessage() for r in caplog.records if "install for workspace" in r.getMessage()]
        assert len(told) == 1 and len(skipped) == 1, (told, skipped)


def test_with_one_token_an_uninstall_outlives_a_restart_until_a_new_token(example: App) -> None:
    """The team took SLACK_BOT_TOKEN back: krbot restarted on the same token still sends nothing there and says so; the
    new token of a fresh install works at once (the database keeps the old token's SHA-256, never the token)."""
    from bot.scheduler import Runner
    from storage.models import SlackUninstallRow

    with served_bot(example=example) as bot:
        assert bot.platform.installed_in(workspace=None)
        assert uninstalled(bot, team=TEAM_ID) == 200
    with served_bot(example=example) as restarted:  # a new process, the same token
        assert not restarted.platform.installed_in(workspace=None)
        outcome = Runner(uow=example.uow, platforms=[restarted.platform]).run(job="reminders", now=NOW, force=True)
        assert outcome.counts["not installed"] == 4 and restarted.fake.of("chat.postMessage") == []
    with served_bot(example=example, settings=lambda fake: settings_for(fake).model_copy(
            update={"slack_bot_token": "xoxb-fake-reinstalled"})) as reinstalled:
        assert reinstalled.platform.installed_in(workspace=None)
        outcome = Runner(uow=example.uow, platforms=[reinstalled.platform]).run(job="reminders", now=NOW, force=True)
        assert outcome.counts["sent"] == 4, outcome.counts
    with example.uow.begin() as session:
        kept = [(row.team_id, row.token_sha256) for row in session.query(SlackUninstallRow)]
    assert kept == [(TEAM_ID, hashlib.sha256(BOT_TOKEN.encode()).hexdigest())]


def test_with_one_token_another_teams_uninstall_is_acked_and_forgets_nothing(example: App) -> None:
    """An `app_uninstalled` or `tokens_revoked` from another team gets 200 (Slack stops sending it) and changes nothing;
    any other request from that team is still refused with 403, and our own team's uninstall still counts."""
    with served_bot(example=example) as bot:
        assert uninstalled(bot, team="T0FOREIGN1") == 200
        assert bot_revoked(bot, team="T0FOREIGN1") == 200
        assert bot.platform.installed_in(workspace=None)
        message = {"type": "message", "channel_type": "im", "channel": "D0CHEN0001", "user": CHEN, "text": "list",
                   "ts": "1790000000.000200"}
        assert team_event(bot, team="T0FOREIGN1", event=message, event_id="Ev0FOREIGNMSG") == 403
        assert bot_revoked(bot, team=TEAM_ID) == 200
        assert not bot.platform.installed_in(workspace=None)
