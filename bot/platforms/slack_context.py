"""What Slack's listeners pass along: the context keys, the handoff from an ack to its follow-up, who sent a request."""

from __future__ import annotations

import os
import traceback
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.platforms import slack_blocks as blocks

if TYPE_CHECKING:
    from bot.services import Reply

SENDER = "krbot_sender"  # context key: the ChatSender the middleware resolved (None: someone krbot does not know)
DELIVERY = "krbot_delivery"  # context key: the id a replay of the same signed request repeats
HANDOFF = "krbot_handoff"  # context key: what an ack leaves for its follow-up (none: no follow-up runs)


@dataclass(frozen=True, slots=True)
class Handoff:
    """What an ack leaves for its follow-up after the answer: the stored reply, a text for the sender, more to send."""

    reply: Reply | None = None
    workspace: str | None = None
    answer: str | None = None  # a text for the sender (a DM command's answer, a refusal of a click)
    more: tuple[dict[str, Any], ...] = ()  # the rest of a long answer
    form: bool = False  # `/kr update` alone: open the modal
    ask: int | None = None  # the ask a click decided
    cause: str | None = None  # the request's own id, whose answer the outbox owes (queued with what it stored)


def notice_cause(*, context: Any, reply: Reply) -> str:
    """What a reply's notices are told once for: the signed request's id, else the reply itself."""
    return context.get(DELIVERY) or f"{reply.key}:{sorted(map(str, reply.params.items()))}"


def raised_in_bolt(error: BaseException) -> bool:
    """Whether Bolt itself raised (reading a field of a payload that has another shape), not one of krbot's listeners."""
    trace = traceback.extract_tb(error.__traceback__)
    return bool(trace) and f"{os.sep}slack_bolt{os.sep}" in trace[-1].filename


def user_id_of(body: dict[str, Any]) -> str | None:
    """The Slack user who sent a request: a command's `user_id`, an interaction's `user.id`, an event's `user`."""
    if isinstance(body.get("user_id"), str):
        return body["user_id"]
    user = body.get("user")
    if isinstance(user, dict) and isinstance(user.get("id"), str):
        return user["id"]
    event = body.get("event")
    return event["user"] if isinstance(event, dict) and isinstance(event.get("user"), str) else None


def is_direct(event: dict[str, Any]) -> bool:
    """A person's own message in the bot's DM (not an edit, not a bot)."""
    return event.get("channel_type") == "im" and not event.get("subtype") and not event.get("bot_id") and bool(event.get("user"))


def first_field(view: dict[str, Any]) -> str:
    """The block of a check-in modal that shows a refusal no single field owns: the first measure's, else the note's."""
    try:
        return next(iter(blocks.form_values(view=view)["blocks"].values()), "note")
    except (KeyError, TypeError, AttributeError, ValueError):
        return "note"
