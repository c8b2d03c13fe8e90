"""The outbound rule on addresses alone (no sockets): which targets are refused by default, in every spelling, and
what KRBOT_OUTBOUND_ALLOW opens."""

from __future__ import annotations

import ipaddress

import pytest

from bot.core.errors import KrbotError
from bot.outbound.addresses import check_scheme, kind_of, read_allowance, refusal


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"), ("127.255.0.9", "loopback"), ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"), ("::127.0.0.1", "loopback"), ("64:ff9b::7f00:1", "loopback"),
        ("169.254.0.1", "link_local"), ("fe80::1", "link_local"), ("fe80::1%2", "link_local"),
        ("febf::1", "link_local"), ("::ffff:169.254.3.4", "link_local"),
        ("169.254.169.254", "metadata"), ("fd00:ec2::254", "metadata"), ("::ffff:169.254.169.254", "metadata"),
        ("100.100.100.200", "metadata"), ("169.254.170.2", "metadata"),
        ("0.0.0.0", "unspecified"), ("0.1.2.3", "unspecified"), ("::", "unspecified"),
        ("::ffff:0.0.0.0", "unspecified"),
        ("93.184.215.14", None), ("10.1.2.3", None), ("192.168.1.1", None), ("2606:4700::1111", None),
        ("fec0::1", None), ("100.100.100.201", None),
    ],
)
def test_each_spelling_of_a_forbidden_address_is_known(address: str, kind: str | None) -> None:
    assert kind_of(address=ipaddress.ip_address(address)) == kind


def test_the_allow_list_opens_hosts_by_name_and_addresses_by_network() -> None:
    allowance = read_allowance(text=" 127.0.0.1 , 10.0.0.0/8,Localhost., [::1], fe80::/10,,")
    loopback = ipaddress.ip_address("127.0.0.1")
    assert allowance.opens(host="127.0.0.1", address=loopback)
    assert allowance.opens(host="anything", address=ipaddress.ip_address("::ffff:127.0.0.1"))
    assert allowance.opens(host="localhost", address=ipaddress.ip_address("127.0.0.5"))
    assert allowance.opens(host="x", address=ipaddress.ip_address("fe80::9%3"))
    assert not allowance.opens(host="x", address=ipaddress.ip_address("127.0.0.2"))
    assert refusal(host="x", address=ipaddress.ip_address("127.0.0.2"), allowance=allowance) is not None
    assert refusal(host="x", address=ipaddress.ip_address("::1"), allowance=allowance) is None
    assert refusal(host="metadata.google.internal.", address=None, allowance=allowance) is not None
    assert refusal(host="metadata.google.internal", address=None,
                   allowance=read_allowance(text="metadata.google.internal")) is None
    assert read_allowance(text=None).hosts == frozenset() and read_allowance(text="").networks == ()


@pytest.mark.parametrize("url", ["http://a.example/x", "HTTPS://a.example/x", " https://a.example"])
def test_http_and_https_pass(url: str) -> None:
    check_scheme(url=url)


@pytest.mark.parametrize(("url", "scheme"), [("ftp://a/x", "ftp"), ("file:///etc/passwd", "file"),
                                             ("javascript:alert(1)", "javascript"), ("a.example/x", "")])
def test_other_schemes_are_refused(url: str, scheme: str) -> None:
    with pytest.raises(KrbotError) as caught:
        check_scheme(url=url)
    assert (caught.value.key, caught.value.params) == ("source.scheme", {"scheme": scheme})
