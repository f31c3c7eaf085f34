"""Which addresses newsflow may connect to: public ones, and the networks a user allows.

A feed is written by someone else and its links are theirs to choose: a link, or a redirect
from an honest page, can point at loopback, the intranet or a cloud metadata endpoint
(169.254.169.254). So the HTTP layer checks every connection against this policy with the
address it is about to connect to, after DNS resolution: a name that resolves to a private
address, or a number spelt oddly (``2130706433``, ``0x7f.1``), is refused like the address
itself, and re-resolving cannot switch the address after the check. IPv6 forms that carry an
IPv4 address (``::ffff:127.0.0.1``, NAT64, 6to4, Teredo) are judged by that address.

The allowlist (``--http_allow_hosts`` / ``NEWSFLOW_HTTP_ALLOW_HOSTS``) is a comma-separated
list of networks in CIDR notation; a bare address is a network of one.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

__all__ = ["ALLOW_HOSTS_ENV", "AddressPolicy", "AddressRefused", "parse_allowlist"]

ALLOW_HOSTS_ENV = "NEWSFLOW_HTTP_ALLOW_HOSTS"  # the allowlist's environment variable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598)
_PRIVATE = tuple(ipaddress.ip_network(n) for n in (  # RFC 1918 and unique local (RFC 4193)
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"))
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_COMPAT = ipaddress.ip_network("::/96")  # the deprecated IPv4-compatible form, ::a.b.c.d


class AddressRefused(Exception):
    """Every address ``host`` resolved to is refused; ``refused`` holds (address, reason)."""

    def __init__(self, host: str, refused: list[tuple[str, str]]) -> None:
        self.host = host
        self.refused = refused
        address, why = refused[0]
        shown = host if host == address else f"{host} ({address})"
        super().__init__(
            f"{shown} is {why}: newsflow connects only to public addresses unless allowed "
            f"(--http_allow_hosts {_suggest(address)} or NEWSFLOW_HTTP_ALLOW_HOSTS)")


def parse_allowlist(text: str | Iterable[str] | None) -> tuple[str, ...]:
    """``"CIDR[,CIDR...]"`` (or the networks one by one) as normalised network strings; raises
    ``ValueError`` naming an entry that is not a network."""
    if text is None:
        return ()
    parts = text.split(",") if isinstance(text, str) else list(text)
    networks = []
    for part in (p.strip() for p in parts):
        if not part:
            continue
        try:
            networks.append(str(ipaddress.ip_network(part, strict=False)))
        except ValueError:
            raise ValueError(f"{part!r} is not a network: use CIDR notation such as "
                             f"127.0.0.0/8 or 10.1.2.3/32") from None
    return tuple(dict.fromkeys(networks))


class AddressPolicy:
    """Public addresses, plus the ``allow``ed networks (strings in CIDR notation)."""

    def __init__(self, allow: Iterable[str] = ()) -> None:
        self._allow: list[IPNetwork] = [ipaddress.ip_network(n, strict=False) for n in allow]

    def refusal(self, address: str) -> str | None:
        """Why a connection to ``address`` (an IP literal) is refused, or None when it may go."""
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0].strip("[]"))
        except ValueError:
            return "not an IP address"
        inner = _embedded_ipv4(ip)
        if self._allowed(ip) or (inner is not None and self._allowed(inner)):
            return None
        if inner is not None:
            why = _kind(inner)
            if why is not None:
                return f"{why} ({inner} inside {ip})"
            if isinstance(ip, ipaddress.IPv6Address) and (
                    ip.ipv4_mapped is not None or any(ip in n for n in _NAT64)):
                return None  # a public IPv4 address, reached over IPv6
        return _kind(ip)

    def _allowed(self, ip: IPAddress) -> bool:
        return any(ip.version == net.version and ip in net for net in self._allow)


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if any(ip in n for n in _NAT64):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]  # the client's address
    if ip in _COMPAT and int(ip) > 1:  # not :: nor ::1, which are judged as themselves
        return ipaddress.IPv4Address(int(ip))
    return None


def _kind(ip: IPAddress) -> str | None:
    """What kind of non-public address ``ip`` is, or None for a public one."""
    if ip.is_unspecified:
        return "the unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address (where cloud metadata services answer)"
    if ip.is_multicast:
        return "a multicast address"
    if ip in _SHARED:
        return "a shared address (carrier-grade NAT, 100.64.0.0/10)"
    if any(ip.version == n.version and ip in n for n in _PRIVATE):
        return "a private address"
    if ip.is_reserved or ip.is_private or not ip.is_global:
        return "a reserved address"  # documentation, benchmarking, future use, broadcast...
    return None


def _suggest(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0].strip("[]"))
    except ValueError:
        return "CIDR"
    return f"{ip}/{ip.max_prefixlen}"
