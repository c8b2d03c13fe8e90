"""Slack's listeners: each ack stores (or refuses) and commits before it answers; follow-ups only call Slack."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from slack_bolt import BoltContext, BoltResponse
from slack_bolt.kwargs_injection.args import Args
from slack_sdk import WebClient

from bot import services
from bot.core import model
from bot.core.errors import KrbotError
from bot.i18n import error_message, translate
from bot.platforms import payloads
from bot.platforms import slack_blocks as blocks
from bot.platforms.payloads import Malformed
from bot.platforms.slack_context import (
    DELIVERY,
    HANDOFF,
    SENDER,
    Handoff,
    first_field,
    is_direct,
    raised_in_bolt,
    user_id_of,
)
from bot.platforms.slack_owed import SlackFollowUps
from bot.platforms.slack_socket import SOCKET
from bot.render import render_reply
from bot.services.deadlines import maybe_saved

if TYPE_CHECKING:
    from bot.services import UnitOfWork

log = logging.getLogger(__name__)
PLATFORM = "slack"


class SlackListeners(SlackFollowUps):
    """The listeners of the Slack platform (a mixin: the platform gives the unit of work, the clock and the clients)."""

    uow: UnitOfWork
    clock: Callable[[], datetime]

    def _client_of(self, *, person: model.Person) -> WebClient:
        raise NotImplementedError

    def listeners(self) -> list[tuple[str, Any, Callable[..., Any], Callable[..., Any] | None, list[Callable[..., bool]]]]:
        """(Bolt decorator, matcher, ack function, follow-up, matchers) for everything krbot answers on Slack.

        Every listener but the last runs behind the middleware that resolves its sender."""
        return [
            ("command", "/kr", self._answer_command, self._after_command, []),
            ("action", blocks.OPEN_FORM, self._ack_empty, self._open_form, []),
            ("action", blocks.PICK_KR, self._ack_empty, self._pick_kr, []),
            ("action", blocks.APPROVE, self._approve, self._after_decision, []),
            ("action", blocks.DECLINE, self._decline, self._after_decision, []),
            ("view", blocks.CHECKIN_VIEW, self._submit_form, self._tell_reply, []),  # then: tell whom it names
            ("event", "app_home_opened", self._ack_empty, self._publish_home, []),
            ("event", "message", self._direct_message, self._answer_message, [is_direct]),
            ("event", "message", self._ack_empty, None, []),  # any other message the bot sees: nothing to do
        ]

    def register(self, *, app: Any) -> None:
        """Register the listeners on a Bolt app, each behind the sender middleware (but the catch-all), and the error handler."""
        table = self.listeners()
        for n, (kind, matcher, ack, follow_up, matchers) in enumerate(table):
            middleware = [self._resolve_sender] if n < len(table) - 1 else []
            getattr(app, kind)(matcher, matchers=matchers, middleware=middleware)(self._listener(ack=ack, follow_up=follow_up))
        app.error(self._on_error)

    def _listener(self, *, ack: Callable[..., None], follow_up: Callable[..., None] | None) -> Callable[[Args], None]:
        """One Bolt listener: the ack (stored and committed, then answered) and, only when it left a handoff, the follow-up
        in a worker thread — Bolt's lazy listeners would copy every request for one, needed or not."""
        ack_names = tuple(inspect.signature(ack).parameters)
        follow_names = tuple(inspect.signature(follow_up).parameters) if follow_up else ()

        def listener(args: Args) -> None:
            ack(**{name: getattr(args, name) for name in ack_names})
            if follow_up is not None and args.context.get(HANDOFF) is not None:
                self._submit(self._follow, follow_up, {name: getattr(args, name) for name in follow_names})
        return listener

    @staticmethod
    def _follow(follow_up: Callable[..., None], kwargs: dict[str, Any]) -> None:
        """Run a follow-up; its failure is logged (the answer was given, the change stored)."""
        try:
            follow_up(**kwargs)
        except Exception:  # noqa: BLE001 - a worker thread: nobody else would see it
            log.exception("slack follow-up %s failed", getattr(follow_up, "__name__", follow_up))

    def _resolve_sender(self, body: dict[str, Any], context: BoltContext, next: Callable[[], None]) -> None:  # noqa: A002
        """Bolt middleware: who sent this request, as krbot knows them (None: a stranger), into the context (one read)."""
        user_id = user_id_of(body)
        context[SENDER] = None if user_id is None else services.chat_sender(uow=self.uow, platform=PLATFORM, user_id=user_id)
        next()

    def _on_error(self, error: Exception, body: Any, context: BoltContext, respond: Any = None) -> BoltResponse:
        """The one answer to a failure: 400 for a malformed payload; a refusal or "nothing was saved" in the shape the
        request expects (a command's text, a form's field error, a note to whoever clicked); 500 for events (Slack retries)."""
        if isinstance(error, Malformed) or raised_in_bolt(error):
            log.warning("malformed slack request refused: %s", error if isinstance(error, Malformed) else type(error).__name__)
            return BoltResponse(status=400, body="")
        sender = context.get(SENDER)
        if isinstance(error, KrbotError):
            text = blocks.esc_lines(error_message(error, lang=sender.lang if sender else "en"))
        else:
            unsure = maybe_saved(error)  # a COMMIT went out and its answer never came: never "nothing was saved"
            log.error("slack request failed; %s", "it may be stored" if unsure else "nothing was stored", exc_info=error)
            key = "slack.unsure" if unsure else "slack.failed"  # in both languages: the workspace's can't be read
            text = blocks.esc_lines("\n".join(translate(key, lang=lang) for lang in ("zh", "en")))
        kind = body.get("type") if isinstance(body, dict) else None
        if isinstance(body, dict) and body.get("command"):
            return BoltResponse(status=200, body={"response_type": "ephemeral", "text": text})
        if kind == "view_submission":
            field = first_field(body.get("view") or {})
            return BoltResponse(status=200, body={"response_action": "errors", "errors": {field: text[:300]}})
        if kind == "block_actions":
            try:
                if respond is not None:
                    respond(text=text, response_type="ephemeral", replace_original=False)
            except Exception:  # noqa: BLE001 - Slack unreachable too: the log line above is all that is left
                log.warning("could not tell the sender of a failed click", exc_info=True)
            return BoltResponse(status=200, body="")
        return BoltResponse(status=500, body="")

    # ------------------------------------------------------------ translating helpers

    def _stranger_text(self, *, user_id: str) -> str:
        """The answer to someone krbot does not know, in the (only) workspace's language."""
        try:
            lang = services.workspace_language(uow=self.uow, workspace=None)
        except KrbotError:
            lang = "en"
        return blocks.esc_lines(translate("slack.unknown_user", lang=lang, user=user_id))

    def _reply_text(self, *, reply: services.Reply) -> str:
        """A service reply as escaped mrkdwn."""
        return blocks.esc_lines(render_reply(reply=reply))

    def _open_view(self, *, client: WebClient, sender: services.ChatSender, trigger_id: str, code: str | None) -> None:
        """Open the check-in modal on one of the sender's KRs (the first when `code` is None)."""
        reply = services.list_krs(uow=self.uow, person=sender.person, at=self.clock(), workspace=sender.workspace)
        view = blocks.checkin_view(rows=reply.params["rows"], code=code, lang=reply.lang)
        client.views_open(trigger_id=trigger_id, view=view)

    # ------------------------------------------------------------ acks: stored (or refused) and committed, then answered
    # (the sender comes resolved by the middleware; what fails is answered by `_on_error`)

    @staticmethod
    def _ack_empty(ack: Callable[..., None], context: BoltContext) -> None:
        """Nothing to store: ack at once; the follow-up (if any) calls Slack."""
        context[HANDOFF] = Handoff()
        ack()

    def _answer_command(self, ack: Callable[..., None], body: dict[str, Any], context: BoltContext) -> None:
        """`/kr …`: claimed and run in one transaction, committed, then the answer is the ack's own text.

        A replay of the same signed request is acked empty; an envelope Slack sends again over Socket Mode gets the
        answer of what is stored (the check-in "already saved"), never stored twice. `/kr update` alone acks empty
        and the follow-up opens the modal.
        """
        sender: services.ChatSender | None = context[SENDER]
        if sender is None:
            ack(text=self._stranger_text(user_id=payloads.text(body, "user_id")), response_type="ephemeral")
            return
        text = payloads.text(body, "text", default="")
        trigger = payloads.text(body, "trigger_id", default="")

        def store() -> services.Reply:
            """Run the command and queue the notices it owes, in the request's own transaction."""
            reply = services.run_command(uow=self.uow, person=sender.person, text=text, at=self.clock(),
                                         workspace=sender.workspace, source=PLATFORM, event_key=f"command:{trigger}")
            self.owe_notices(reply=reply, workspace=sender.workspace, context=context)
            return reply

        once = services.handle_once(uow=self.uow, platform=PLATFORM, at=self.clock(), action=store,
                                    event_ids=[context.get(DELIVERY) or f"command:{trigger}"])
        reply = once.result
        if not once.fresh and context.get(SOCKET):  # an envelope Slack sent again: answered from what is stored
            reply = services.run_command(uow=self.uow, person=sender.person, text=text, at=self.clock(),
                                         workspace=sender.workspace, source=PLATFORM, event_key=f"command:{trigger}")
            if reply.shows is services.Shows.FORM:
                ack()
                return
        elif not once.fresh or reply is None or reply.shows is services.Shows.REPEAT:
            ack()  # a replay of a request answered already, or the same command (by its trigger) made its change already
            return
        if reply.shows is services.Shows.FORM:
            context[HANDOFF] = Handoff(reply=reply, workspace=sender.workspace, form=True)
            ack()
            return
        first, *more = blocks.text_messages(text=self._reply_text(reply=reply))
        if more or reply.notices or (reply.ok and reply.shows is services.Shows.CHART):  # else nothing follows the answer
            context[HANDOFF] = Handoff(reply=reply, workspace=sender.workspace, more=tuple(more))
        ack(response_type="ephemeral", **first)

    def _approve(self, ack: Callable[..., None], body: dict[str, Any], action: dict[str, Any], context: BoltContext) -> None:
        """Approve an ask from the digest thread: decided and committed before the ack."""
        self._decide(ack=ack, body=body, action=action, context=context, approve=True)

    def _decline(self, ack: Callable[..., None], body: dict[str, Any], action: dict[str, Any], context: BoltContext) -> None:
        """Decline an ask from the digest thread: decided and committed before the ack."""
        self._decide(ack=ack, body=body, action=action, context=context, approve=False)

    def _decide(
        self, *, ack: Callable[..., None], body: dict[str, Any], action: dict[str, Any], context: BoltContext, approve: bool
    ) -> None:
        """Decide an ask (boss or admin only) inside the request; what to tell whom is left in the context for the follow-up."""
        user_id = payloads.text(body, "user", "id")
        ask_id = payloads.integer(payloads.loads(text=payloads.text(action, "value")).get("id"))
        sender: services.ChatSender | None = context[SENDER]
        if sender is None:
            context[HANDOFF] = Handoff(answer=self._stranger_text(user_id=user_id))
            ack()
            return
        key = f"slack:action:{user_id}:{action.get('action_ts', '')}:{action.get('action_id', '')}:{ask_id}"

        def store() -> services.Reply:  # decided, and the asker's notice owed, in one transaction
            reply = services.decide_ask(uow=self.uow, person=sender.person, ask_id=ask_id, approve=approve,
                                        at=self.clock(), workspace=sender.workspace, event_key=key)
            self.owe_notices(reply=reply, workspace=sender.workspace, context=context)
            return reply

        reply = services.all_or_nothing(uow=self.uow, action=store)
        context[HANDOFF] = Handoff(reply=reply, workspace=sender.workspace, ask=ask_id)
        ack()

    def _submit_form(self, ack: Callable[..., None], body: dict[str, Any], context: BoltContext) -> None:
        """Validate and store a check-in modal inside the ack: field errors inline, else the saved answer in the modal."""
        view = payloads.node(body, "view")
        try:
            form = blocks.form_values(view=view)
        except (KeyError, TypeError, AttributeError, ValueError) as error:
            raise Malformed(f"view state: {type(error).__name__}") from None
        sender: services.ChatSender | None = context[SENDER]
        if sender is None:
            text = self._stranger_text(user_id=payloads.text(body, "user", "id"))
            ack(response_action="update", view=blocks.result_view(text=text, lang="en"))
            return

        def store() -> tuple[services.Reply | None, dict[str, KrbotError]]:  # stored with the notices it owes
            reply, problems = services.record_form(
                uow=self.uow, person=sender.person, code=form["code"], values=form["values"], note=form["note"],
                confidence=form["confidence"], next_step=form["next"], risk=form["risk"], ask_text=form["ask_text"],
                ask_kind=form["ask_kind"] or None, ask_amount=form["ask_amount"], at=self.clock(),
                workspace=sender.workspace, source=PLATFORM,
                event_key=f"view:{payloads.text(view, 'id')}:{view.get('hash', '')}",
            )
            if reply is not None:
                self.owe_notices(reply=reply, workspace=sender.workspace, context=context)
            return reply, problems

        reply, problems = services.all_or_nothing(uow=self.uow, action=store)
        if reply is None:
            errors = {form["blocks"].get(field, field): error_message(error, lang=sender.lang)[:300]
                      for field, error in problems.items()}
            ack(response_action="errors", errors=errors)
            return
        if reply.notices:
            context[HANDOFF] = Handoff(reply=reply, workspace=sender.workspace)
        ack(response_action="update", view=blocks.result_view(text=self._reply_text(reply=reply), lang=reply.lang))

    def _direct_message(self, ack: Callable[..., None], body: dict[str, Any], event: dict[str, Any], context: BoltContext) -> None:
        """A command typed in the bot's DM: claimed and stored in one transaction before the ack (500 when it can't be)."""
        user_id = payloads.text(event, "user")
        text = payloads.text(event, "text", default="")
        payloads.text(event, "channel")
        event_id = str(body.get("event_id") or f"{event.get('channel')}:{event.get('ts')}")
        sender: services.ChatSender | None = context[SENDER]

        def store() -> services.Reply | None:
            """Run the command and queue its answer, in the delivery's own transaction."""
            if sender is None:
                return None
            reply = services.run_command(uow=self.uow, person=sender.person, text=text, at=self.clock(),
                                         workspace=sender.workspace, source=PLATFORM, event_key=f"event:{event_id}")
            self.owe_answer(workspace=sender.workspace, person=sender.person, channel=payloads.text(event, "channel"),
                            cause=f"event:{event_id}", text=self._reply_text(reply=reply))
            self.owe_notices(reply=reply, workspace=sender.workspace, context=context)
            return reply

        once = services.handle_once(uow=self.uow, platform=PLATFORM, event_ids=[event_id], at=self.clock(), action=store)
        if sender is None:
            if once.fresh:
                context[HANDOFF] = Handoff(answer=self._stranger_text(user_id=user_id))
        elif once.fresh and once.result is not None:
            context[HANDOFF] = Handoff(reply=once.result, workspace=sender.workspace, cause=f"event:{event_id}",
                                       answer=self._reply_text(reply=once.result))
        elif not once.fresh:
            context[HANDOFF] = Handoff(workspace=sender.workspace)  # delivered again: send what its answer still owes
        ack()

    # ------------------------------------------------------------ follow-ups after the answer: Slack API calls only

    def _after_command(
        self, body: dict[str, Any], client: WebClient, respond: Callable[..., Any], context: BoltContext
    ) -> None:
        """After a command's answer: the modal, the rest of a long answer, the matrix chart, notices to others."""
        handoff: Handoff | None = context.get(HANDOFF)
        if handoff is None or handoff.reply is None:
            return
        reply = handoff.reply
        if handoff.form:
            view = blocks.checkin_view(rows=reply.params["rows"], code=None, lang=reply.lang)
            client.views_open(trigger_id=body["trigger_id"], view=view)
            return
        for message in handoff.more:
            respond(response_type="ephemeral", **message)
        if reply.ok and reply.shows is services.Shows.CHART:
            self._send_matrix_chart(client=client, user_id=body["user_id"], reply=reply)
        self._tell_reply(client=client, context=context)

    def _open_form(
        self, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Callable[..., Any], context: BoltContext
    ) -> None:
        """The Update button (reminder DM, App Home): open the modal on that KR."""
        sender: services.ChatSender | None = context.get(SENDER)
        if sender is None:
            respond(text=self._stranger_text(user_id=body["user"]["id"]), response_type="ephemeral", replace_original=False)
            return
        self._open_view(client=client, sender=sender, trigger_id=body["trigger_id"], code=action.get("value") or None)

    def _pick_kr(self, body: dict[str, Any], action: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        """Another KR picked in the modal: the modal redrawn with that KR's measures."""
        sender: services.ChatSender | None = context.get(SENDER)
        if sender is None:
            return
        reply = services.list_krs(uow=self.uow, person=sender.person, at=self.clock(), workspace=sender.workspace)
        code = (action.get("selected_option") or {}).get("value")
        view = blocks.checkin_view(rows=reply.params["rows"], code=code, lang=reply.lang)
        client.views_update(view_id=body["view"]["id"], hash=body["view"].get("hash"), view=view)

    def _after_decision(
        self, body: dict[str, Any], client: WebClient, respond: Callable[..., Any], context: BoltContext
    ) -> None:
        """After a decision was stored: the message shows it, the asker is told by DM, others refused privately."""
        handoff: Handoff | None = context.get(HANDOFF)
        if handoff is None:
            return
        if handoff.answer:
            respond(text=handoff.answer, response_type="ephemeral", replace_original=False)
            return
        reply, ask_id = handoff.reply, handoff.ask
        if reply is None or reply.shows is services.Shows.REPEAT:  # the same click delivered again: answered already
            return
        if reply.shows is not services.Shows.DECISION:  # another decision won: it updates the message and tells the asker, once
            respond(text=self._reply_text(reply=reply), response_type="ephemeral", replace_original=False)
            return
        by = reply.params["by"]
        decision = blocks.esc(translate("slack.ask.decision", lang=reply.lang, id=ask_id, status=reply.params["status"], by=by))
        message = body.get("message") or {}
        if message.get("ts") and body.get("channel"):
            updated = blocks.decided(blocks=message.get("blocks", []), ask_id=ask_id, text=decision)
            client.chat_update(channel=body["channel"]["id"], ts=message["ts"], blocks=updated, text=blocks.fallback(blocks=updated))
        self._tell_reply(client=client, context=context)

    def _answer_message(self, event: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        """After a DM command was stored: post the answer in the DM, tell whom it names."""
        handoff: Handoff | None = context.get(HANDOFF)
        sender: services.ChatSender | None = context.get(SENDER)
        if handoff is None:
            return
        if handoff.answer is None:
            self._send_owed()
        elif sender is None or handoff.cause is None:
            for message in blocks.text_messages(text=handoff.answer):
                client.chat_postMessage(channel=event["channel"], **message)
        else:
            self.send_answer(workspace=handoff.workspace, person=sender.person, channel=event["channel"],
                             cause=handoff.cause, text=handoff.answer)
        self._tell_reply(client=client, context=context)

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
