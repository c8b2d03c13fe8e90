"""Where URL sources may connect (CONTRACT §8), against real servers on loopback: loopback, link-local, metadata and
unspecified targets refused by default — on the address actually connected to, a rebinding name included — and
opened by KRBOT_OUTBOUND_ALLOW (environment or .env); http/https only; a redirect refused, naming where it pointed,
with the source's headers never sent to the other host. No traffic goes anywhere but loopback: the refusals of
metadata and link-local addresses are checked to happen before any socket connects."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.core import model
from bot.core.errors import KrbotError
from bot.i18n import translate
from bot.outbound.client import OutboundClient
from bot.pulling import Puller
from tests.fakes.hostile_http import HostileServer, serve_on_both
from tests.fakes.sources import HEADERS, TOKEN


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


IPV6 = _ipv6_loopback()


@pytest.fixture
def unopened(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No KRBOT_OUTBOUND_ALLOW in the environment, and a working directory whose .env the test may write."""
    monkeypatch.delenv("KRBOT_OUTBOUND_ALLOW", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def server() -> Iterator[HostileServer]:
    with HostileServer() as served:
        yield served


def _pull(url: str, *, headers_env: str | None = None) -> Any:
    puller = Puller()
    try:
        return puller.pull(source=model.Source(url=url, json_path="$.data.orders", headers_env=headers_env))
    finally:
        puller.close()


def _refusal(url: str, **options: Any) -> KrbotError:
    with pytest.raises(KrbotError) as caught:
        _pull(url, **options)
    return caught.value


def _words(error: KrbotError) -> tuple[str, str]:
    return translate(error.key, lang="en", **error.params), translate(error.key, lang="zh", **error.params)


@pytest.mark.parametrize(
    ("host", "opened_by"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("127.0.0.1", "10.0.0.0/8,127.0.0.0/8"),
        pytest.param("::1", "::1", marks=pytest.mark.skipif(not IPV6, reason="no IPv6 loopback here")),
        pytest.param("::1", "::/0", marks=pytest.mark.skipif(not IPV6, reason="no IPv6 loopback here")),
    ],
)
def test_a_loopback_address_is_refused_unless_the_operator_opens_it(
    unopened: Path, monkeypatch: pytest.MonkeyPatch, host: str, opened_by: str
) -> None:
    """The fake listens on loopback: refused by default (it hears nothing), then pulled once KRBOT_OUTBOUND_ALLOW lists
    the address or a network holding it."""
    with HostileServer(host=host) as served:
        error = _refusal(served.url("/ok"))
        assert error.key == "source.address_refused"
        assert (error.params["address"], error.params["kind"]) == (host, "loopback")
        assert served.seen == []
        en, zh = _words(error)
        assert en == (f"refused: {host} is a loopback address (this machine) — ask the operator to list it in "
                      "KRBOT_OUTBOUND_ALLOW if it is meant"), en
        assert "回环地址" in zh and "KRBOT_OUTBOUND_ALLOW" in zh, zh
        monkeypatch.setenv("KRBOT_OUTBOUND_ALLOW", opened_by)
        assert _pull(served.url("/ok")) == 420 and len(served.seen) == 1


def test_a_name_that_resolves_to_loopback_is_refused_and_opened_by_its_name(
    unopened: Path, monkeypatch: pytest.MonkeyPatch, server: HostileServer
) -> None:
    """`localhost` is a name the system resolves to loopback: the resolved address is what is checked."""
    url = server.url("/ok").replace("127.0.0.1", "localhost")
    error = _refusal(url)
    assert error.key == "source.address_refused" and error.params["host"] == "localhost"
    assert error.params["address"] in {"127.0.0.1", "::1"} and server.seen == []
    assert _words(error)[0].startswith(f"refused: localhost is {error.params['address']}, a loopback address")
    monkeypatch.setenv("KRBOT_OUTBOUND_ALLOW", "LOCALHOST")  # names compare without case
    assert _pull(url) == 420


def test_the_allow_list_is_read_from_a_dot_env_file_as_krbots_own_settings_are(
    unopened: Path, server: HostileServer
) -> None:
    (unopened / ".env").write_text("KRBOT_OUTBOUND_ALLOW=127.0.0.1\n", encoding="utf-8")
    assert _pull(server.url("/ok")) == 420


def _no_connections(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Record (and refuse) every connect and name look-up the standard library is asked for."""
    tried: list[Any] = []

    def refuse(*args: Any, **_: Any) -> Any:
        tried.append(args)
        raise OSError("this test allows no connection")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", lambda sock, address: refuse(address))
    monkeypatch.setattr(socket.socket, "connect_ex", lambda sock, address: refuse(address))
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return tried


@pytest.mark.parametrize(
    ("url", "address", "kind"),
    [
        ("http://169.254.169.254/latest/meta-data/iam/security-credentials/", "169.254.169.254", "metadata"),
        ("http://[fd00:ec2::254]/latest/meta-data/", "fd00:ec2::254", "metadata"),
        ("http://metadata.google.internal/computeMetadata/v1/", "metadata.google.internal", "metadata"),
        ("http://[::ffff:169.254.169.254]/latest/", "::ffff:a9fe:a9fe", "metadata"),
        ("http://169.254.10.20:8080/", "169.254.10.20", "link_local"),
        ("http://[fe80::1]:8080/", "fe80::1", "link_local"),
        ("http://0.0.0.0:8080/", "0.0.0.0", "unspecified"),
        ("http://[::]:8080/", "::", "unspecified"),
        ("http://[::ffff:127.0.0.9]:8080/", "::ffff:7f00:9", "loopback"),  # 127.0.0.1 is open, not .9
        ("http://127.1.2.3:8080/", "127.1.2.3", "loopback"),
    ],
)
def test_metadata_link_local_and_unspecified_targets_are_refused_before_any_connection(
    monkeypatch: pytest.MonkeyPatch, url: str, address: str, kind: str
) -> None:
    """Refused even with loopback's usual entries opened (they open only what they list), and no socket connects nor
    any name is looked up: nothing is sent to 169.254.169.254 or anywhere else."""
    monkeypatch.setenv("KRBOT_OUTBOUND_ALLOW", "localhost,::1,127.0.0.1")
    tried = _no_connections(monkeypatch)
    error = _refusal(url)
    assert (error.key, error.params["address"], error.params["kind"]) == ("source.address_refused", address, kind)
    assert tried == []
    en, zh = _words(error)
    assert "KRBOT_OUTBOUND_ALLOW" in en and "KRBOT_OUTBOUND_ALLOW" in zh
    assert translate(f"outbound.kind.{kind}", lang="en") in en and translate(f"outbound.kind.{kind}", lang="zh") in zh


def test_a_rebinding_name_is_checked_on_the_address_it_connects_to(monkeypatch: pytest.MonkeyPatch) -> None:
    """A name that answers an allowed address to its first look-up and loopback to the next (DNS rebinding).

    Honestly simulated without touching our code: /etc/hosts is not ours to write and no public address may be
    reached, so the client is given a resolver (its documented parameter) that answers 127.0.0.2 first — standing for
    a public address: the operator opened it — and 127.0.0.1 afterwards; a server listens on the same port of both.
    Each connection looks the name up once and connects to exactly the address that look-up gave and that was checked:
    the second connection is refused, and the server on 127.0.0.1 never hears a byte."""
    monkeypatch.setenv("KRBOT_OUTBOUND_ALLOW", "127.0.0.2")
    public, loopback = serve_on_both(hosts=("127.0.0.2", "127.0.0.1"))
    answers = iter([["127.0.0.2"], ["127.0.0.1"], ["127.0.0.1", "127.0.0.2"]])
    looked_up: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        looked_up.append(host)
        return next(answers)

    url = f"http://rebind.example:{public.bound_port}/ok"
    try:
        with OutboundClient(resolver=rebinding) as first:
            assert first.get(url=url)[0] == 200
        with OutboundClient(resolver=rebinding) as second, pytest.raises(KrbotError) as caught:
            second.get(url=url)
        assert caught.value.key == "source.address_refused"
        assert (caught.value.params["host"], caught.value.params["address"]) == ("rebind.example", "127.0.0.1")
        with OutboundClient(resolver=rebinding) as third:  # a mixed answer: only the allowed address is tried
            assert third.get(url=url)[0] == 200
        assert looked_up == ["rebind.example"] * 3
        assert len(public.seen) == 2 and loopback.seen == []
    finally:
        public.stop()
        loopback.stop()


def test_a_kept_alive_connection_is_checked_again_for_each_exchange(
    monkeypatch: pytest.MonkeyPatch, server: HostileServer
) -> None:
    """The allow-list is read for every exchange: a pooled connection opened while loopback was allowed is not used
    once it is not."""
    with OutboundClient() as client:
        assert client.get(url=server.url("/ok"))[0] == 200
        monkeypatch.delenv("KRBOT_OUTBOUND_ALLOW")
        with pytest.raises(KrbotError) as caught:
            client.get(url=server.url("/ok"))
    assert caught.value.key == "source.address_refused" and len(server.seen) == 1


@pytest.mark.parametrize(
    ("url", "scheme"),
    [("ftp://127.0.0.1/metrics.json", "ftp"), ("file:///etc/passwd", "file"), ("gopher://127.0.0.1:70/_x", "gopher"),
     ("127.0.0.1/metrics.json", "")],
)
def test_only_http_and_https_are_pulled(monkeypatch: pytest.MonkeyPatch, url: str, scheme: str) -> None:
    tried = _no_connections(monkeypatch)
    error = _refusal(url)
    assert (error.key, error.params["scheme"]) == ("source.scheme", scheme) and tried == []
    en, zh = _words(error)
    assert en.startswith("the address must start with http:// or https://") and "http://" in zh
    assert (f"not {scheme}://" in en) == bool(scheme), en


def test_a_redirect_is_refused_naming_the_blanked_location_and_the_headers_stay_with_the_urls_host(
    monkeypatch: pytest.MonkeyPatch, server: HostileServer
) -> None:
    """A source answering 302 to another host (opened too, to show that only the no-redirect rule keeps it out): the
    pull fails saying where it pointed — credentials and query blanked — and the other host hears nothing, so the
    Authorization header from headers_env went only to the URL's own host."""
    monkeypatch.setenv("SHOP_HEADERS", HEADERS)
    monkeypatch.setenv("KRBOT_OUTBOUND_ALLOW", "127.0.0.1,127.0.0.2")
    with HostileServer(host="127.0.0.2") as other:
        target = other.url("/ok").replace("http://", "http://collector:hunter2@") + "?token=s3cret"
        error = _refusal(server.url(f"/redirect?to={target}"), headers_env="SHOP_HEADERS")
        assert error.key == "source.redirected"
        assert error.params["location"] == f"http://…@127.0.0.2:{other.bound_port}/ok?…"
        en, zh = _words(error)
        assert en == (f"the address answered a redirect to http://…@127.0.0.2:{other.bound_port}/ok?… — point the "
                      "source at the final address (krbot does not follow redirects)"), en
        assert "重定向" in zh and "s3cret" not in en + zh and "hunter2" not in en + zh
        assert other.seen == [] and server.seen[0].headers["Authorization"] == TOKEN
    relative = _refusal(server.url("/redirect?to=/elsewhere%3Fkey%3Dx"))
    assert relative.params["location"] == server.url("/elsewhere?…")


def test_tls_keeps_the_host_name_while_connecting_to_the_checked_address() -> None:
    """https://localhost: the guard resolves and connects to 127.0.0.1 itself, yet the TLS handshake asks for
    `localhost` (SNI) and checks the certificate against it — a self-signed one is refused as untrusted."""
    from tests.fakes.hostile_tls import TlsServer

    with TlsServer() as server:
        error = _refusal(f"https://localhost:{server.port}/metrics.json")
    assert error.key == "source.connect" and "CERTIFICATE_VERIFY_FAILED" in error.params["detail"], error
    assert server.names == ["localhost"]
