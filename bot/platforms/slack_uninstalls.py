"""Slack uninstalls honoured: `app_uninstalled` and `tokens_revoked` forget the team's tokens, and krbot stops sending there.

With installs (OAuth) the team's tokens are deleted from the store; with a single SLACK_BOT_TOKEN, which no event can
delete, the team is marked gone for this process and the log says what to do. Either way the event is acked after
the change is stored (200; an event for a team krbot does not know changes nothing), and the jobs skip a workspace
whose install is gone (bot/scheduler.py asks `installed_in`).
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import BoltContext

from bot.core.errors import KrbotError

log = logging.getLogger(__name__)
EVENTS = ("app_uninstalled", "tokens_revoked")


class SlackUninstalls:
    """The uninstall listeners of the Slack platform (a mixin: the platform gives the install store, if any)."""

    installs: Any
    gone_teams: set[str]

    def register_uninstalls(self, *, app: Any) -> None:
        """Listen to `app_uninstalled` and `tokens_revoked` (HTTP and Socket Mode alike: one Bolt app)."""
        app.event("app_uninstalled")(self._on_uninstalled)
        app.event("tokens_revoked")(self._on_tokens_revoked)

    def _on_uninstalled(self, ack: Any, context: BoltContext) -> None:
        """krbot was removed from a team: forget its tokens before the ack."""
        self._forget_team(context=context, users=[], bot=True, why="uninstalled")
        ack()

    def _on_tokens_revoked(self, ack: Any, event: dict[str, Any], context: BoltContext) -> None:
        """Some of a team's tokens were revoked: forget those (the bot's: all of the team's) before the ack."""
        tokens = event.get("tokens") if isinstance(event.get("tokens"), dict) else {}
        users = [str(user) for user in tokens.get("oauth") or [] if isinstance(user, str)]
        bot = bool(tokens.get("bot"))
        if users or bot:
            self._forget_team(context=context, users=users, bot=bot, why="revoked its bot token" if bot else "revoked")
        ack()

    def _forget_team(self, *, context: BoltContext, users: list[str], bot: bool, why: str) -> None:
        """Delete (installs) or mark gone (single token) what the team took back."""
        team = context.team_id or ""
        if self.installs is not None:
            self.installs.revoked(enterprise_id=context.enterprise_id, team_id=context.team_id, users=users, bot=bot)
            if bot:
                log.warning("slack team %s %s: its tokens are deleted; nothing more is sent there", team, why)
            return
        if bot and team:
            self.gone_teams.add(team)
            log.warning("slack team %s %s: SLACK_BOT_TOKEN no longer works there; nothing more is sent until krbot is "
                        "installed again and restarted with the new token", team, why)

    def installed_in(self, *, workspace: str | None) -> bool:
        """False when krbot's install in the workspace's Slack team is gone: its tokens deleted (or, with one token,
        the team uninstalled krbot while this process ran); the jobs skip that workspace."""
        if self.installs is None:
            return not self.gone_teams
        try:
            self._client_for(workspace=workspace)
        except KrbotError as error:
            return error.key != "slack.not_installed"  # several teams and none named: a setting to fix, said loudly
        return True

    def _client_for(self, *, workspace: str | None) -> Any:
        raise NotImplementedError
