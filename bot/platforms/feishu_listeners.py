"""Feishu's callbacks: verified, then each message or card is claimed and stored (or refused) in one transaction, then answered."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from lark_oapi.api.application.v6 import P2ApplicationBotMenuV6
from lark_oapi.api.im.v1 import P2ImMessageReceiveV1
from lark_oapi.core.json import JSON
from lark_oapi.event.callback.model.p2_card_action_trigger import (
    P2CardActionTrigger,
    P2CardActionTriggerResponse,
)
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot import commands, outbox, services
from bot.charts import matrix_png
from bot.config import Settings
from bot.core.errors import KrbotError
from bot.i18n import error_message, translate
from bot.platforms import feishu_cards as cards
from bot.platforms import feishu_form as forms
from bot.platforms import feishu_payloads, payloads
from bot.platforms.lanes import lanes_of
from bot.platforms.payloads import Malformed
from bot.render import render_reply
from bot.services.deadlines import maybe_saved

if TYPE_CHECKING:
    from bot.services import UnitOfWork

log = logging.getLogger(__name__)

PLATFORM = "feishu"
WINDOW_SECONDS = 300
_MENTION_KEY = re.compile(r"@_user_\d+|@_all")


@dataclass(frozen=True, slots=True)
class Answer:
    """What a stored chat message is answered with: the service's reply (or a fixed text), and the sender's workspace."""

    texts: list[tuple[str, str]]
    reply: services.Reply | None = None
    workspace: str | None = None


class FeishuListeners:
    """The callbacks of the Feishu platform (a mixin: the platform gives settings, database, clock and the Open API)."""

    settings: Settings
    uow: UnitOfWork
    clock: Callable[[], datetime]
    encrypt_key: str
    verification_token: str
    pool: ThreadPoolExecutor

    def create(self, *, receive_id: str, id_type: str, msg_type: str, content: str, key: str) -> str:
        raise NotImplementedError

    def reply(self, *, message_id: str, msg_type: str, content: str, in_thread: bool, key: str) -> str:
        raise NotImplementedError

    def upload_image(self, *, png: bytes) -> str:
        raise NotImplementedError

    def notify(self, *, person: Any, text: str, idempotency_key: str) -> Any:
        raise NotImplementedError

    # ------------------------------------------------------------ HTTP callback

    async def _endpoint(self, request: Request) -> Response:
        """`POST /feishu/events`: 401 unless every check passes, 403 for another app or tenant, 400 when malformed.

        Then the event is handled here, in a thread: stored and claimed in one transaction before the 200; when
        the database can't take it, 500, so Feishu pushes it again.
        """
        body = await request.body()
        verdict = feishu_payloads.verify(
            body=body, headers=request.headers, encrypt_key=self.encrypt_key, verification_token=self.verification_token
        )
        if verdict is None:
            return JSONResponse({"msg": "unauthorized"}, status_code=401)
        if verdict.get("type") == "url_verification":
            return JSONResponse({"challenge": str(verdict.get("challenge", ""))})
        header = verdict.get("header")
        if not isinstance(header, dict):
            return JSONResponse({"msg": "malformed"}, status_code=400)
        if not self._ours(header=header):
            log.warning("feishu event for another app or tenant refused")
            return JSONResponse({"msg": "not our app"}, status_code=403)
        handle = self._handlers().get(str(header.get("event_type")))
        if handle is None:
            return JSONResponse({"msg": "ignored"})
        try:
            answer = await lanes_of(engine=self.uow.engine).run(handle, verdict)
        except Malformed as error:
            log.warning("malformed feishu event refused: %s", error)
            return JSONResponse({"msg": "malformed"}, status_code=400)
        except Exception:
            log.exception("feishu event failed; nothing was stored, Feishu will push it again")
            return JSONResponse({"msg": "failed"}, status_code=500)
        return Response(content=JSON.marshal(answer) if answer is not None else '{"msg":"success"}',
                        media_type="application/json")

    def _ours(self, *, header: dict[str, Any]) -> bool:
        """The event names this app (FEISHU_APP_ID) and, when FEISHU_TENANT_KEY is set, this tenant."""
        tenant = self.settings.feishu_tenant_key
        if header.get("app_id") != self.settings.feishu_app_id:
            return False
        return not tenant or header.get("tenant_key") == tenant

    def _handlers(self) -> dict[str, Callable[[dict[str, Any]], Any]]:
        """event_type -> handler of the decrypted push (shape checked, then lark-oapi's typed event)."""
        return {
            "im.message.receive_v1": lambda plain: self._on_message(feishu_payloads.typed(plain, P2ImMessageReceiveV1, feishu_payloads.message_shape)),
            "application.bot.menu_v6": lambda plain: self._on_menu(feishu_payloads.typed(plain, P2ApplicationBotMenuV6, feishu_payloads.menu_shape)),
            "card.action.trigger": lambda plain: self._on_card(feishu_payloads.typed(plain, P2CardActionTrigger, feishu_payloads.card_shape)),
        }

    # ------------------------------------------------------------ events

    def _on_message(self, data: Any) -> None:
        """A chat message: claimed (event id and message id) and its command stored or refused in ONE transaction.

        A crash before the commit leaves neither, so Feishu's re-push is handled in full; after it, the re-push is
        a duplicate. Only then are the replies sent (from a thread, each with a deterministic uuid).
        """
        event = data.event
        message = event.message
        if event.sender is None or event.sender.sender_type != "user" or message is None:
            return
        open_id = event.sender.sender_id.open_id
        ids = [f"event:{data.header.event_id}", f"message:{message.message_id}"]
        once = services.handle_once(
            uow=self.uow, platform=PLATFORM, event_ids=ids, at=self.clock(),
            action=lambda: self._answer_message(message=message, open_id=open_id),
        )
        if once.fresh and once.result is not None:
            self.pool.submit(self._deliver, message=message, open_id=open_id, answer=once.result)

    def _answer_message(self, *, message: Any, open_id: str) -> Answer | None:
        """The stored (or refused) answer to one chat message; None when it is not for the bot."""
        mentions = message.mentions or []
        if message.chat_type == "group" and not mentions:
            return None
        sender = self._sender(open_id=open_id)
        if sender is None:
            return Answer(texts=[("text", _text_content(translate("feishu.unknown_user", lang=self._workspace_lang(None))))])
        if message.message_type != "text":
            return Answer(texts=[("text", _text_content(translate("feishu.only_text", lang=sender.lang)))])
        reply = services.run_command(
            uow=self.uow, person=sender.person, text=_command_text(message.content), at=self.clock(),
            workspace=sender.workspace, source=PLATFORM, event_key=f"feishu:{message.message_id}",
        )
        return Answer(texts=[], reply=reply, workspace=sender.workspace)

    def _sender(self, *, open_id: str | None) -> services.ChatSender | None:
        """Who sent a Feishu event, as krbot knows them (with their workspace's language), or None: the one lookup."""
        return services.chat_sender(uow=self.uow, platform=PLATFORM, user_id=open_id) if open_id else None

    def _deliver(self, *, message: Any, open_id: str, answer: Answer) -> None:
        """After the commit: the replies (forms and previews in a group go to the sender directly), then the notices."""
        try:
            outgoing = answer.texts if answer.reply is None else self._outgoing(reply=answer.reply)
            if answer.reply is not None and answer.workspace:
                self._tell(reply=answer.reply, workspace=answer.workspace, source=f"message:{message.message_id}")
        except Exception:
            log.exception("feishu answer to %s could not be built", message.message_id)
            return
        private = message.chat_type == "group" and any(kind == "interactive" for kind, _ in outgoing)
        if private:
            self._send_direct(open_id=open_id, outgoing=outgoing, key=f"reply:{message.message_id}")
        elif outgoing:
            self._send_replies(message_id=message.message_id, outgoing=outgoing, in_thread=message.chat_type == "group")

    def _outgoing(self, *, reply: services.Reply) -> list[tuple[str, str]]:
        """The messages (msg_type, content) that carry a stored reply."""
        if reply.ok and reply.shows is services.Shows.FORM:
            built = forms.checkin_cards(rows=reply.params["rows"], lang=reply.lang)
            return [("interactive", cards.content_of(card)) for card in built]
        if reply.ok and reply.shows is services.Shows.CHART:
            chart = matrix_png(quadrants=reply.params["quadrants"], lang=reply.lang)
            text = ("text", _text_content(render_reply(reply=reply)))
            if chart is None:  # no CJK-capable font on this machine: the text matrix says it all
                return [text]
            return [text, ("image", json.dumps({"image_key": self.upload_image(png=chart[0])}))]
        if reply.ok and reply.shows is services.Shows.DIGEST and reply.digest is not None:
            head = translate(reply.key, lang=reply.lang, **reply.params)
            built = cards.digest_cards(digest=reply.digest, lang=reply.lang)
            return [("text", _text_content(head)), *(("interactive", cards.content_of(card)) for card in built)]
        return [("text", _text_content(render_reply(reply=reply)))]

    def _send_replies(
        self, *, message_id: str, outgoing: list[tuple[str, str]], in_thread: bool, tag: str = "ok"
    ) -> None:
        """Reply to a message (in thread for groups), each reply with a deterministic uuid."""
        try:
            for n, (msg_type, content) in enumerate(outgoing):
                self.reply(
                    message_id=message_id, msg_type=msg_type, content=content, in_thread=in_thread,
                    key=f"reply:{message_id}:{tag}:{n}",
                )
        except Exception:
            log.exception("feishu reply to %s failed", message_id)

    def _tell(self, *, reply: services.Reply, workspace: str, source: str) -> None:
        """Send the reply's notices (ask decided, goal changed …) to the people they name, from a worker, once per source."""
        if reply.notices:
            self.pool.submit(self._notify_all, reply=reply, workspace=workspace, cause=source)

    def _notify_all(self, *, reply: services.Reply, workspace: str, cause: str) -> None:
        """Deliver a reply's notices through the outbox, once per person and cause."""
        try:
            outbox.tell_notices(uow=self.uow, platform=self, reply=reply, workspace=workspace, cause=cause, now=self.clock())
        except Exception:
            log.exception("feishu notices for %s failed", cause)

    def _workspace_lang(self, workspace: str | None) -> str:
        """The workspace language for a message, zh when it can't be read."""
        try:
            return services.workspace_language(uow=self.uow, workspace=workspace)
        except Exception:  # only a fallback for the words of an error message
            return "zh"

    def _on_menu(self, data: Any) -> None:
        """The bot menu: the check-in card, sent to the clicker directly (claimed with what it reads, then sent)."""
        operator = data.event.operator
        open_id = operator.operator_id.open_id if operator and operator.operator_id else None
        if not open_id:
            return
        once = services.handle_once(
            uow=self.uow, platform=PLATFORM, event_ids=[f"event:{data.header.event_id}"], at=self.clock(),
            action=lambda: self._menu_cards(open_id=open_id),
        )
        if once.fresh and once.result:
            self.pool.submit(self._send_direct, open_id=open_id, outgoing=once.result, key=f"menu:{data.header.event_id}")

    def _menu_cards(self, *, open_id: str) -> list[tuple[str, str]]:
        """The check-in cards for the menu's clicker, or why there are none."""
        sender = self._sender(open_id=open_id)
        if sender is None:
            return [("text", _text_content(translate("feishu.unknown_user", lang=self._workspace_lang(None))))]
        try:
            rows = services.list_krs(uow=self.uow, person=sender.person, at=self.clock(), workspace=sender.workspace)
        except KrbotError as error:
            return [("text", _text_content(error_message(error, lang=sender.lang)))]
        return [("interactive", cards.content_of(card)) for card in forms.checkin_cards(rows=rows.params["rows"], lang=rows.lang)]

    def _send_direct(self, *, open_id: str, outgoing: list[tuple[str, str]], key: str) -> None:
        """Send messages to one person's direct chat, each with a deterministic uuid."""
        try:
            for n, (msg_type, content) in enumerate(outgoing):
                self.create(receive_id=open_id, id_type="open_id", msg_type=msg_type, content=content, key=f"{key}:{n}")
        except Exception:
            log.exception("feishu message to %s failed", open_id)

    # ------------------------------------------------------------ card callbacks

    def _on_card(self, data: P2CardActionTrigger) -> P2CardActionTriggerResponse:
        """A card callback, stored before it is answered with a toast (and maybe a new card); a failure says nothing was saved."""
        event = data.event
        open_id = event.operator.open_id if event and event.operator else None
        action = event.action if event else None
        sender: services.ChatSender | None = None
        try:
            sender = self._sender(open_id=open_id)
            if sender is None:
                return _toast("error", translate("feishu.unknown_user", lang=self._workspace_lang(None)))
            person, workspace = sender.person, sender.workspace
            value = (action.value if action else None) or {}
            if value.get("a") == "checkin":
                form = (action.form_value if action else None) or {}
                return self._submit_checkin(person=person, workspace=workspace, value=value, form=form,
                                            event_id=data.header.event_id)
            if value.get("a") == "ask":
                return self._decide(person=person, workspace=workspace, value=value, event_id=data.header.event_id)
            return _toast("info", translate("feishu.card.unknown_action", lang=sender.lang))
        except KrbotError as error:
            return _toast("error", error_message(error, lang=sender.lang if sender else self._workspace_lang(None)))
        except Malformed:
            raise
        except Exception as error:  # the database did not take it: nothing was saved (or, once a COMMIT went out
            # and its answer never came, not known whether), and the toast says so
            unsure = maybe_saved(error)
            log.exception("feishu card action failed; %s", "it may be stored" if unsure else "nothing was saved")
            return _toast("error", translate("feishu.unsure" if unsure else "feishu.failed",
                                             lang=sender.lang if sender else self._workspace_lang(None)))

    def _submit_checkin(
        self, *, person: str, workspace: str, value: dict[str, Any], form: dict[str, Any], event_id: str
    ) -> P2CardActionTriggerResponse:
        """A check-in form: fields checked first (errors back on the card), then stored once per callback."""
        code = str(value.get("code") or "")
        names = [str(n) for n in value.get("measures") or []]
        texts = {names[j]: str(form.get(f"m{j}") or "").strip() for j in range(len(names))}
        at = self.clock()
        problems = services.validate_checkin(uow=self.uow, person=person, code=code, values=texts, at=at, workspace=workspace)
        listing = services.list_krs(uow=self.uow, person=person, at=at, workspace=workspace)
        lang = listing.lang
        if problems:
            errors = {name: error_message(error, lang=lang) for name, error in problems.items()}
            built = forms.checkin_cards(rows=listing.params["rows"], lang=lang, values={code: form}, errors={code: errors})
            first = next(iter(errors.values()))
            return _toast("error", translate("feishu.checkin.invalid", lang=lang) + " — " + first,
                          card=forms.card_with_form(cards=built, code=code))
        update = commands.Update(
            code=code,
            values=tuple(commands.MeasureValue(measure=name, text=text) for name, text in texts.items() if text),
            note=_field(form, "note"),
            next_step=_field(form, "next"),
            risk=_field(form, "risk"),
            asks=tuple(a for a in [_field(form, "ask")] if a),
        )
        reply = services.record_checkin(
            uow=self.uow, person=person, update=update, at=at, workspace=workspace, source=PLATFORM,
            event_key=f"feishu-card:{event_id}",
        )
        text = render_reply(reply=reply)
        if not reply.ok:
            return _toast("error", text)
        self._tell(reply=reply, workspace=workspace, source=f"card:{event_id}")
        listing = services.list_krs(uow=self.uow, person=person, at=at, workspace=workspace)
        built = forms.checkin_cards(rows=listing.params["rows"], lang=lang, saved={code: text})
        return _toast("success", text, card=forms.card_with_form(cards=built, code=code))

    def _decide(self, *, person: str, workspace: str, value: dict[str, Any], event_id: str) -> P2CardActionTriggerResponse:
        """An Approve/Decline button: decided once by the service (boss or admin only), card updated, asker told once.

        The card is read before the decision is stored, so nothing after the commit can make the answer a lie.
        """
        ask_id = payloads.integer(value.get("id") or 0)
        as_of = feishu_payloads.moment(value.get("as_of"))
        at = self.clock()
        reply = services.decide_ask(
            uow=self.uow, person=person, ask_id=ask_id, approve=bool(value.get("ok")), at=at, workspace=workspace,
            event_key=f"feishu:card:{event_id}",
        )
        self._tell(reply=reply, workspace=workspace, source=f"ask:{ask_id}:{reply.params.get('status')}")
        text = render_reply(reply=reply)
        card = None
        if as_of is not None:
            try:
                digest, decisions = services.compose_as_posted(uow=self.uow, as_of=as_of, workspace=workspace)
                card = cards.card_with_ask(cards=cards.digest_cards(digest=digest, decisions=decisions), ask_id=ask_id)
            except Exception:  # the decision is stored: say so, and leave the card as it is
                log.exception("feishu digest card for ask %s not redrawn", ask_id)
        return _toast("success" if reply.shows is services.Shows.DECISION else "info", text, card=card)


def _field(form: dict[str, Any], name: str) -> str | None:
    """A form field's text, None when left empty."""
    text = str(form.get(name) or "").strip()
    return text or None


def _toast(kind: str, text: str, *, card: dict[str, Any] | None = None) -> P2CardActionTriggerResponse:
    """A card callback answer: a toast, and the card to show instead when given."""
    answer: dict[str, Any] = {"toast": {"type": kind, "content": cards.plain(text)[:500]}}
    if card is not None:
        answer["card"] = {"type": "raw", "data": card}
    return P2CardActionTriggerResponse(answer)


def _text_content(text: str) -> str:
    """The `content` of a text message, user words made inert."""
    return json.dumps({"text": cards.plain(text)}, ensure_ascii=False)


def _command_text(content: str | None) -> str:
    """The `/kr …` text of a message: mention keys stripped, the prefix added when the user left it out."""
    try:
        text = str(json.loads(content or "{}").get("text") or "")
    except ValueError:
        text = ""
    text = _MENTION_KEY.sub(" ", text).strip()
    if not re.match(r"^[/／]?kr(\s|$)", text, re.IGNORECASE):
        text = "/kr " + text
    return text

