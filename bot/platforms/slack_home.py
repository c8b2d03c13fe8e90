"""Slack's App Home tab: the person's KRs, and for the boss and admins the objectives' conclusions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from slack_bolt import BoltContext
from slack_sdk import WebClient

from bot import services
from bot.core import model
from bot.platforms import slack_blocks as blocks
from bot.platforms.slack_context import SENDER

if TYPE_CHECKING:
    from bot.services import UnitOfWork


class SlackHome:
    """The App Home listener (a mixin of the Slack listeners: they give the unit of work, the clock and the words)."""

    uow: UnitOfWork
    clock: Callable[[], datetime]

    def _stranger_text(self, *, user_id: str) -> str:
        raise NotImplementedError

    def _publish_home(self, event: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        """The App Home tab: the person's KRs; for the boss and admins, the objectives' conclusions too."""
        if event.get("tab", "home") != "home":
            return
        user_id = event["user"]
        sender: services.ChatSender | None = context.get(SENDER)
        if sender is None:
            client.views_publish(user_id=user_id, view={"type": "home", "blocks": blocks.sections(text=self._stranger_text(user_id=user_id))})
            return
        at = self.clock()
        reply = services.list_krs(uow=self.uow, person=sender.person, at=at, workspace=sender.workspace)
        digest = services.compose(uow=self.uow, as_of=at, workspace=sender.workspace)
        person = services.person_of(uow=self.uow, key=sender.person, at=at, workspace=sender.workspace)
        last = {k.code: k.last_at for o in digest.objectives for k in o.krs}
        boss = person is not None and person.role in (model.Role.BOSS, model.Role.ADMIN)
        view = blocks.home_view(
            rows=reply.params["rows"], lang=reply.lang, name=reply.params["name"], last=last, tz=digest.timezone,
            digest=digest if boss else None,
        )
        client.views_publish(user_id=user_id, view=view)
