"""Slack's doors to the web pages: the sign-in links `/kr web` and the digest's "Open the report" button hand out,
each to the person who asked, privately (a mixin of the Slack listeners)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import BoltContext

from bot import services
from bot.platforms import payloads
from bot.platforms.slack_context import HANDOFF, SENDER, Handoff


class SlackWebDoor:
    """`door` (KRBOT_SECRET_KEY and where the pages are) and the "Open the report" click."""

    settings: Any
    uow: Any
    clock: Callable[..., Any]

    _stranger_text: Callable[..., str]  # the listeners' answer to someone krbot does not know
    _reply_text: Callable[..., str]  # a reply as escaped mrkdwn

    @property
    def door(self) -> services.WebDoor:
        """KRBOT_SECRET_KEY and the pages' address, for the sign-in links `/kr web` and "Open the report" give."""
        return services.WebDoor.of(secret_key=self.settings.secret_key, public_url=self.settings.public_url,
                                   port=self.settings.http_port)

    def _open_report(self, ack: Callable[..., None], body: dict[str, Any], context: BoltContext) -> None:
        """The digest's "Open the report": whoever clicked gets their own one-time link, privately (the follow-up
        answers on the click's response_url, ephemeral: never one link for the channel)."""
        sender: services.ChatSender | None = context[SENDER]
        if sender is None:
            context[HANDOFF] = Handoff(answer=self._stranger_text(user_id=payloads.text(body, "user", "id")))
        else:
            reply = services.web_link(uow=self.uow, person=sender.person, at=self.clock(), lang=sender.lang,
                                      door=self.door, workspace=sender.workspace)
            context[HANDOFF] = Handoff(answer=self._reply_text(reply=reply))
        ack()
