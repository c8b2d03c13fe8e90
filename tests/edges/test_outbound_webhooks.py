"""Webhook tries through the outbound guard (CONTRACT §8), on SQLite and PostgreSQL: a receiver on loopback is not
reached without KRBOT_OUTBOUND_ALLOW — the delivery stays queued, saying why, and goes out once the operator opens
it —; a receiver's redirect is not followed; the ledger's reason blanks the URL's credentials and query string."""

from __future__ import annotations

import socket
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bot.app import App
from bot.i18n import translate
from bot.webhook_post import WebhookFailed, post
from bot.webhooks import Drainer
from tests.fakes.hostile_http import HostileServer
from tests.fakes.okr_helpers import say
from tests.fakes.webhook_receiver import QUICK, SECRET, SECRET_ENV, Receiver, quiet, webhook_rows


def test_a_webhook_to_loopback_is_never_sent_without_the_allow_list_and_is_tried_again_later(
    hooked: App, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refused before connecting, kept queued with the reason (naming the variable that would open it); sent once
    KRBOT_OUTBOUND_ALLOW lists the receiver's address."""
    monkeypatch.delenv("KRBOT_OUTBOUND_ALLOW")
    writer = quiet(hooked)
    drainer = Drainer(uow=writer.uow, schedule=QUICK)
    assert say(writer, "chen", "/kr update KR2 1.7%").ok
    counts: Counter[str] = Counter()
    for _ in range(3):
        counts.update(drainer.drain())
        time.sleep(0.15)  # past QUICK's pause: each drain tries again
    [row] = webhook_rows(hooked)
    assert row.status == "queued" and row.attempts == 3 and counts == {"retry": 3}, (row.status, counts)
    assert receiver.requests == []
    assert (row.error or "").startswith(f"refused: {receiver.url} leads to a loopback address (this machine) — ask "
                                        "the operator to list 127.0.0.1 in KRBOT_OUTBOUND_ALLOW"), row.error
    monkeypatch.setenv("KRBOT_OUTBOUND_ALLOW", "127.0.0.0/8")
    end = time.monotonic() + 10
    while not receiver.delivered() and time.monotonic() < end:
        drainer.drain()
        time.sleep(0.05)
    assert len(receiver.delivered()) == 1 and webhook_rows(hooked)[0].status == "sent"


def _zh(error: WebhookFailed) -> str:
    """The reason in Chinese, from the catalog key and words the failure carries."""
    assert error.key is not None
    return translate(error.key, lang="zh", **error.params)


def _payload(url: str) -> dict[str, object]:
    return {"url": url, "secret_env": SECRET_ENV, "event": "checkin.saved", "body": {"id": "d-9", "data": {}}}


def test_a_receivers_redirect_is_not_followed_and_the_other_host_hears_nothing(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    with HostileServer() as first, HostileServer() as other:
        target = other.url("/ok?sig=abc")
        with pytest.raises(WebhookFailed) as caught:
            post(payload=_payload(first.url(f"/redirect?to={target}&token=t0k")))
        assert str(caught.value) == (
            f"{first.base}/redirect?… answered a redirect to {other.base}/ok?… — point the webhook at the final "
            "address (krbot does not follow redirects)"
        )
        assert other.seen == [] and len(first.seen) == 1
        assert caught.value.key == "webhook.redirected"
        assert "重定向" in _zh(caught.value)


@pytest.mark.parametrize(
    ("url", "start"),
    [
        ("ftp://hooks.example/x", "ftp://hooks.example/x is not an http:// or https:// address"),
        ("http://u:p@169.254.169.254/latest?x=1", "refused: http://…@169.254.169.254/latest?… leads to a cloud"),
    ],
)
def test_a_webhook_to_a_forbidden_address_fails_with_a_blanked_reason(
    monkeypatch: pytest.MonkeyPatch, url: str, start: str
) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    tried: list[Any] = []
    monkeypatch.setattr(socket, "create_connection", lambda *args, **_: tried.append(args) or 1 / 0)
    with pytest.raises(WebhookFailed) as caught:
        post(payload=_payload(url))
    assert str(caught.value).startswith(start), str(caught.value)
    assert tried == []  # refused before any connection: nothing sent to 169.254.169.254
    assert _zh(caught.value)


def test_a_signing_secret_in_dot_env_signs_the_try(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The secret variable is read as krbot's own settings are: from the environment, else from ./.env."""
    monkeypatch.delenv(SECRET_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(f"{SECRET_ENV}={SECRET}\n", encoding="utf-8")
    receiver = Receiver().start()
    try:
        assert post(payload=_payload(receiver.url)).message_id == "200"
        assert [request.valid for request in receiver.requests] == [True]
    finally:
        receiver.stop()


def test_a_secret_variable_the_operator_did_not_list_is_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KRBOT_SOURCE_ENVS", "SOMETHING_ELSE")
    monkeypatch.setenv(SECRET_ENV, SECRET)
    with HostileServer() as server, pytest.raises(WebhookFailed) as caught:
        post(payload=_payload(server.url("/ok")))
    assert str(caught.value).startswith(f"{SECRET_ENV} is not listed in KRBOT_SOURCE_ENVS") and server.seen == []
