"""Where an outbound exchange may connect: `http`/`https` only, and never to loopback, link-local, cloud-metadata or
unspecified addresses (IPv4-mapped and other IPv6 forms of them included) unless KRBOT_OUTBOUND_ALLOW opens them.

Pure rules on names and addresses (no sockets): `network` applies them to every address it resolves and to the
address it actually connected to.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from bot.core.errors import KrbotError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

SCHEMES = ("http", "https")
# Cloud instance-metadata services: AWS, GCP, Azure, Oracle (169.254.169.254), AWS over IPv6, ECS tasks, Alibaba.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(text) for text in ("169.254.169.254", "fd00:ec2::254", "169.254.170.2", "100.100.100.200")
)
METADATA_HOSTS = frozenset(
    {"metadata.google.internal", "metadata.goog", "metadata", "instance-data", "instance-data.ec2.internal"}
)
THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")  # "this host on this network": Linux connects it to itself
NAT64 = ipaddress.ip_network("64:ff9b::/96")  # an IPv4 address behind a NAT64 gateway


@dataclass(frozen=True, slots=True)
class Allowance:
    """The hosts (names or addresses) and networks the operator opened with KRBOT_OUTBOUND_ALLOW."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[Network, ...] = ()

    def opens(self, *, host: str, address: IPAddress | None) -> bool:
        """Whether the operator listed this host by name, or a network holding this address."""
        if plain_host(host=host) in self.hosts:
            return True
        if address is None:
            return False
        candidates = {without_scope(address=address), embedded_v4(address=address)}
        return any(candidate in network for candidate in candidates for network in self.networks
                   if candidate.version == network.version)


def read_allowance(*, text: str | None) -> Allowance:
    """The allowance a comma-separated KRBOT_OUTBOUND_ALLOW holds ("127.0.0.1,10.0.0.0/8,localhost")."""
    hosts: set[str] = set()
    networks: list[Network] = []
    for entry in (text or "").split(","):
        word = entry.strip()
        if not word:
            continue
        try:
            networks.append(ipaddress.ip_network(word.strip("[]"), strict=False))
        except ValueError:
            hosts.add(plain_host(host=word))
    return Allowance(hosts=frozenset(hosts), networks=tuple(networks))


def plain_host(*, host: str) -> str:
    """A host name as compared: lower case, no brackets, no trailing dot."""
    return host.strip().strip("[]").rstrip(".").lower()


def literal(*, host: str) -> IPAddress | None:
    """The address a host is written as ("127.0.0.1", "[::1]"), or None for a name."""
    try:
        return ipaddress.ip_address(plain_host(host=host))
    except ValueError:
        return None


def without_scope(*, address: IPAddress) -> IPAddress:
    """An IPv6 address without its zone ("fe80::1%eth0" → "fe80::1"), so it compares with listed addresses."""
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id:
        return ipaddress.IPv6Address(int(address))
    return address


def embedded_v4(*, address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 one stands for (mapped ::ffff:a.b.c.d, NAT64, 6to4, compatible ::a.b.c.d), else it."""
    if isinstance(address, ipaddress.IPv4Address):
        return address
    plain = without_scope(address=address)
    assert isinstance(plain, ipaddress.IPv6Address)
    if plain.ipv4_mapped is not None:
        return plain.ipv4_mapped
    if plain.sixtofour is not None:
        return plain.sixtofour
    if plain in NAT64 or (int(plain) >> 32 == 0 and int(plain) > 1):
        return ipaddress.IPv4Address(int(plain) & 0xFFFFFFFF)
    return plain


def kind_of(*, address: IPAddress) -> str | None:
    """Why this address is refused by default ("loopback", "link_local", "metadata", "unspecified"), or None."""
    for candidate in (without_scope(address=address), embedded_v4(address=address)):
        if candidate in METADATA_ADDRESSES:
            return "metadata"
        if candidate.is_unspecified or candidate in THIS_NETWORK:
            return "unspecified"
        if candidate.is_loopback:
            return "loopback"
        if candidate.is_link_local:
            return "link_local"
    return None


def refusal(*, host: str, address: IPAddress | None, allowance: Allowance) -> KrbotError | None:
    """The refusal of connecting to `address` for `host` (or of the host name itself, without an address), or None."""
    if address is None:
        kind = "metadata" if plain_host(host=host) in METADATA_HOSTS else None
    else:
        kind = kind_of(address=address)
    if kind is None or allowance.opens(host=host, address=address):
        return None
    shown = plain_host(host=host) if address is None else str(without_scope(address=address))
    return KrbotError("source.address_refused", host=plain_host(host=host), address=shown, kind=kind)


def check_scheme(*, url: str) -> None:
    """Refuse any URL that is not http:// or https:// (ftp://, file://, gopher://, none at all)."""
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        scheme = ""
    if scheme not in SCHEMES:
        raise KrbotError("source.scheme", scheme=scheme)
