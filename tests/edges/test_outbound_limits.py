"""One deadline per exchange and one size cap (CONTRACT §8), against real servers on loopback: a source or receiver
that trickles for ever fails at the deadline — wall clock, not per read —, and a 300 MB answer, a gzip bomb and a
400 MB error page are read to 1 MB at most while the process's peak memory stays flat (measured in a process of
its own)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from bot.core import model
from bot.core.errors import KrbotError
from bot.i18n import translate
from bot.pulling import Puller
from bot.webhook_post import WebhookFailed, post
from tests.conftest import ROOT
from tests.fakes.hostile_http import ERROR_START, HostileServer, bomb

SECRET_ENV = "TEST_WEBHOOK_SECRET"  # a variable the suite lists in KRBOT_SOURCE_ENVS
GROWTH_KB = 50_000  # what reading every hostile answer may add to the peak RSS (1 MB kept, plus copies)


@pytest.fixture
def server() -> Iterator[HostileServer]:
    with HostileServer() as served:
        yield served


def _pull(url: str, *, timeout: float = 10.0) -> Any:
    puller = Puller(timeout=timeout)
    try:
        return puller.pull(source=model.Source(url=url, json_path="$.data.orders"))
    finally:
        puller.close()


def _timed_refusal(url: str, **options: Any) -> tuple[KrbotError, float]:
    started = time.monotonic()
    with pytest.raises(KrbotError) as caught:
        _pull(url, **options)
    return caught.value, time.monotonic() - started


def test_a_source_sending_a_byte_a_second_for_ever_fails_at_ten_seconds(server: HostileServer) -> None:
    """The default deadline: ten seconds for the whole exchange, though every read gets a byte within one."""
    error, took = _timed_refusal(server.url("/trickle?every=1"))
    assert error.key == "source.timeout" and 9.5 <= took < 12.5, (error, took)
    assert server.sent_bytes >= 8  # it kept answering: a per-read timeout would never have fired
    assert translate(error.key, lang="en", **error.params).startswith("no answer within 10 s (the whole answer")
    assert translate(error.key, lang="zh", **error.params).startswith("10 秒内没有回应")


@pytest.mark.parametrize("path", ["/trickle?every=0.5", "/trickle-head?every=0.5"], ids=["body", "headers"])
def test_the_deadline_is_wall_clock_not_per_read(server: HostileServer, path: str) -> None:
    """A 2 s deadline against a byte every half second, in the body or in the headers: over at 2 s."""
    error, took = _timed_refusal(server.url(path), timeout=2)
    assert (error.key, error.params) == ("source.timeout", {"seconds": 2}) and 1.9 <= took < 3.5, (error, took)
    assert server.sent_bytes >= 3


def _payload(url: str) -> dict[str, Any]:
    return {"url": url, "secret_env": SECRET_ENV, "event": "checkin.saved", "body": {"id": "d-1", "data": {}}}


def test_a_webhook_try_lasts_no_longer_than_its_deadline(server: HostileServer,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A receiver whose headers trickle fails at the deadline; one that said 200 and trickles its body is delivered
    (it answered 2xx), also within the deadline; the reason blanks the URL's key."""
    monkeypatch.setenv(SECRET_ENV, "s")
    started = time.monotonic()
    with pytest.raises(WebhookFailed) as caught:
        post(payload=_payload(server.url("/trickle-head?every=0.5&key=s3cret")), timeout=2)
    assert 1.9 <= time.monotonic() - started < 3.5
    assert str(caught.value) == (f"no complete answer from {server.base}/trickle-head?… within 2 s — a receiver "
                                 "should answer 2xx at once and do its work afterwards")
    assert caught.value.status is None and caught.value.asked is None
    started = time.monotonic()
    assert post(payload=_payload(server.url("/trickle?every=0.5")), timeout=2).message_id == "200"
    assert time.monotonic() - started < 3.5


def test_a_refusing_receivers_reason_quotes_at_most_200_characters_and_no_credentials(
    server: HostileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, "s")
    url = server.url("/error-page?api_key=s3cret").replace("http://", "http://hook:hunter2@")
    with pytest.raises(WebhookFailed) as caught:
        post(payload=_payload(url))
    reason = str(caught.value)
    assert reason.startswith(f"HTTP 500 from http://…@{server.base[7:]}/error-page?…: “Internal error: the database")
    quoted = reason.split(": “", 1)[1].rstrip("”")
    assert len(quoted) == 200 and quoted.endswith("…"), quoted
    assert "s3cret" not in reason and "hunter2" not in reason and caught.value.status == 500
    assert caught.value.key == "webhook.http_status"
    assert translate(caught.value.key, lang="zh", **caught.value.params).startswith("http://…@")


@pytest.mark.parametrize(
    ("path", "said"),
    [("/huge?declared=1", "declared 300 MB"), ("/huge?declared=0", "300 MB, length unsaid"), ("/bomb", "gzip bomb")],
)
def test_a_large_answer_is_too_large(server: HostileServer, path: str, said: str) -> None:
    bomb()  # built before the clock starts (once per session)
    error, took = _timed_refusal(server.url(path))
    assert (error.key, error.params) == ("source.too_big", {"limit": 1_000_000}) and took < 5, said
    assert translate(error.key, lang="en", **error.params).startswith("the answer is over 1.0 MB")
    assert translate(error.key, lang="zh", **error.params).startswith("回应超过 1.0 MB")


def test_huge_answers_and_a_gzip_bomb_leave_the_peak_memory_flat(server: HostileServer) -> None:
    """In a process of its own (ru_maxrss is a process's peak): 300 MB declared, 300 MB streamed without a length,
    1 GB of zeros gzipped into 1 MB, pulled as sources; a 400 MB error page and the bomb answered to webhook tries.
    The peak grows by less than 50 MB (reading them whole took 646 MB, 850 MB and 1.46 GB)."""
    assert len(bomb()) < 1_100_000  # the bomb is small on the wire: 1 GiB inflated
    targets = ["source", server.url("/huge?declared=1"), "source", server.url("/huge?declared=0"),
               "source", server.url("/bomb"), "webhook", server.url("/error-page"), "webhook", server.url("/bomb")]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "tests.fakes.rss_probe", server.url("/ok"), *targets],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["warmed"] == ["pulled 420", "sent 200"]
    too_big, error_page, bombed = report["results"][:3], report["results"][3], report["results"][4]
    assert too_big == ["source.too_big"] * 3
    assert error_page.startswith("HTTP 500 from") and ERROR_START.decode()[:60] in error_page
    assert bombed == "sent 200"  # a 2xx is delivered, whatever its body
    growth = report["after_kb"] - report["before_kb"]
    assert growth < GROWTH_KB, report


def test_a_tls_handshake_that_trickles_ends_at_the_deadline() -> None:
    """The server sends a TLS record header and then a byte every half second: the handshake's reads each succeed,
    and the exchange still ends at its 2 s (the handshake waits only the time left)."""
    from tests.fakes.hostile_tls import TlsServer

    with TlsServer(trickle=True, every=0.5) as server:
        error, took = _timed_refusal(f"https://127.0.0.1:{server.port}/x.json", timeout=2)
    assert error.key == "source.timeout" and 1.9 <= took < 3.5, (error, took)
    assert server.sent_bytes >= 3
