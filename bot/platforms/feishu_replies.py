"""Feishu's answers after an event is stored: owed in the ledger with the check-in, sent after, marked once.

A reply is planned inside the transaction that stores what it answers (`owe`): the ledger row and the check-in are
committed together. After the commit the reply is sent through the outbox (claimed, sent under deterministic
uuids, marked). A process that dies in between leaves the row owed; `sweep` sends it on the next start — at once
when the claim was this host's dead process, after the lease otherwise — and Feishu's uuid makes a repeated send
one message.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot import outbox, services
from bot.charts import matrix_png
from bot.i18n import translate
from bot.platforms import feishu_cards as cards
from bot.platforms import feishu_form as forms
from bot.platforms.base import Sent
from bot.render import render_reply

if TYPE_CHECKING:
    from bot.services import UnitOfWork

log = logging.getLogger(__name__)

KIND = "reply"
PLATFORM = "feishu"
PREFIX = PLATFORM + ":"
LEASE = timedelta(seconds=60)  # a live sender renews its claim before each try; Feishu's uuid covers an overlap
SWEEP_SECONDS = 30.0


def text_content(text: str) -> str:
    """The `content` of a text message, user words made inert."""
    return json.dumps({"text": cards.plain(text)}, ensure_ascii=False)


def plan(*, to: str, target: str, key: str, messages: list[dict[str, Any]], in_thread: bool = False) -> dict[str, Any]:
    """What one answer sends: to "reply" (a message id, in its thread for groups) or "direct" (an open id)."""
    return {"to": to, "target": target, "key": key, "in_thread": in_thread, "messages": messages}


def owed_messages(*, reply: services.Reply) -> list[dict[str, Any]]:
    """The messages that carry a stored reply, as kept in the ledger (a chart is drawn and uploaded when sent)."""
    if reply.ok and reply.shows is services.Shows.FORM:
        built = forms.checkin_cards(rows=reply.params["rows"], lang=reply.lang)
        return [{"msg_type": "interactive", "content": cards.content_of(card)} for card in built]
    if reply.ok and reply.shows is services.Shows.CHART:
        return [{"msg_type": "text", "content": text_content(render_reply(reply=reply))},
                {"chart": reply.params["quadrants"], "lang": reply.lang}]
    if reply.ok and reply.shows is services.Shows.DIGEST and reply.digest is not None:
        built = cards.digest_cards(digest=reply.digest, lang=reply.lang)
        words = translate(reply.key, lang=reply.lang, locale=reply.locale, **reply.params)
        return [{"msg_type": "text", "content": text_content(words)},
                *({"msg_type": "interactive", "content": cards.content_of(card)} for card in built)]
    return [{"msg_type": "text", "content": text_content(render_reply(reply=reply))}]


class FeishuReplies:
    """Answers owed, sent and swept (a mixin of the Feishu platform: it gives the database, clock and Open API)."""

    uow: UnitOfWork
    clock: Callable[[], datetime]
    pool: ThreadPoolExecutor
    name: str
    pending: set[Future[Any]]
    pending_lock: threading.Lock

    def create(self, *, receive_id: str, id_type: str, msg_type: str, content: str, key: str) -> str:
        raise NotImplementedError

    def reply(self, *, message_id: str, msg_type: str, content: str, in_thread: bool, key: str) -> str:
        raise NotImplementedError

    def upload_image(self, *, png: bytes) -> str:
        raise NotImplementedError

    # ------------------------------------------------------------ owed with the check-in, sent after

    def owe(self, *, workspace: str, person: str, cause: str, answer: dict[str, Any]) -> outbox.Message:
        """Inside the storing transaction: the answer's ledger row, owed from the same commit as what it answers."""
        workspace_id = services.workspace_id_of(uow=self.uow, workspace=workspace)
        now = self.clock()
        item = outbox.Message(workspace_id=workspace_id, kind=KIND, target=person[:200], period=_period(cause),
                              slot=now)
        outbox.owe(uow=self.uow, rows=[(item, answer)])
        return item

    def settle(self, *, item: outbox.Message | None, answer: dict[str, Any], lease: timedelta = LEASE) -> None:
        """Send an answer: through its ledger row when it has one (claimed, sent, marked once), else straight out."""
        if item is None:
            try:
                self.send_answer(answer=answer)
            except Exception:
                log.exception("feishu answer to %s failed", answer.get("target"))
            return
        box = outbox.Outbox(uow=self.uow, lease=lease, clock=self.clock)
        status, _ = box.send(item=item, now=self.clock(), platform=self, send=lambda: self.send_answer(answer=answer))
        if status not in ("sent", "busy"):
            log.warning("feishu answer to %s: %s", answer.get("target"), status)

    def send_answer(self, *, answer: dict[str, Any]) -> Sent:
        """Send every message of an answer, each under its own deterministic uuid (a repeat is one message)."""
        ids: list[str] = []
        for n, message in enumerate(answer.get("messages") or []):
            msg_type, content = self._resolved(message)
            if msg_type is None:
                continue
            key = f"{answer['key']}:{n}"
            if answer["to"] == "direct":
                ids.append(self.create(receive_id=answer["target"], id_type="open_id", msg_type=msg_type,
                                       content=content, key=key))
            else:
                ids.append(self.reply(message_id=answer["target"], msg_type=msg_type, content=content,
                                      in_thread=bool(answer.get("in_thread")), key=key))
        return Sent(platform=self.name, message_id=ids[0] if ids else "")

    def _resolved(self, message: dict[str, Any]) -> tuple[str | None, str]:
        """(msg_type, content) of a kept message: a chart drawn and uploaded now (None without a CJK font)."""
        if "chart" not in message:
            return str(message["msg_type"]), str(message["content"])
        chart = matrix_png(quadrants=message["chart"], lang=str(message.get("lang") or "zh"))
        if chart is None:  # no CJK-capable font on this machine: the text matrix says it all
            return None, ""
        return "image", json.dumps({"image_key": self.upload_image(png=chart[0])})

    def _owe_notices(self, *, reply: services.Reply, workspace: str, cause: str) -> None:
        """Inside the storing transaction: the notices the reply names, owed from the same commit (`_tell` sends them)."""
        outbox.owe_notices(uow=self.uow, platform=PLATFORM, reply=reply, workspace=workspace, cause=cause,
                           now=self.clock())

    def _tell(self, *, reply: services.Reply, workspace: str, source: str) -> None:
        """Send the reply's notices (ask decided, goal changed …) to the people they name, from a worker, once per source."""
        if reply.notices:
            self.submit(self._notify_all, reply=reply, workspace=workspace, cause=source)

    def _notify_all(self, *, reply: services.Reply, workspace: str, cause: str) -> None:
        """Deliver a reply's notices through the outbox, once per person and cause."""
        try:
            outbox.tell_notices(uow=self.uow, platform=self, reply=reply, workspace=workspace, cause=cause, now=self.clock())
        except Exception:
            log.exception("feishu notices for %s failed", cause)

    # ------------------------------------------------------------ sends in flight, and the sweep after a crash

    def submit(self, function: Callable[..., Any], /, **kwargs: Any) -> None:
        """Run a send on the pool, remembered until done so that stop() can wait for it."""
        pending, lock = self.pending, self.pending_lock
        try:
            future = self.pool.submit(function, **kwargs)
        except RuntimeError:  # the pool is shut down: the ledger keeps what is owed for the next start
            log.warning("feishu send after stop left to the next start")
            return
        with lock:
            pending.add(future)
        future.add_done_callback(lambda done: _forget(pending, lock, done))

    def wait_sends(self, *, timeout: float) -> bool:
        """Wait for the sends in flight, at most `timeout` seconds; True when all are done."""
        with self.pending_lock:
            pending = set(self.pending)
        _, left = wait_for(pending, timeout=timeout)
        return not left

    def sweep(self) -> int:
        """Send the answers and notices a stopped or crashed process owed (queued, or claimed by a dead or expired
        worker)."""
        count = 0
        for owed in outbox.owed(uow=self.uow, platform=PLATFORM, now=self.clock(), lease=LEASE):
            log.info("feishu %s %s owed since %s: sending it now", owed.item.kind, owed.item.period,
                     owed.claimed_at.isoformat())
            if owed.item.kind == KIND:
                self.settle(item=owed.item, answer=owed.payload, lease=owed.lease)
            else:
                self._notify_owed(owed=owed)
            count += 1
        return count

    def _notify_owed(self, *, owed: outbox.Owed) -> None:
        """Send an owed notice once through the outbox (the person it names, as the OKR file has them now)."""
        box = outbox.Outbox(uow=self.uow, lease=owed.lease, clock=self.clock)
        status, _ = box.send(item=owed.item, now=self.clock(), platform=self,
                             send=lambda: outbox.notice_send(uow=self.uow, platform=self, item=owed.item,
                                                             payload=owed.payload))
        if status not in ("sent", "busy"):
            log.warning("feishu notice to %s: %s", owed.item.target, status)

    def sweeping(self, *, halt: threading.Event) -> None:
        """Sweep at start, then every SWEEP_SECONDS until halted."""
        while not halt.is_set():
            try:
                self.sweep()
            except Exception:
                log.exception("feishu sweep of owed answers failed; next try in %.0fs", SWEEP_SECONDS)
            halt.wait(SWEEP_SECONDS)


def _period(cause: str) -> str:
    """The ledger period of an answer: the platform and its cause (at most 64 characters)."""
    period = PREFIX + cause
    if len(period) <= 64:
        return period
    return PREFIX + "sha1:" + hashlib.sha1(cause.encode()).hexdigest()


def _forget(pending: set[Future[Any]], lock: threading.Lock, done: Future[Any]) -> None:
    with lock:
        pending.discard(done)
