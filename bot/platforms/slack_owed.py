"""What a Slack request owes after its ack, through the outbox: the answers queued in the request's own transaction, sent
after the ack and marked; what a stopped process still owed is sent at the next start (looked for first, never twice)."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from slack_bolt import BoltContext
from slack_sdk import WebClient

from bot import outbox, services
from bot.charts import matrix_png
from bot.core import model
from bot.i18n import translate
from bot.outbox import Message
from bot.platforms import slack_blocks as blocks
from bot.platforms import slack_client
from bot.platforms.base import Sent
from bot.platforms.slack_client import ANSWER_EVENT
from bot.platforms.slack_context import HANDOFF, notice_cause

if TYPE_CHECKING:
    from bot.services import UnitOfWork

log = logging.getLogger(__name__)
PLATFORM = "slack"
ANSWER = "answer"
OWED_SWEEP = 10.0  # seconds between looks for what a stopped process owed (its claims run out after OWED_LEASE)


def answer_item(*, workspace_id: int, person: str, cause: str, part: int, now: datetime) -> Message:
    """The ledger item of one message of the answer to request `cause` (an event id), for `person`."""
    period = f"{cause}#{part}"
    if len(period) > 64:
        period = "sha1:" + hashlib.sha1(period.encode()).hexdigest()
    return Message(workspace_id=workspace_id, kind=ANSWER, target=person[:200], period=period, slot=now)


class SlackFollowUps:
    """Follow-ups after the ack (a mixin of the Slack platform): run in worker threads, counted for the drain; answers
    sent through the outbox."""

    uow: UnitOfWork
    clock: Callable[[], datetime]
    _follow_ups: ThreadPoolExecutor
    name: str

    def notify(self, *, person: model.Person, text: str, idempotency_key: str) -> Sent:
        raise NotImplementedError

    def _client_for(self, *, workspace: str | None) -> WebClient:
        raise NotImplementedError

    _following: set[Future[None]]  # the follow-ups under way
    _following_lock: threading.Lock

    def _dm(self, *, client: WebClient, user_id: str, message: dict[str, Any]) -> Sent:
        """Open (or find) the DM with a user and post one message there."""
        channel = client.conversations_open(users=user_id)["channel"]["id"]
        posted = client.chat_postMessage(channel=channel, **message)
        return Sent(platform=PLATFORM, message_id=str(posted["ts"]), extra={"channel": channel})

    def _submit(self, function: Callable[..., None], *args: Any) -> None:
        """Run a follow-up in a worker thread, counted until it ends (SIGTERM's drain waits for it)."""
        future = self._follow_ups.submit(function, *args)
        with self._following_lock:
            self._following.add(future)
        future.add_done_callback(self._forget)

    def _forget(self, future: Future[None]) -> None:
        with self._following_lock:
            self._following.discard(future)

    def follow_ups_done(self, *, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the follow-ups under way (those they start too); True if all ended."""
        deadline = time.monotonic() + timeout
        while True:
            with self._following_lock:
                pending = list(self._following)
            if not pending:
                return True
            _, left = wait(pending, timeout=max(0.0, deadline - time.monotonic()))
            if left:
                log.warning("slack: %d follow-up(s) still running at the drain's deadline", len(left))
                return False

    def _send_matrix_chart(self, *, client: WebClient, user_id: str, reply: services.Reply) -> None:
        """The matrix as a PNG in the asker's DM (an ephemeral answer cannot carry a file)."""
        chart = matrix_png(quadrants=reply.params["quadrants"], lang=reply.lang)
        if chart is None:  # no CJK-capable font here: the text answer says it all
            return
        channel = client.conversations_open(users=user_id)["channel"]["id"]
        client.files_upload_v2(
            channel=channel, content=chart[0], filename="krbot-matrix.png", title=translate("matrix.title", lang=reply.lang)
        )

    def _tell_reply(self, *, client: WebClient, context: BoltContext) -> None:
        """After the answer: tell the people the stored reply names, once per request, through the outbox."""
        handoff = context.get(HANDOFF)
        reply = handoff.reply if handoff else None
        if reply is not None and handoff.workspace and reply.notices:
            outbox.tell_notices(uow=self.uow, platform=self, reply=reply, workspace=handoff.workspace,
                                cause=notice_cause(context=context, reply=reply), now=self.clock())

    # ------------------------------------------------------------ answers and notices owed

    def owe_notices(self, *, reply: services.Reply, workspace: str | None, context: BoltContext) -> None:
        """Queue the notices a stored reply names, in the transaction under way (`_tell_reply` sends them after the ack)."""
        if workspace and reply.notices:
            outbox.owe_notices(uow=self.uow, platform=PLATFORM, reply=reply, workspace=workspace,
                               cause=notice_cause(context=context, reply=reply), now=self.clock())


    def owe_answer(self, *, workspace: str | None, person: str, channel: str, cause: str, text: str) -> None:
        """Queue the answer to request `cause` in the transaction under way (the one that stores the request)."""
        now = datetime.now(UTC)
        workspace_id = services.workspace_id_of(uow=self.uow, workspace=workspace)
        outbox.owe(uow=self.uow, rows=[
            (answer_item(workspace_id=workspace_id, person=person, cause=cause, part=n, now=now),
             {"platform": PLATFORM, "workspace": workspace, "channel": channel, "message": message})
            for n, message in enumerate(blocks.text_messages(text=text))
        ])

    def send_answer(self, *, workspace: str | None, person: str, channel: str, cause: str, text: str) -> None:
        """Send the answer to request `cause` through the outbox (each message once, whether queued before or not)."""
        now = datetime.now(UTC)
        workspace_id = services.workspace_id_of(uow=self.uow, workspace=workspace)
        for n, message in enumerate(blocks.text_messages(text=text)):
            item = answer_item(workspace_id=workspace_id, person=person, cause=cause, part=n, now=now)
            self._send_owed_row(item=item, payload={"platform": PLATFORM, "workspace": workspace, "channel": channel,
                                                    "message": message})

    def _send_owed_row(self, *, item: Message, payload: dict[str, Any], lease: timedelta = outbox.OWED_LEASE) -> str:
        """One owed follow-up through the outbox: an answer posted marked (found again after a crash), or a notice."""
        client = self._client_for(workspace=payload.get("workspace"))
        key = outbox.idempotency_key(item)
        message = payload.get("message") or {"text": payload.get("text", "")}
        channel = str(payload.get("channel") or "")
        about = {"workspace": str(payload.get("workspace") or "")}

        def send() -> Sent:
            if item.kind != ANSWER:
                return outbox.notice_send(uow=self.uow, platform=self, item=item, payload=payload)
            return slack_client.post_marked(client=client, post=message, channel=channel, thread=None, key=key,
                                            about=about, event_type=ANSWER_EVENT)

        def find() -> Sent | None:
            if item.kind != ANSWER:
                return None
            return slack_client.find_marked(client=client, channel=channel, thread=None, key=key, event_type=ANSWER_EVENT)

        box = outbox.Outbox(uow=self.uow, lease=lease)
        status, _ = box.send(item=item, now=datetime.now(UTC), platform=self, send=send, find=find)
        return status

    def sweep_owed(self, *, closing: threading.Event) -> None:
        """From the start until `closing`: every OWED_SWEEP seconds, send what a stopped process owed."""
        while True:
            self._send_owed()
            if closing.wait(OWED_SWEEP):
                return

    def _send_owed(self) -> None:
        """Send what a stopped process owed (queued, or claimed by one whose lease ran out)."""
        try:
            for owed in outbox.owed(uow=self.uow, platform=PLATFORM, now=datetime.now(UTC)):
                status = self._send_owed_row(item=owed.item, payload=owed.payload, lease=owed.lease)
                log.info("slack: owed %s to %s %s", owed.item.kind, owed.item.target, status)
        except Exception:  # noqa: BLE001 - a background thread: the next start (or a redelivery) tries again
            log.exception("slack: sending what was owed failed")
