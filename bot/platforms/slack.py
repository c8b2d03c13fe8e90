"""The Slack edge: a slack-bolt app whose listeners ack at once and translate Slack payloads into service calls."""

from __future__ import annotations

import html
import json
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cryptography.fernet import Fernet
from slack_bolt import App, BoltContext, BoltRequest
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.oauth.callback_options import CallbackOptions, FailureArgs, SuccessArgs
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_bolt.request.payload_utils import is_action, is_slash_command
from slack_bolt.response import BoltResponse
from slack_sdk import WebClient
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot import services
from bot.charts import matrix_png
from bot.config import Settings
from bot.core import model
from bot.core.digest import Digest
from bot.core.errors import KrbotError
from bot.i18n import error_message, translate
from bot.platforms import slack_blocks as blocks
from bot.platforms import slack_client
from bot.platforms.base import Reminder, Sent
from bot.platforms.slack_client import make_client
from bot.platforms.slack_worker import WorkerRunner, WorkerSpec
from bot.render import render_reply
from storage.slack_installs import EncryptedInstallationStore, state_store

if TYPE_CHECKING:
    from storage.db import UnitOfWork

log = logging.getLogger(__name__)
PLATFORM = "slack"
BOT_SCOPES = ("commands", "chat:write", "im:write", "im:history", "files:write", "channels:history",
              "groups:history")  # as slack/manifest.yaml asks
INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
LAZY_THREADS = 4  # lazy listeners run at once in the process itself (Socket Mode, tests)


class _TokenGoesThroughAuthorize(logging.Filter):
    """Drops Bolt's start-up warnings that SLACK_BOT_TOKEN (which Bolt reads from the environment itself) goes unused.

    krbot hands the token to Bolt through `authorize`, so the warning would only puzzle whoever reads the log.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not ("`token`" in message and ("will be unused" in message or "will be ignored" in message))


logging.getLogger("slack_bolt.App").addFilter(_TokenGoesThroughAuthorize())


@dataclass(frozen=True, slots=True)
class Sender:
    """Who sent a Slack request, as krbot knows them: their workspace and person key."""

    workspace: str
    person: str


class SlackPlatform:
    """Slack for krbot: the Bolt app with its listeners, and the sends the scheduler and services ask for."""

    name = PLATFORM
    send_rate: float | None = None  # Slack limits per channel and answers 429 with Retry-After, which every replica waits

    def __init__(
        self,
        *,
        settings: Settings,
        uow: UnitOfWork,
        http: bool,
        clock: Callable[[], datetime] | None = None,
        worker: bool = False,
        verify: bool = True,
    ) -> None:
        """Wire the Bolt app (listeners from the table); with `worker`, lazy listeners run in the Slack worker process.

        `verify=False` is for that worker only: its requests come from the web process, which checked them.
        """
        self.uow = uow
        self.http = http
        self.settings = settings
        self.clock = clock or (lambda: datetime.now(UTC))
        self.client = make_client(token=settings.slack_bot_token, base_url=settings.slack_api_url)
        self._identity: AuthorizeResult | None = None
        self._identity_lock = threading.Lock()
        self._lazy_threads = ThreadPoolExecutor(max_workers=LAZY_THREADS, thread_name_prefix="slack-lazy")
        self.installs: EncryptedInstallationStore | None = None
        auth: dict[str, Any] = {"authorize": lambda: self._authorize()}  # Bolt passes arguments by name; this needs none
        if settings.slack_client_id:  # installs into many workspaces: each team's token from the (encrypted) store
            self.installs = EncryptedInstallationStore(
                client_id=settings.slack_client_id, engine=uow.engine, secret_key=settings.secret_key or ""
            )
            auth = {"oauth_settings": OAuthSettings(
                client_id=settings.slack_client_id, client_secret=settings.slack_client_secret, scopes=list(BOT_SCOPES),
                installation_store=self.installs, state_store=state_store(engine=uow.engine),
                install_path=INSTALL_PATH, redirect_uri_path=REDIRECT_PATH, install_page_rendering_enabled=False,
                callback_options=CallbackOptions(success=_installed_page, failure=_install_failed_page),
            )}
        self.app = App(
            client=make_client(token=None, base_url=settings.slack_api_url),  # each request's client gets its token from auth
            **auth,
            signing_secret=settings.slack_signing_secret or "",
            request_verification_enabled=verify,
            user_facing_authorize_error_message="\n".join(  # a team krbot is not installed in: whose language is unknown
                translate("slack.team_not_installed", lang=lang) for lang in ("zh", "en")
            ),
            process_before_response=True,  # lazy listeners do the slow work; the ack carries the fast answer
            raise_error_for_unhandled_request=False,
            listener_executor=self._lazy_threads,
        )
        self.worker: WorkerRunner | None = None
        if worker:
            spec = WorkerSpec(settings=settings, database_url=uow.engine.url.render_as_string(hide_password=False), clock=clock)
            self.worker = WorkerRunner(spec=spec, logger=self.app.logger)
            self.app.listener_runner.lazy_listener_runner = self.worker  # as Bolt's AWS Lambda adapter does
        self._socket: Any = None
        for kind, matcher, ack, lazy in self.listeners():
            register = getattr(self.app, kind)
            register(matcher)(ack=ack, lazy=lazy)

    def _authorize(self) -> AuthorizeResult:
        """Who the bot is in its workspace: auth.test, asked once and kept (Bolt's authorize hook)."""
        if self._identity is None:
            with self._identity_lock:
                if self._identity is None:
                    self._identity = AuthorizeResult.from_auth_test_response(
                        auth_test_response=self.client.auth_test(), bot_token=self.settings.slack_bot_token, user_token=None
                    )
        return self._identity

    # ------------------------------------------------------------ the listeners table

    def listeners(self) -> list[tuple[str, Any, Callable[..., Any], list[Callable[..., Any]]]]:
        """(Bolt decorator, matcher, ack function, lazy functions) for everything krbot answers on Slack."""
        return [
            ("command", "/kr", self._ack_empty, [self._command]),
            ("action", blocks.OPEN_FORM, self._ack_empty, [self._open_form]),
            ("action", blocks.PICK_KR, self._ack_empty, [self._pick_kr]),
            ("action", blocks.APPROVE, self._ack_empty, [self._approve]),
            ("action", blocks.DECLINE, self._ack_empty, [self._decline]),
            ("view", blocks.CHECKIN_VIEW, self._submit_form, [self._tell_notices]),
            ("event", "app_home_opened", self._ack_empty, [self._publish_home]),
            ("event", "message", self._direct_message, [self._answer_message]),
        ]

    # ------------------------------------------------------------ translating helpers

    def _sender(self, *, user_id: str) -> Sender | None:
        """The krbot person behind a Slack user id, or None."""
        found = services.find_person(uow=self.uow, platform=PLATFORM, user_id=user_id)
        if found is None:
            return None
        workspace, person = found
        return Sender(workspace=workspace, person=person)

    def _lang(self, *, sender: Sender) -> str:
        """The sender's workspace language (only read when an answer has no reply to carry it)."""
        return services.workspace_language(uow=self.uow, workspace=sender.workspace)

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

    def _notices(self, *, reply: services.Reply, workspace: str) -> list[tuple[str, str]]:
        """(Slack user id, escaped text) for everyone a reply says to tell who has a Slack id."""
        told = []
        for notice in reply.notices:
            person = services.person_of(uow=self.uow, key=notice.person, at=self.clock(), workspace=workspace)
            if person is not None and person.slack_id:
                told.append((person.slack_id, blocks.esc_lines(translate(notice.key, lang=reply.lang, **notice.params))))
        return told

    def _client_for(self, *, workspace: str | None) -> WebClient:
        """The client that sends into a workspace: the bot token's, or with installs that of the workspace's Slack team."""
        if self.installs is None:
            return self.client
        team = services.slack_team_of(uow=self.uow, workspace=workspace)
        if team is None:
            teams = self.installs.teams()
            if len(teams) > 1:
                raise KrbotError("slack.which_team", teams=", ".join(teams), workspace=workspace or "")
            team = teams[0] if teams else "—"
        bot = self.installs.find_bot(enterprise_id=None, team_id=team)
        if bot is None:
            raise KrbotError("slack.not_installed", team=team)
        return make_client(token=bot.bot_token, base_url=self.settings.slack_api_url)

    def _client_of(self, *, person: model.Person) -> WebClient:
        """The client that reaches one person (their workspace's, with installs)."""
        if self.installs is None or not person.slack_id:
            return self.client
        found = services.find_person(uow=self.uow, platform=PLATFORM, user_id=person.slack_id)
        return self._client_for(workspace=found[0] if found else None)

    def _dm(self, *, client: WebClient, user_id: str, message: dict[str, Any]) -> Sent:
        """Open (or find) the DM with a user and post one message there."""
        channel = client.conversations_open(users=user_id)["channel"]["id"]
        posted = client.chat_postMessage(channel=channel, **message)
        return Sent(platform=PLATFORM, message_id=str(posted["ts"]), extra={"channel": channel})

    def _send_matrix_chart(self, *, client: WebClient, user_id: str, reply: services.Reply) -> None:
        """The matrix as a PNG in the asker's DM (an ephemeral answer cannot carry a file)."""
        chart = matrix_png(quadrants=reply.params["quadrants"], lang=reply.lang)
        if chart is None:  # no CJK-capable font here: the text answer says it all
            return
        channel = client.conversations_open(users=user_id)["channel"]["id"]
        client.files_upload_v2(
            channel=channel, content=chart[0], filename="krbot-matrix.png", title=translate("matrix.title", lang=reply.lang)
        )

    def _tell(self, *, client: WebClient, told: list[tuple[str, str]]) -> None:
        """DM each (user id, text) pair."""
        for user_id, text in told:
            for message in blocks.text_messages(text=text):
                self._dm(client=client, user_id=user_id, message=message)

    def _open_view(self, *, client: WebClient, sender: Sender, trigger_id: str, code: str | None) -> None:
        """Open the check-in modal on one of the sender's KRs (the first when `code` is None)."""
        reply = services.list_krs(uow=self.uow, person=sender.person, at=self.clock(), workspace=sender.workspace)
        view = blocks.checkin_view(rows=reply.params["rows"], code=code, lang=reply.lang)
        client.views_open(trigger_id=trigger_id, view=view)

    # ------------------------------------------------------------ acks

    @staticmethod
    def _ack_empty(ack: Callable[..., None]) -> None:
        """Ack at once; the lazy listener does the work."""
        ack()

    def _submit_form(self, ack: Callable[..., None], body: dict[str, Any], context: BoltContext) -> None:
        """Validate and store a check-in modal inside the ack: field errors inline, else the saved answer in the modal."""
        view = body["view"]
        user_id = body["user"]["id"]
        sender = self._sender(user_id=user_id)
        if sender is None:
            ack(response_action="update", view=blocks.result_view(text=self._stranger_text(user_id=user_id), lang="en"))
            return
        form = blocks.form_values(view=view)
        lang = self._lang(sender=sender)
        first_block = next(iter(form["blocks"].values()), "note")
        note = form["note"]
        if form["confidence"]:
            note = translate("slack.form.confidence_note", lang=lang, n=form["confidence"], note=note.strip())
        try:
            reply, problems = services.record_form(
                uow=self.uow,
                person=sender.person,
                code=form["code"],
                values=form["values"],
                note=note,
                next_step=form["next"],
                risk=form["risk"],
                ask_text=form["ask_text"],
                ask_kind=form["ask_kind"] or None,
                ask_amount=form["ask_amount"],
                at=self.clock(),
                workspace=sender.workspace,
                source=PLATFORM,
                event_key=f"view:{view['id']}:{view.get('hash', '')}",
            )
        except KrbotError as error:  # not the owner, an unknown code: shown on the form, nothing stored
            ack(response_action="errors", errors={first_block: error_message(error, lang=lang)[:300]})
            return
        if reply is None:
            errors = {form["blocks"].get(field, field): error_message(error, lang=lang)[:300] for field, error in problems.items()}
            ack(response_action="errors", errors=errors)
            return
        context["krbot_told"] = self._notices(reply=reply, workspace=sender.workspace)
        ack(response_action="update", view=blocks.result_view(text=self._reply_text(reply=reply), lang=reply.lang))

    def _direct_message(self, ack: Callable[..., None], body: dict[str, Any], event: dict[str, Any], context: BoltContext) -> None:
        """A command typed in the bot's DM: handled once per event id, stored before the ack so a failure is retried."""
        if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id") or not event.get("user"):
            ack()
            return
        event_id = str(body.get("event_id") or f"{event.get('channel')}:{event.get('ts')}")
        if not services.claim_event(uow=self.uow, platform=PLATFORM, event_id=event_id, at=self.clock()):
            ack()  # a retry or re-delivery: answered already
            return
        try:
            sender = self._sender(user_id=event["user"])
            if sender is None:
                context["krbot_answer"] = self._stranger_text(user_id=event["user"])
            else:
                reply = services.run_command(
                    uow=self.uow, person=sender.person, text=event.get("text") or "", at=self.clock(),
                    workspace=sender.workspace, source=PLATFORM, event_key=f"event:{event_id}",
                )
                context["krbot_answer"] = self._reply_text(reply=reply)
                context["krbot_told"] = self._notices(reply=reply, workspace=sender.workspace)
        except Exception:
            services.release_event(uow=self.uow, platform=PLATFORM, event_id=event_id)
            raise  # Bolt answers 500, and Slack retries the event
        ack()

    # ------------------------------------------------------------ lazy work

    def _command(self, body: dict[str, Any], client: WebClient, respond: Callable[..., Any]) -> None:
        """`/kr …`: run the command and answer privately; `/kr update` alone opens the check-in modal."""
        user_id = body["user_id"]
        sender = self._sender(user_id=user_id)
        if sender is None:
            respond(text=self._stranger_text(user_id=user_id), response_type="ephemeral")
            return
        try:
            reply = services.run_command(
                uow=self.uow, person=sender.person, text=body.get("text") or "", at=self.clock(),
                workspace=sender.workspace, source=PLATFORM, event_key=f"command:{body.get('trigger_id', '')}",
            )
            if reply.key == "reply.list" and reply.params.get("form_hint"):
                view = blocks.checkin_view(rows=reply.params["rows"], code=None, lang=reply.lang)
                client.views_open(trigger_id=body["trigger_id"], view=view)
                return
            for message in blocks.text_messages(text=self._reply_text(reply=reply)):
                respond(response_type="ephemeral", **message)
            if reply.ok and reply.key == "reply.matrix":
                self._send_matrix_chart(client=client, user_id=user_id, reply=reply)
            self._tell(client=client, told=self._notices(reply=reply, workspace=sender.workspace))
        except Exception:
            log.exception("slack command failed")
            respond(text=blocks.esc_lines(translate("slack.failed", lang=self._lang(sender=sender))), response_type="ephemeral")

    def _open_form(self, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Callable[..., Any]) -> None:
        """The Update button (reminder DM, App Home): open the modal on that KR."""
        sender = self._sender(user_id=body["user"]["id"])
        if sender is None:
            respond(text=self._stranger_text(user_id=body["user"]["id"]), response_type="ephemeral", replace_original=False)
            return
        self._open_view(client=client, sender=sender, trigger_id=body["trigger_id"], code=action.get("value") or None)

    def _pick_kr(self, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        """Another KR picked in the modal: the modal redrawn with that KR's measures."""
        sender = self._sender(user_id=body["user"]["id"])
        if sender is None:
            return
        reply = services.list_krs(uow=self.uow, person=sender.person, at=self.clock(), workspace=sender.workspace)
        code = (action.get("selected_option") or {}).get("value")
        view = blocks.checkin_view(rows=reply.params["rows"], code=code, lang=reply.lang)
        client.views_update(view_id=body["view"]["id"], hash=body["view"].get("hash"), view=view)

    def _approve(self, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Callable[..., Any]) -> None:
        """Approve an ask from the digest thread."""
        self._decide(body=body, action=action, client=client, respond=respond, approve=True)

    def _decline(self, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Callable[..., Any]) -> None:
        """Decline an ask from the digest thread."""
        self._decide(body=body, action=action, client=client, respond=respond, approve=False)

    def _decide(
        self, *, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Callable[..., Any], approve: bool
    ) -> None:
        """Decide an ask (boss or admin only): the message shows the decision, the asker is told by DM, others refused privately."""
        user_id = body["user"]["id"]
        sender = self._sender(user_id=user_id)
        if sender is None:
            respond(text=self._stranger_text(user_id=user_id), response_type="ephemeral", replace_original=False)
            return
        ask_id = int(json.loads(action["value"])["id"])
        try:
            reply = services.decide_ask(
                uow=self.uow, person=sender.person, ask_id=ask_id, approve=approve, at=self.clock(), workspace=sender.workspace
            )
        except KrbotError as error:
            text = blocks.esc_lines(error_message(error, lang=self._lang(sender=sender)))
            respond(text=text, response_type="ephemeral", replace_original=False)
            return
        if reply.key == "ask.decided":
            by = reply.params["by"]
        else:
            decider = services.person_of(uow=self.uow, key=reply.params.get("by") or "", at=self.clock(), workspace=sender.workspace)
            by = decider.name if decider else (reply.params.get("by") or "")
            respond(text=self._reply_text(reply=reply), response_type="ephemeral", replace_original=False)
        decision = blocks.esc(translate("slack.ask.decision", lang=reply.lang, id=ask_id, status=reply.params["status"], by=by))
        message = body.get("message") or {}
        if message.get("ts") and body.get("channel"):
            updated = blocks.decided(blocks=message.get("blocks", []), ask_id=ask_id, text=decision)
            client.chat_update(channel=body["channel"]["id"], ts=message["ts"], blocks=updated, text=blocks.fallback(blocks=updated))
        self._tell(client=client, told=self._notices(reply=reply, workspace=sender.workspace))

    def _tell_notices(self, client: WebClient, context: BoltContext) -> None:
        """After a saved form: tell the people the reply names."""
        self._tell(client=client, told=context.get("krbot_told") or [])

    def _answer_message(self, event: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        """After a DM command was handled: post the answer in the DM, tell whom it names."""
        answer = context.get("krbot_answer")
        if answer is None:
            return
        for message in blocks.text_messages(text=answer):
            client.chat_postMessage(channel=event["channel"], **message)
        self._tell(client=client, told=context.get("krbot_told") or [])

    def _publish_home(self, event: dict[str, Any], client: WebClient) -> None:
        """The App Home tab: the person's KRs; for the boss and admins, the objectives' conclusions too."""
        if event.get("tab", "home") != "home":
            return
        user_id = event["user"]
        sender = self._sender(user_id=user_id)
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

    # ------------------------------------------------------------ the Platform protocol

    def send_reminder(self, *, reminder: Reminder, idempotency_key: str) -> Sent:
        """DM one reminder (or chaser) with an Update button per KR; raises on failure so the caller retries."""
        if not reminder.person.slack_id:
            raise KrbotError("slack.no_user", person=reminder.person.key)
        client = self._client_for(workspace=reminder.workspace)
        return self._dm(client=client, user_id=reminder.person.slack_id, message=blocks.reminder_message(reminder=reminder))

    def post_digest(self, *, digest: Digest, channel: str, idempotency_key: str) -> Sent:
        """Post the conclusions to the boss channel and the rest (with the ask buttons) in its thread."""
        about = {"workspace": digest.workspace, "period": idempotency_key}
        head, *parts = self.digest_posts(digest=digest)
        posted = self.send_post(post=head, channel=channel, thread=None, idempotency_key=idempotency_key, about=about)
        channel_id = str(posted.extra.get("channel") or channel)
        replies = [
            self.send_post(post=part, channel=channel_id, thread=posted.message_id,
                           idempotency_key=f"{idempotency_key}#{n}", about=about).message_id
            for n, part in enumerate(parts, start=1)
        ]
        return Sent(platform=PLATFORM, message_id=posted.message_id, extra={"channel": channel_id, "thread": replies})

    def digest_posts(self, *, digest: Digest) -> list[dict[str, Any]]:
        """The digest as messages: the conclusions for the channel first, then each reply of its thread."""
        main, thread = blocks.digest_messages(digest=digest)
        return [main, *thread]

    def send_post(
        self, *, post: dict[str, Any], channel: str, thread: str | None, idempotency_key: str, about: dict[str, str]
    ) -> Sent:
        """Post one digest message (in the headline's thread when `thread` is its ts), marked to be found again."""
        client = self._client_for(workspace=about.get("workspace"))
        return slack_client.post_marked(client=client, post=post, channel=channel, thread=thread, key=idempotency_key,
                                        about=about)

    def find_post(self, *, channel: str, thread: str | None, idempotency_key: str, workspace: str | None = None) -> Sent | None:
        """A digest message already posted under this key (the channel's recent history, or the thread's replies)."""
        return slack_client.find_marked(client=self._client_for(workspace=workspace), channel=channel, thread=thread,
                                        key=idempotency_key)

    def notify(self, *, person: model.Person, text: str, idempotency_key: str) -> Sent:
        """DM one person a sentence (escaped: it may carry what others typed)."""
        if not person.slack_id:
            raise KrbotError("slack.no_user", person=person.key)
        client = self._client_of(person=person)
        sent = [
            self._dm(client=client, user_id=person.slack_id, message=message)
            for message in blocks.text_messages(text=blocks.esc_lines(text))
        ]
        return sent[0]

    def routes(self) -> list[Any]:
        """POST /slack/events (commands, interactivity, events) in HTTP mode, and the install pages with installs."""
        if not self.http:
            return []
        routes = [Route("/slack/events", self.endpoint, methods=["POST"])]
        if self.installs is not None:
            routes += [Route(INSTALL_PATH, self.install_endpoint, methods=["GET"]),
                       Route(REDIRECT_PATH, self.install_endpoint, methods=["GET"])]
        return routes

    async def install_endpoint(self, request: Request) -> Response:
        """"Add to Slack" (a one-time state, then off to Slack) and Slack's way back (the code traded for a token, stored)."""
        flow = self.app.oauth_flow
        assert flow is not None
        bolt_request = to_bolt_request(request, await request.body())
        handle = flow.handle_installation if request.url.path == flow.install_path else flow.handle_callback
        return to_starlette_response(await run_in_threadpool(handle, bolt_request))

    async def endpoint(self, request: Request) -> Response:
        """Hand one Slack request to Bolt (signature checked there: 401 when forged or stale) and answer with its ack."""
        bolt_request = to_bolt_request(request, await request.body())
        if self._acks_inline(request=bolt_request):
            return to_starlette_response(self.app.dispatch(bolt_request))
        return to_starlette_response(await run_in_threadpool(self.app.dispatch, bolt_request))

    def _acks_inline(self, *, request: BoltRequest) -> bool:
        """Whether Bolt may answer on the event loop: the ack does no I/O (a command or a button) and the bot knows who it is."""
        return self._identity is not None and (is_slash_command(request.body) or is_action(request.body))

    def start(self) -> None:
        """HTTP mode: start the worker and learn who the bot is; Socket Mode: open the connection."""
        if self.http:
            if self.worker is not None:
                self.worker.launch()
            if self.installs is None:
                threading.Thread(target=self._learn_identity, name="slack-auth-test", daemon=True).start()
            return
        if self._socket is not None:
            return
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        self._socket = SocketModeHandler(self.app, app_token=self.settings.slack_app_token, web_client=self.client)
        self._socket.connect()

    def _learn_identity(self) -> None:
        """auth.test before the first request, so commands and buttons can be acked on the event loop from the start."""
        try:
            self._authorize()
        except Exception:  # noqa: BLE001 - Slack unreachable now: the first request asks again
            log.warning("slack auth.test failed; the first request will try again", exc_info=True)

    def stop(self) -> None:
        """Close the Socket Mode connection, if open; let the worker (or the lazy threads) finish what they were handed."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        if self.worker is not None:
            self.worker.shutdown()
        self._lazy_threads.shutdown(wait=True)

    def healthy(self) -> bool:
        """HTTP mode is healthy while served (and its worker runs); Socket Mode while its connection is up."""
        if self._socket is None:
            return self.http and (self.worker is None or self.worker.alive())
        return bool(self._socket.client.is_connected())


def _page(*, status: int, key: str, **params: Any) -> BoltResponse:
    """A small page in both languages (whoever installs, krbot does not know their language yet)."""
    title = html.escape(translate("slack.install_page_title", lang="en"))
    lines = "".join(f"<p>{html.escape(translate(key, lang=lang, **params))}</p>" for lang in ("zh", "en"))
    body = f"<!doctype html><meta charset=utf-8><title>{title}</title><body style='font-family:sans-serif'>{lines}</body>"
    return BoltResponse(status=status, body=body, headers={"Content-Type": "text/html; charset=utf-8"})


def _installed_page(args: SuccessArgs) -> BoltResponse:
    """After a successful install: where krbot now is, and what to do next."""
    installation = args.installation
    return _page(status=200, key="slack.installed", team=installation.team_name or installation.team_id or "")


def _install_failed_page(args: FailureArgs) -> BoltResponse:
    """After a failed install: why, and how to start again."""
    return _page(status=args.suggested_status_code, key="slack.install_failed", reason=args.reason)


def build(
    *, settings: Settings, uow: UnitOfWork, http: bool, clock: Callable[[], datetime] | None = None, worker: bool = False
) -> SlackPlatform:
    """The Slack platform from settings: HTTP mode needs the signing secret, Socket Mode the app token, installs a key."""
    if settings.slack_client_id:
        if not http:
            raise KrbotError("slack.oauth_needs_http")
        if not settings.slack_client_secret:
            raise KrbotError("slack.oauth_needs_secret")
        if not settings.secret_key:
            raise KrbotError("slack.oauth_needs_key")
        try:
            Fernet(settings.secret_key.encode())
        except ValueError as error:
            raise KrbotError("slack.oauth_bad_key") from error
    if http and not settings.slack_signing_secret:
        raise KrbotError("slack.no_signing_secret")
    if not http and not settings.slack_app_token:
        raise KrbotError("slack.no_app_token")
    return SlackPlatform(settings=settings, uow=uow, http=http, clock=clock, worker=worker and http)
