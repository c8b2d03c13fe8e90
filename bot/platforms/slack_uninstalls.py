"""Slack uninstalls honoured: `app_uninstalled` and `tokens_revoked` forget the team's tokens, and krbot stops sending there.

With installs (OAuth) the team's tokens are deleted from the store; with a single SLACK_BOT_TOKEN, which no event can
delete, the database remembers that this token was taken back (a restart on the same token still sends nothing; a new
token, after installing krbot again, works at once) and the log says what to do. Either way the event is acked after
the change is stored (200; an event for a team krbot does not know — another team's, with one token — changes
nothing), and the jobs skip a workspace whose install is gone (bot/scheduler.py asks `installed_in`).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from slack_bolt import BoltContext

from bot import services
from bot.core.errors import KrbotError

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.services import UnitOfWork

log = logging.getLogger(__name__)
EVENTS = ("app_uninstalled", "tokens_revoked")


class SlackUninstalls:
    """The uninstall listeners of the Slack platform (a mixin: the platform gives the install store, if any)."""

    installs: Any
    uow: UnitOfWork
    settings: Settings

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
            services.slack_token_taken_back(uow=self.uow, token=self.settings.slack_bot_token or "", team_id=team,
                                            at=datetime.now(UTC))
            log.warning("slack team %s %s: SLACK_BOT_TOKEN no longer works there; nothing more is sent until krbot is "
                        "installed again and restarted with the new token", team, why)

    def installed_in(self, *, workspace: str | None) -> bool:
        """False when krbot's install in the workspace's Slack team is gone: its tokens deleted (or, with one token,
        the team took that token back); the jobs skip that workspace."""
        if self.installs is None:
            return services.slack_team_that_took_back(uow=self.uow, token=self.settings.slack_bot_token or "") is None
        try:
            self._client_for(workspace=workspace)
        except KrbotError as error:
            return error.key != "slack.not_installed"  # several teams and none named: a setting to fix, said loudly
        return True

    def _client_for(self, *, workspace: str | None) -> Any:
        raise NotImplementedError


def is_uninstall(body: Any) -> bool:
    """Whether a request is an `app_uninstalled` or `tokens_revoked` event callback."""
    event = body.get("event") if isinstance(body, dict) else None
    return isinstance(event, dict) and event.get("type") in EVENTS
