"""The Slack edge: a slack-bolt app whose listeners store (or refuse) inside the request and answer after the commit."""

from __future__ import annotations

import hashlib
import hmac
import html
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from cryptography.fernet import Fernet
from slack_bolt import App, BoltRequest
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.oauth.callback_options import CallbackOptions, FailureArgs, SuccessArgs
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_bolt.request.internals import extract_team_id
from slack_bolt.response import BoltResponse
from slack_sdk import WebClient
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from bot import services
from bot.config import Settings
from bot.core import model
from bot.core.digest import Digest
from bot.core.errors import KrbotError
from bot.i18n import translate
from bot.platforms import payloads, slack_client
from bot.platforms import slack_blocks as blocks
from bot.platforms.base import Reminder, Sent
from bot.platforms.lanes import lanes_of
from bot.platforms.payloads import Malformed
from bot.platforms.slack_client import DIGEST_EVENT, SLACK_API_URL, SharedPolicy, make_client
from bot.platforms.slack_listeners import DELIVERY, PLATFORM, SlackListeners
from bot.platforms.slack_socket import SocketIntake
from bot.platforms.slack_uninstalls import SlackUninstalls, is_uninstall

if TYPE_CHECKING:
    from slack_sdk.oauth.installation_store import InstallationStore

    from bot.services import UnitOfWork

log = logging.getLogger(__name__)
BOT_SCOPES = ("commands", "chat:write", "im:write", "im:history", "files:write", "channels:history",
              "groups:history")  # as slack/manifest.yaml asks
__all__ = ["BOT_SCOPES", "DIGEST_EVENT", "PLATFORM", "SLACK_API_URL", "SharedPolicy", "SlackPlatform", "build",
           "make_client"]
INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
FOLLOW_UP_THREADS = 4  # follow-ups (modals, message updates, notices) run at once after the answer
STOP_WAIT = 5.0  # seconds stop() gives the follow-ups still running (a drain before it waited already)
WINDOW_SECONDS = 300  # Slack's requests older than this are refused (replays)


class _TokenGoesThroughAuthorize(logging.Filter):
    """Drops Bolt's start-up warnings that SLACK_BOT_TOKEN (which Bolt reads from the environment itself) goes unused.

    krbot hands the token to Bolt through `authorize`, so the warning would only puzzle whoever reads the log.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not ("`token`" in message and ("will be unused" in message or "will be ignored" in message))


logging.getLogger("slack_bolt.App").addFilter(_TokenGoesThroughAuthorize())


class SlackPlatform(SlackListeners, SlackUninstalls):
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
    ) -> None:
        """Wire the Bolt app (listeners from the table): each stores in its ack; follow-ups only call Slack."""
        self.uow = uow
        self.http = http
        self.settings = settings
        self.clock = clock or (lambda: datetime.now(UTC))
        self.client = make_client(token=settings.slack_bot_token, base_url=settings.slack_api_url)
        self._identity: AuthorizeResult | None = None
        self._identity_lock = threading.Lock()
        self.lanes = lanes_of(engine=uow.engine)
        self._follow_ups = ThreadPoolExecutor(max_workers=FOLLOW_UP_THREADS, thread_name_prefix="slack-follow-up")
        self._following: set[Future[None]] = set()
        self._following_lock = threading.Lock()
        self._closing = threading.Event()  # set by stop(): the sweep for what stopped processes owed ends
        self.installs: InstallationStore | None = None
        auth: dict[str, Any] = {"authorize": lambda: self._authorize()}  # Bolt passes arguments by name; this needs none
        if settings.slack_client_id:  # installs into many workspaces: each team's token from the (encrypted) store
            self.installs, states = services.slack_install_stores(
                uow=uow, client_id=settings.slack_client_id, secret_key=settings.secret_key or ""
            )
            auth = {"oauth_settings": OAuthSettings(
                client_id=settings.slack_client_id, client_secret=settings.slack_client_secret, scopes=list(BOT_SCOPES),
                installation_store=self.installs, state_store=states,
                install_path=INSTALL_PATH, redirect_uri_path=REDIRECT_PATH, install_page_rendering_enabled=False,
                callback_options=CallbackOptions(success=_installed_page, failure=_install_failed_page),
            )}
        self.app = App(
            client=make_client(token=None, base_url=settings.slack_api_url),  # each request's client gets its token from auth
            **auth,
            signing_secret=settings.slack_signing_secret or "",
            user_facing_authorize_error_message="\n".join(  # a team krbot is not installed in: whose language is unknown
                translate("slack.team_not_installed", lang=lang) for lang in ("zh", "en")
            ),
            process_before_response=True,  # the ack is sent after its listener committed: told saved means stored
            request_verification_enabled=not http,  # HTTP: `endpoint` checked the signature and its age before Bolt
            raise_error_for_unhandled_request=False,
            listener_executor=self._follow_ups,
        )
        self._socket: SocketIntake | None = None
        self.register(app=self.app)
        self.register_uninstalls(app=self.app)

    def _authorize(self) -> AuthorizeResult:
        """Who the bot is in its workspace: auth.test, asked once and kept (Bolt's authorize hook)."""
        if self._identity is None:
            with self._identity_lock:
                if self._identity is None:
                    self._identity = AuthorizeResult.from_auth_test_response(
                        auth_test_response=self.client.auth_test(), bot_token=self.settings.slack_bot_token, user_token=None
                    )
        return self._identity

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
        found = services.chat_sender(uow=self.uow, platform=PLATFORM, user_id=person.slack_id)
        return self._client_for(workspace=found.workspace if found else None)

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
        """One Slack request: 401 unless signed and fresh, 400 when malformed, 403 from a foreign team; else Bolt answers.

        Bolt runs in a thread: each listener stores (or refuses) and commits before its ack is sent back here.
        """
        body = await request.body()
        refused = self._refusal(body=body, headers=request.headers)
        if refused is not None:
            return refused
        try:
            bolt_request = to_bolt_request(request, body)
        except Exception as error:  # noqa: BLE001 - whatever Bolt can't parse is the sender's fault, not ours
            log.warning("malformed slack request refused: %s", type(error).__name__)
            return PlainTextResponse("malformed request", status_code=400)
        timestamp, signature = request.headers.get("x-slack-request-timestamp", ""), request.headers.get("x-slack-signature", "")
        bolt_request.context[DELIVERY] = "signed:" + hashlib.sha256(f"{timestamp}:{signature}".encode()).hexdigest()[:40]
        return to_starlette_response(await self.lanes.run(self._dispatch, bolt_request))

    def _dispatch(self, request: BoltRequest) -> BoltResponse:
        """Bolt's answer (403 from a foreign team); what escapes Bolt itself (its middleware reading a payload of the
        wrong shape) is a 400. A listener's own failure does not escape: the error handler answers it (500 for events).
        """
        if self.installs is None and not self._our_team(request):
            if is_uninstall(request.body):  # another team's uninstall: our token is not theirs, nothing to forget
                log.info("slack: an uninstall from a foreign team ignored")
                return BoltResponse(status=200, body="")
            log.warning("slack request from a foreign team refused")
            return BoltResponse(status=403, body="not our workspace")
        try:
            return self.app.dispatch(request)
        except Exception as error:  # noqa: BLE001 - Bolt trips over fields it expects: the sender's payload is wrong
            log.warning("malformed slack request refused: Bolt raised %s", type(error).__name__)
            return BoltResponse(status=400, body="")

    def _refusal(self, *, body: bytes, headers: Any) -> Response | None:
        """401 for a bad or stale signature (a non-numeric timestamp too), 400 for a body no Slack request has; else None."""
        timestamp = headers.get("x-slack-request-timestamp") or ""
        signature = headers.get("x-slack-signature") or ""
        if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12 or abs(time.time() - int(timestamp)) > WINDOW_SECONDS:
            return PlainTextResponse("", status_code=401)
        secret = (self.settings.slack_signing_secret or "").encode()
        expected = "v0=" + hmac.new(secret, b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            return PlainTextResponse("", status_code=401)
        try:
            text = payloads.decode(body=body)
            if text.lstrip().startswith("{"):
                payloads.loads(text=text)  # Events API: one JSON object
            else:
                form = parse_qs(text, keep_blank_values=True)
                if "payload" in form:  # interactivity: one JSON object in `payload=`
                    payloads.loads(text=form["payload"][0])
        except Malformed as error:
            log.warning("malformed slack request refused: %s", error)
            return PlainTextResponse("malformed request", status_code=400)
        return None

    def _our_team(self, request: BoltRequest) -> bool:
        """Single-token mode: whether the request's team is the bot token's own (auth.test); True when it names none."""
        team = extract_team_id(request.body)
        if not team:
            return True
        try:
            ours = self._authorize().team_id
        except Exception:  # noqa: BLE001 - Slack unreachable: Bolt's own authorize answers this request
            return True
        return not ours or team == ours

    def start(self) -> None:
        """HTTP mode: learn who the bot is; Socket Mode: open the connection (KrbotError naming what is wrong when it
        can't). Both: send what follow-ups a stopped process still owed."""
        if not self.http and self._socket is None:
            socket = SocketIntake(
                app_token=self.settings.slack_app_token or "", web_client=self.client, dispatch=self._dispatch,
                restarting=_restarting_text, api_url=self.settings.slack_api_url or SLACK_API_URL,
            )
            socket.connect()
            self._socket = socket
        elif self.http and self.installs is None:
            threading.Thread(target=self._learn_identity, name="slack-auth-test", daemon=True).start()
        threading.Thread(target=self.sweep_owed, kwargs={"closing": self._closing}, name="slack-owed", daemon=True).start()

    def _learn_identity(self) -> None:
        """auth.test before the first request, so the first one need not wait for it."""
        try:
            self._authorize()
        except Exception:  # noqa: BLE001 - Slack unreachable now: the first request asks again
            log.warning("slack auth.test failed; the first request will try again", exc_info=True)

    def stop_intake(self) -> None:
        """Socket Mode: take no new envelope (HTTP mode: uvicorn stops taking requests)."""
        if self._socket is not None:
            self._socket.stop_intake()

    def drain(self, *, timeout: float) -> bool:
        """Ack every envelope in flight, then let their follow-ups (answers, notices the outbox owes) finish, within
        `timeout` seconds in all."""
        deadline = time.monotonic() + timeout
        acked = self._socket.drain(deadline=deadline) if self._socket is not None else True
        return self.follow_ups_done(timeout=max(0.0, deadline - time.monotonic())) and acked

    def stop(self) -> None:
        """Close the Socket Mode connection, if open, after the drain; follow-ups not started STOP_WAIT later are dropped
        (what they owed is in the ledger, sent by the next process's sweep), those running finish before the process ends."""
        self._closing.set()
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        self.follow_ups_done(timeout=STOP_WAIT)  # after a drain: at once, unless one is stuck
        self._follow_ups.shutdown(wait=False, cancel_futures=True)

    def reaches(self, *, person: model.Person) -> bool:
        """Someone with a Slack member id in the OKR file."""
        return bool(person.slack_id)

    def healthy(self) -> bool:
        """HTTP mode is healthy while served; Socket Mode while its connection is up."""
        if self._socket is None:
            return self.http
        return self._socket.healthy()


def _restarting_text() -> str:
    """What a command sent while krbot stops hears: in both languages, as the sender's is not read while stopping."""
    return blocks.esc_lines("\n".join(translate("slack.restarting", lang=lang) for lang in ("zh", "en")))


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
    *, settings: Settings, uow: UnitOfWork, http: bool, clock: Callable[[], datetime] | None = None
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
    return SlackPlatform(settings=settings, uow=uow, http=http, clock=clock)
