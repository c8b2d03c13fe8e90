"""Feishu's doors to the web pages: the sign-in links `web` (sent to the bot) and the digest card's 打开完整报告 hand
out, each to the person who asked, privately (a mixin of the Feishu listeners)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from lark_oapi.event.callback.model.p2_card_action_trigger import P2CardActionTriggerResponse

from bot import services
from bot.i18n import translate
from bot.platforms import feishu_cards as cards
from bot.platforms.feishu_replies import text_content
from bot.render import render_reply

log = logging.getLogger(__name__)


def _toast(kind: str, text: str) -> P2CardActionTriggerResponse:
    """A card callback answer: a toast."""
    return P2CardActionTriggerResponse({"toast": {"type": kind, "content": cards.plain(text)[:500]}})


class FeishuWebDoor:
    """`door` (KRBOT_SECRET_KEY and where the pages are) and the digest card's 打开完整报告 click."""

    settings: Any
    uow: Any
    clock: Callable[..., Any]

    submit: Callable[..., None]  # the platform's worker pool (FeishuReplies)
    create: Callable[..., str]  # one message through the Open API (FeishuPlatform)

    @property
    def door(self) -> services.WebDoor:
        """KRBOT_SECRET_KEY and the pages' address, for the sign-in links `web` and the digest's button give."""
        return services.WebDoor.of(secret_key=self.settings.secret_key, public_url=self.settings.public_url,
                                   port=self.settings.http_port)

    def _open_report(self, *, sender: services.ChatSender, open_id: str, event_id: str) -> P2CardActionTriggerResponse:
        """The digest's 打开完整报告: the reader's own one-time link, sent to them alone (a private message from a
        worker); the card answers with a toast saying where it went — never one link for the group."""
        reply = services.web_link(uow=self.uow, person=sender.person, at=self.clock(), lang=sender.lang,
                                  door=self.door, workspace=sender.workspace)
        if not reply.params.get("url"):
            return _toast("info", render_reply(reply=reply))
        self.submit(self._send_link, open_id=open_id, text=render_reply(reply=reply), key=f"web-link:{event_id}")
        return _toast("success", translate("web.chat_link_sent", lang=sender.lang))

    def _send_link(self, *, open_id: str, text: str, key: str) -> None:
        """Send a sign-in link to one person's chat with the bot; a failure is logged (they can click again)."""
        try:
            self.create(receive_id=open_id, id_type="open_id", msg_type="text", content=text_content(text), key=key)
        except Exception:  # noqa: BLE001 - a worker thread: nobody else would see it
            log.exception("feishu sign-in link for %s not sent", open_id)
