"""Feishu's callbacks: verified, then each message or card is claimed and stored (or refused) in one transaction, then answered."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
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
from bot.config import Settings
from bot.core.errors import KrbotError
from bot.core.redact import plain_quote
from bot.i18n import error_message, translate
from bot.platforms import feishu_cards as cards
from bot.platforms import feishu_form as forms
from bot.platforms import feishu_payloads, payloads
from bot.platforms.feishu_replies import FeishuReplies, owed_messages, plan, text_content
from bot.platforms.feishu_ws import UnknownTypes, frame_text
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
    person: str | None = None


class FeishuListeners(FeishuReplies):
    """The callbacks of the Feishu platform (a mixin: the platform gives settings, database, clock and the Open API)."""

    settings: Settings
    uow: UnitOfWork
    clock: Callable[[], datetime]
    encrypt_key: str
    verification_token: str
    unknown: UnknownTypes

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
            self.unknown.note(event_type=str(header.get("event_type")))
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

    async def _route_frame(self, payload: bytes) -> tuple[int, Any]:
        """A long-connection frame by HTTP mode's rules, as (code, answer): another app's or tenant's event and a type
        krbot does not read are acknowledged (200) untouched, so Feishu does not push them again; a known one is
        stored in a request lane before its 200, and a failure to store it is 500, so Feishu pushes it again."""
        plain = frame_text(payload)
        header = plain.get("header") if plain is not None else None
        if plain is None:
            log.warning("feishu frame that is not a JSON object refused")
            return 400, None
        if not isinstance(header, dict):
            self.unknown.note(event_type=f"schema 1.0 {plain_quote(text=str(plain.get('type')), limit=40)}")
            return 200, None
        if not self._ours(header=header):
            log.warning("feishu event %s of another app or tenant (tenant_key %s) acknowledged and not stored",
                        plain_quote(text=str(header.get("event_id")), limit=64),
                        plain_quote(text=str(header.get("tenant_key")), limit=64))
            return 200, None
        handle = self._handlers().get(str(header.get("event_type")))
        if handle is None:
            self.unknown.note(event_type=str(header.get("event_type")))
            return 200, None
        try:
            return 200, await lanes_of(engine=self.uow.engine).run(handle, plain)
        except Malformed as error:
            log.warning("malformed feishu event refused: %s", error)
            return 400, None
        except Exception:
            log.exception("feishu event failed; nothing was stored, Feishu will push it again")
            return 500, None

    def _handlers(self) -> dict[str, Callable[[dict[str, Any]], Any]]:
        """event_type -> handler of the decrypted push (shape checked, then lark-oapi's typed event)."""
        return {
            "im.message.receive_v1": lambda plain: self._on_message(feishu_payloads.typed(plain, P2ImMessageReceiveV1, feishu_payloads.message_shape)),
            "application.bot.menu_v6": lambda plain: self._on_menu(feishu_payloads.typed(plain, P2ApplicationBotMenuV6, feishu_payloads.menu_shape)),
            "card.action.trigger": lambda plain: self._on_card(feishu_payloads.typed(plain, P2CardActionTrigger, feishu_payloads.card_shape)),
        }

    # ------------------------------------------------------------ events

    def _on_message(self, data: Any) -> None:
        """A chat message: claimed (event id and message id), its command stored or refused and its answer owed, in
        ONE transaction.

        A crash before the commit leaves none of them, so Feishu's re-push is handled in full; after it, the re-push
        is a duplicate and the owed answer is sent by the next start. Only after the commit is the answer sent.
        """
        event = data.event
        message = event.message
        if event.sender is None or event.sender.sender_type != "user" or message is None:
            return
        open_id = event.sender.sender_id.open_id
        ids = [f"event:{data.header.event_id}", f"message:{message.message_id}"]

        def answered() -> tuple[Answer, dict[str, Any], outbox.Message | None] | None:
            answer = self._answer_message(message=message, open_id=open_id)
            if answer is None:
                return None
            planned = self._answer_plan(message=message, open_id=open_id, answer=answer)
            stored = answer.reply is not None and answer.reply.ok and answer.workspace and answer.person
            item = self.owe(workspace=answer.workspace or "", person=answer.person or "", cause=message.message_id,
                            answer=planned) if stored and planned["messages"] else None
            if answer.reply is not None and answer.workspace:
                self._owe_notices(reply=answer.reply, workspace=answer.workspace, cause=f"message:{message.message_id}")
            return answer, planned, item

        once = services.handle_once(uow=self.uow, platform=PLATFORM, event_ids=ids, at=self.clock(), action=answered)
        if once.fresh and once.result is not None:
            answer, planned, item = once.result
            if answer.reply is not None and answer.workspace:
                self._tell(reply=answer.reply, workspace=answer.workspace, source=f"message:{message.message_id}")
            if planned["messages"]:
                self.submit(self.settle, item=item, answer=planned)

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
        return Answer(texts=[], reply=reply, workspace=sender.workspace, person=sender.person)

    def _answer_plan(self, *, message: Any, open_id: str, answer: Answer) -> dict[str, Any]:
        """Where an answer goes and what it says: forms and previews asked in a group go to the sender directly."""
        try:
            messages = ([{"msg_type": kind, "content": content} for kind, content in answer.texts]
                        if answer.reply is None else owed_messages(reply=answer.reply))
        except Exception:  # a reply that can't be drawn must not undo what was stored: logged, nothing sent
            log.exception("feishu answer to %s could not be built", message.message_id)
            messages = []
        if message.chat_type == "group" and any(m.get("msg_type") == "interactive" for m in messages):
            return plan(to="direct", target=open_id, key=f"reply:{message.message_id}", messages=messages)
        return plan(to="reply", target=message.message_id, key=f"reply:{message.message_id}:ok", messages=messages,
                    in_thread=message.chat_type == "group")

    def _sender(self, *, open_id: str | None) -> services.ChatSender | None:
        """Who sent a Feishu event, as krbot knows them (with their workspace's language), or None: the one lookup."""
        return services.chat_sender(uow=self.uow, platform=PLATFORM, user_id=open_id) if open_id else None

    def _workspace_lang(self, workspace: str | None) -> str:
        """The workspace language for a message, zh when it can't be read."""
        try:
            return services.workspace_language(uow=self.uow, workspace=workspace)
        except Exception:  # only a fallback for the words of an error message
            return "zh"

    def _on_menu(self, data: Any) -> None:
        """The bot menu: the check-in card for the clicker, claimed and owed in one transaction, then sent directly."""
        operator = data.event.operator
        open_id = operator.operator_id.open_id if operator and operator.operator_id else None
        if not open_id:
            return
        event_id = data.header.event_id

        def answered() -> tuple[dict[str, Any], outbox.Message | None]:
            messages, sender = self._menu_cards(open_id=open_id)
            planned = plan(to="direct", target=open_id, key=f"menu:{event_id}",
                           messages=[{"msg_type": kind, "content": content} for kind, content in messages])
            item = None if sender is None else self.owe(workspace=sender.workspace, person=sender.person,
                                                        cause=f"menu:{event_id}", answer=planned)
            return planned, item

        once = services.handle_once(uow=self.uow, platform=PLATFORM, event_ids=[f"event:{event_id}"], at=self.clock(),
                                    action=answered)
        if once.fresh and once.result is not None:
            planned, item = once.result
            self.submit(self.settle, item=item, answer=planned)

    def _menu_cards(self, *, open_id: str) -> tuple[list[tuple[str, str]], services.ChatSender | None]:
        """The check-in cards for the menu's clicker, or why there are none; and who clicked."""
        sender = self._sender(open_id=open_id)
        if sender is None:
            return [("text", _text_content(translate("feishu.unknown_user", lang=self._workspace_lang(None))))], None
        try:
            rows = services.list_krs(uow=self.uow, person=sender.person, at=self.clock(), workspace=sender.workspace)
        except KrbotError as error:
            return [("text", _text_content(error_message(error, lang=sender.lang)))], None
        built = forms.checkin_cards(rows=rows.params["rows"], lang=rows.lang)
        return [("interactive", cards.content_of(card)) for card in built], sender

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
        confidence = services.form_confidence(text=_field(form, services.CONFIDENCE_FIELD), problems=problems)
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
            confidence=confidence,
        )

        def store() -> services.Reply:  # stored with the notices it owes, in one transaction
            stored = services.record_checkin(uow=self.uow, person=person, update=update, at=at, workspace=workspace,
                                             source=PLATFORM, event_key=f"feishu-card:{event_id}")
            self._owe_notices(reply=stored, workspace=workspace, cause=f"card:{event_id}")
            return stored

        reply = services.all_or_nothing(uow=self.uow, action=store)
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

        def store() -> services.Reply:  # decided, and the asker's notice owed, in one transaction
            decided = services.decide_ask(uow=self.uow, person=person, ask_id=ask_id, approve=bool(value.get("ok")),
                                          at=at, workspace=workspace, event_key=f"feishu:card:{event_id}")
            self._owe_notices(reply=decided, workspace=workspace, cause=f"ask:{ask_id}:{decided.params.get('status')}")
            return decided

        reply = services.all_or_nothing(uow=self.uow, action=store)
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


_text_content = text_content


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

