"""Slack's Socket Mode as krbot runs it: envelopes counted in flight so SIGTERM drains them before the socket closes,
acks that outlive a dropped connection, and start-up errors that name what is wrong."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import tenacity
from slack_bolt import BoltRequest
from slack_bolt.adapter.socket_mode.internals import build_headers, send_response
from slack_bolt.response import BoltResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.webhook import WebhookClient

from bot.core.errors import KrbotError
from bot.core.redact import blank_url
from bot.services.deadlines import REQUEST_SECONDS, deadline

log = logging.getLogger(__name__)

SOCKET = "krbot_socket"  # context key: the request came over Socket Mode (its envelope's id)
CONCURRENCY = 10  # envelopes handled at once
ACK_WITHIN = 3.0  # seconds Slack waits for an ack: a dropped connection's ack is tried again on the new one until then
CONNECT_WITHIN = 30.0  # seconds of tries to reach Slack at start before giving up
BAD_TOKEN = frozenset({"invalid_auth", "not_authed", "not_allowed_token_type", "account_inactive", "token_revoked",
                       "token_expired", "missing_scope"})


class _Client(SocketModeClient):
    """slack_sdk's built-in client, with an intake that can be closed while the socket stays open for the acks."""

    def __init__(self, *, intake: SocketIntake, **kwargs: Any) -> None:
        self.intake = intake
        super().__init__(**kwargs)

    def enqueue_message(self, message: str) -> None:
        """An envelope from Slack: counted in flight while intake is open, else refused (nothing stored)."""
        envelope = _envelope(message)
        if envelope is not None and not self.intake.take():
            self.intake.refuse(envelope=envelope)
            return
        super().enqueue_message(message)


def _envelope(message: str) -> dict[str, Any] | None:
    """The envelope a Socket Mode message carries (None: hello, disconnect, anything without an envelope id)."""
    if not message.startswith("{"):
        return None
    try:
        parsed = json.loads(message)
    except ValueError:
        return None
    wanted = isinstance(parsed, dict) and all(key in parsed for key in ("type", "envelope_id", "payload"))
    return parsed if wanted and parsed["envelope_id"] else None  # what slack_sdk hands its request listeners


class SocketIntake:
    """The Socket Mode connection: take envelopes, hand each to `dispatch`, ack its answer; stop taking, drain, close."""

    def __init__(
        self,
        *,
        app_token: str,
        web_client: WebClient,
        dispatch: Callable[[BoltRequest], BoltResponse],
        restarting: Callable[[], str],
        api_url: str,
    ) -> None:
        self.dispatch = dispatch
        self.restarting = restarting
        self.api_url = api_url
        self._open = True
        self._pending = 0
        self._idle = threading.Condition()
        self.client = _Client(intake=self, app_token=app_token, web_client=web_client, logger=log,
                              concurrency=CONCURRENCY)
        self.client.socket_mode_request_listeners.append(self._handle)

    # ------------------------------------------------------------ intake and drain

    def take(self) -> bool:
        """Count one more envelope in flight; False once intake stopped."""
        with self._idle:
            if self._open:
                self._pending += 1
            return self._open

    def _done(self) -> None:
        with self._idle:
            self._pending -= 1
            self._idle.notify_all()

    def refuse(self, *, envelope: dict[str, Any]) -> None:
        """An envelope after intake stopped: a command is told krbot restarts (nothing saved); the rest left unacked,
        so that Slack sends events again (to another connection)."""
        log.info("socket mode: %s envelope refused while stopping", envelope.get("type"))
        if envelope.get("type") != "slash_commands":
            return
        try:
            self.client.send_socket_mode_response(SocketModeResponse(
                envelope_id=envelope["envelope_id"], payload={"response_type": "ephemeral", "text": self.restarting()}))
        except Exception:  # noqa: BLE001 - the socket went too: Slack tells the user it did not respond
            log.warning("socket mode: could not refuse a command while stopping", exc_info=True)

    def stop_intake(self) -> None:
        """Take no new envelope (those already received are still handled and acked)."""
        with self._idle:
            self._open = False

    def drain(self, *, deadline: float) -> bool:
        """Wait (until `deadline`, a time.monotonic()) for the envelopes in flight to be handled and acked; True if all were."""
        with self._idle:
            while self._pending > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    log.warning("socket mode: %d envelope(s) still in flight at the drain's deadline", self._pending)
                    return False
                self._idle.wait(timeout=left)
        return True

    def in_flight(self) -> int:
        """Envelopes received and not yet acked."""
        with self._idle:
            return self._pending

    # ------------------------------------------------------------ one envelope

    def _handle(self, client: SocketModeClient, request: SocketModeRequest) -> None:
        """Dispatch one envelope to Bolt (the listener stores and commits), then ack with its answer."""
        started = time.monotonic()
        try:
            bolt_request = BoltRequest(mode="socket_mode", body=request.payload, headers=build_headers(request))
            bolt_request.context[SOCKET] = request.envelope_id
            with deadline(at=started + REQUEST_SECONDS):  # as an HTTP request's: answered within Slack's 3 s
                response = self.dispatch(bolt_request)
            self._ack(request=request, response=response, started=started)
        except Exception:  # noqa: BLE001 - a worker thread: logged, the next envelope goes on
            log.exception("socket mode: envelope %s failed", request.envelope_id)
        finally:
            self._done()

    def _ack(self, *, request: SocketModeRequest, response: BoltResponse, started: float) -> None:
        """Send the ack; after a dropped connection, again on the new one while Slack still waits for it. A command whose
        ack could not go out gets its answer through its response_url (it was stored: the user must hear so)."""
        if response.status == 403:  # another team's: refused, nothing stored; acked so that Slack does not send it again
            response = BoltResponse(status=200, body="")
        while True:
            try:
                send_response(self.client, request, response, started)
                return
            except Exception as error:  # noqa: BLE001 - not connected, a broken pipe: wait for the reconnection
                if time.monotonic() - started >= ACK_WITHIN or self.client.closed:
                    log.warning("socket mode: ack of %s lost (%s)", request.envelope_id, type(error).__name__)
                    break
                time.sleep(0.05)
        url = request.payload.get("response_url") if request.type == "slash_commands" else None
        if response.status != 200 or not url or not response.body:
            return
        try:
            WebhookClient(url=url, timeout=10).send_dict(json.loads(response.body))
        except Exception:  # noqa: BLE001 - Slack unreachable too: the log line is all that is left
            log.warning("socket mode: answer of %s could not go to its response_url", request.envelope_id, exc_info=True)

    # ------------------------------------------------------------ the connection

    def connect(self) -> None:
        """Open the connection: a refused app token is named at once; an unreachable Slack is tried again for a while."""
        def unreachable(error: BaseException) -> bool:
            return not (isinstance(error, SlackApiError) and _slack_error(error) in BAD_TOKEN)

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_delay(CONNECT_WITHIN), wait=tenacity.wait_exponential(multiplier=1, max=8),
            retry=tenacity.retry_if_exception(unreachable), reraise=True,
            before_sleep=lambda state: log.warning("slack unreachable (try %d): trying again", state.attempt_number),
        )
        try:
            retrying(self.client.connect)
        except SlackApiError as error:
            self.client.close()
            code = _slack_error(error)
            if code in BAD_TOKEN:
                raise KrbotError("slack.bad_app_token", error=code) from None
            raise KrbotError("slack.unreachable", url=blank_url(url=self.api_url), error=code) from None
        except Exception as error:  # noqa: BLE001 - refused, timed out, no route: Slack can't be reached
            self.client.close()
            raise KrbotError("slack.unreachable", url=blank_url(url=self.api_url), error=type(error).__name__) from None

    def close(self) -> None:
        """Close the socket and the client's threads."""
        self.client.close()

    def healthy(self) -> bool:
        """True while the connection is up."""
        return not self.client.closed and bool(self.client.is_connected())


def _slack_error(error: SlackApiError) -> str:
    """The `error` code of a Slack API answer (e.g. invalid_auth)."""
    try:
        return str(error.response.get("error") or "")
    except Exception:  # noqa: BLE001 - an answer that is no JSON object
        return ""
