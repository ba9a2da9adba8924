"""Which network addresses trackbridge may contact: the pure half of the outbound request policy.

A connection's ``base_url`` is input from whoever holds an API key, so without a policy trackbridge would
fetch whatever that person points it at: the instance metadata service (169.254.169.254), services on
loopback, anything inside the VPC. The policy is decided here, as values, with the stdlib only, so that
both the create-time check (``domain.connections``, a literal address in the URL answers 422) and the
connect-time check (``providers.egress``, every address a name resolves to, then a connection to the
checked address) use the same rules:

- :func:`classify` says why an address is not public (``"loopback"``, ``"private"``, ...) or ``None``.
  IPv6 forms that carry an IPv4 address (IPv4-mapped ``::ffff:a.b.c.d``, IPv4-compatible ``::a.b.c.d``,
  6to4 ``2002::/16``, NAT64 ``64:ff9b::/96``) are judged by the IPv4 address they lead to.
- :func:`parse_ip_literal` reads a URL host as an address in every spelling a resolver accepts: besides
  dotted quads and IPv6, the BSD ``inet_aton`` forms ``2130706433``, ``0x7f000001``, ``0177.0.0.1`` and
  ``127.1`` (``ipaddress`` refuses them, ``getaddrinfo`` does not), with an optional trailing dot.
- :class:`EgressPolicy` adds the operator's allowlist (``TB_ALLOWED_PRIVATE_NETWORKS``): networks, each
  optionally limited to one port, through which a self-hosted tracker inside the VPC is reached::

      10.0.0.0/8                  every port of a network
      10.1.2.3:8443               one address (a /32), one port
      127.0.0.1/32:8443           the same with the prefix length written out
      fd00::/8  or  [fd00::]/8    an IPv6 network
      [::1]:8443  or  [::1]/128:8443
                                  an IPv6 address in brackets ("::1:8443" is refused as ambiguous)

  Unspecified, multicast and broadcast addresses are never contacted, allowlisted or not.
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOWLIST_SETTING: Final = "TB_ALLOWED_PRIVATE_NETWORKS"

# Reasons an allowlist cannot lift: nothing a tracker can listen on.
NEVER_ALLOWED: Final[frozenset[str]] = frozenset({"unspecified", "multicast", "broadcast"})

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network
# Checked in order; the first match names the reason. Anything else that ``ipaddress`` does not call
# global (documentation, benchmarking, IETF assignments...) is refused as "not globally routable".
_IPV4_RULES: Final[tuple[tuple[IPNetwork, str], ...]] = (
    (_V4("0.0.0.0/8"), "unspecified"),
    (_V4("127.0.0.0/8"), "loopback"),
    (_V4("169.254.0.0/16"), "link-local"),
    (_V4("10.0.0.0/8"), "private"),
    (_V4("172.16.0.0/12"), "private"),
    (_V4("192.168.0.0/16"), "private"),
    (_V4("100.64.0.0/10"), "shared (carrier-grade NAT)"),
    (_V4("224.0.0.0/4"), "multicast"),
    (_V4("255.255.255.255/32"), "broadcast"),
    (_V4("240.0.0.0/4"), "reserved"),
)
_IPV6_RULES: Final[tuple[tuple[IPNetwork, str], ...]] = (
    (_V6("::/128"), "unspecified"),
    (_V6("::1/128"), "loopback"),
    (_V6("fe80::/10"), "link-local"),
    (_V6("fec0::/10"), "site-local"),
    (_V6("fc00::/7"), "private"),
    (_V6("ff00::/8"), "multicast"),
    (_V6("2001::/32"), "Teredo tunnel"),
    (_V6("64:ff9b:1::/48"), "local-use NAT64"),
)
_COMPATIBLE = _V6("::/96")
_NAT64 = _V6("64:ff9b::/96")


def embedded_ipv4(address: IPAddress) -> tuple[ipaddress.IPv4Address, str] | None:
    """The IPv4 address an IPv6 address leads to, and the form's name; ``None`` for other addresses."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped, "IPv4-mapped"
    if address.sixtofour is not None:
        return address.sixtofour, "6to4"
    low32 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _NAT64:
        return low32, "NAT64"
    if address in _COMPATIBLE and int(address) > 1:
        return low32, "IPv4-compatible"
    return None


def classify(address: IPAddress) -> str | None:
    """Why ``address`` is not a public address (``"loopback"``, ``"private"``...), or ``None`` if it is."""
    embedded = embedded_ipv4(address)
    if embedded is not None:
        inner, form = embedded
        reason = classify(inner)
        if reason is not None:
            return f"{reason} ({form})"
        # The packet goes to a public IPv4 address (DNS64 answers NAT64 addresses for every IPv4 site);
        # only the deprecated IPv4-compatible form has no route of its own.
        return "reserved (IPv4-compatible)" if form == "IPv4-compatible" else None
    rules = _IPV4_RULES if isinstance(address, ipaddress.IPv4Address) else _IPV6_RULES
    for network, reason in rules:
        if address in network:
            return reason
    if not address.is_global:
        return "not globally routable"
    return None


# ---- literal hosts ------------------------------------------------------------------------------------

_DECIMAL = frozenset("0123456789")
_OCTAL = frozenset("01234567")
_HEX = frozenset("0123456789abcdefABCDEF")


def _inet_aton_part(text: str) -> int | None:
    if text[:2] in ("0x", "0X"):
        digits = text[2:]
        if not digits:
            return 0  # "0x" alone is 0 to inet_aton
        return int(digits, 16) if set(digits) <= _HEX else None
    if len(text) > 1 and text[0] == "0":
        return int(text, 8) if set(text) <= _OCTAL else None
    return int(text) if text and set(text) <= _DECIMAL else None


def _parse_ipv4_any(text: str) -> ipaddress.IPv4Address | None:
    """``inet_aton``'s grammar: 1 to 4 parts, each decimal, octal (leading 0) or hex (0x); the last part
    fills the remaining bytes (``127.1`` is 127.0.0.1, ``2130706433`` is 127.0.0.1)."""
    parts = text.split(".")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()  # one trailing dot, as in a fully qualified name
    if not 1 <= len(parts) <= 4 or any(not p for p in parts):
        return None
    values = [_inet_aton_part(p) for p in parts]
    if any(v is None for v in values):
        return None
    numbers = [v for v in values if v is not None]
    head, last = numbers[:-1], numbers[-1]
    if any(v > 0xFF for v in head) or last >= 1 << (8 * (5 - len(numbers))):
        return None
    value = last
    for index, part in enumerate(head):
        value |= part << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def parse_ip_literal(host: str) -> IPAddress | None:
    """``host`` (a URL's host, brackets allowed) as an address, in any spelling a resolver reads as one;
    ``None`` when it is a name."""
    text = host.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if ":" in text:
        try:
            return ipaddress.IPv6Address(text)
        except ValueError:
            return None
    return _parse_ipv4_any(text)


def is_localhost_name(host: str) -> bool:
    """``localhost`` and every ``*.localhost`` name: loopback by definition (RFC 6761), never looked up."""
    name = host.strip().lower().rstrip(".")
    return name == "localhost" or name.endswith(".localhost")


# ---- the allowlist -----------------------------------------------------------------------------------


def _parse_port(text: str, entry: str) -> int:
    if not text or not set(text) <= _DECIMAL or not 1 <= int(text) <= 65535:
        raise ValueError(f"{ALLOWLIST_SETTING}: {entry!r} has an invalid port {text!r} (1 to 65535)")
    return int(text)


def _split_entry(entry: str) -> tuple[str, str | None, str | None]:
    """``(address, prefix length, port)`` of one allowlist entry, as written."""
    if entry.startswith("["):
        end = entry.find("]")
        if end < 0:
            raise ValueError(f"{ALLOWLIST_SETTING}: {entry!r} opens a bracket it does not close")
        address, slash, inner_prefix = entry[1:end].partition("/")
        rest = entry[end + 1 :]
        prefix = inner_prefix if slash else None
        if rest.startswith("/"):
            if prefix is not None:
                raise ValueError(f"{ALLOWLIST_SETTING}: {entry!r} gives the prefix length twice")
            prefix, colon, port = rest[1:].partition(":")
            rest = colon + port
        if rest and not rest.startswith(":"):
            raise ValueError(f"{ALLOWLIST_SETTING}: {entry!r}: only ':port' may follow the address")
        return address, prefix, rest[1:] if rest else None
    address, slash, after = entry.partition("/")
    if slash:
        prefix, colon, port = after.partition(":")
        return address, prefix, port if colon else None
    if entry.count(":") > 1:
        # "::1:8443" is a valid IPv6 address without a port: refuse the ambiguity.
        raise ValueError(
            f"{ALLOWLIST_SETTING}: {entry!r}: write an IPv6 address in brackets ([::1], [::1]:8443) "
            "or as a network with its prefix length (fd00::/8)"
        )
    address, colon, port = entry.partition(":")
    return address, None, port if colon else None


@dataclass(frozen=True, slots=True)
class AllowedNetwork:
    """One allowlist entry: a network, and the one port it is limited to (``None``: every port)."""

    network: IPNetwork
    port: int | None = None

    @classmethod
    def parse(cls, entry: str) -> AllowedNetwork:
        """One entry of :data:`ALLOWLIST_SETTING`; ValueError says what is wrong with it."""
        text = entry.strip()
        address, prefix, port_text = _split_entry(text)
        if prefix is not None and (not prefix or not set(prefix) <= _DECIMAL):
            raise ValueError(f"{ALLOWLIST_SETTING}: {entry!r} has an invalid prefix length {prefix!r}")
        try:
            base = ipaddress.ip_address(address)
        except ValueError:
            raise ValueError(
                f"{ALLOWLIST_SETTING}: {entry!r} does not start with an IP address "
                "(IPv4 as a.b.c.d, IPv6 in brackets as [fd00::1] or [fd00::1]:8443, or a network: fd00::/8)"
            ) from None
        network_text = f"{base}/{prefix}" if prefix is not None else str(base)
        try:
            network = ipaddress.ip_network(network_text, strict=True)
        except ValueError as exc:
            hint = ""
            with contextlib.suppress(ValueError):  # host bits set: say which network was meant
                hint = f"; did you mean {ipaddress.ip_network(network_text, strict=False)}?"
            raise ValueError(f"{ALLOWLIST_SETTING}: {entry!r} is not a network ({exc}){hint}") from None
        port = _parse_port(port_text, entry) if port_text is not None else None
        return cls(network, port)

    def permits(self, address: IPAddress, port: int) -> bool:
        return address in self.network and (self.port is None or self.port == port)

    def __str__(self) -> str:
        if self.port is None:
            return str(self.network)
        if self.network.version == 6:
            return f"[{self.network.network_address}]/{self.network.prefixlen}:{self.port}"
        return f"{self.network}:{self.port}"


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why one address of one host may not be contacted: what the API and the error say."""

    host: str
    address: IPAddress
    port: int
    reason: str

    @property
    def message(self) -> str:
        shown = str(self.address)
        via = "" if self.host.strip("[]") == shown else f" (it resolves to {shown})"
        return (
            f"{self.host}:{self.port}{via} is not a public address ({self.reason}): "
            "trackbridge does not contact it"
        )

    @property
    def guidance(self) -> str:
        if _kind(self.reason) in NEVER_ALLOWED:
            return "Use the tracker's real address: this kind of address is never contacted."
        network = ipaddress.ip_network(self.address.exploded.split("%")[0])
        example = AllowedNetwork(network, self.port)
        return (
            "Trackers must be on public addresses. An operator can let trackbridge reach a self-hosted "
            f"tracker on a private network by listing it in {ALLOWLIST_SETTING} (comma-separated CIDRs, "
            f"each optionally with a port, e.g. 10.0.0.0/8 or {example})."
        )


def _kind(reason: str) -> str:
    # "unspecified (IPv4-mapped)" is still unspecified
    return reason.split(" (", 1)[0]


@dataclass(frozen=True, slots=True)
class EgressPolicy:
    """The outbound policy: public addresses always, others only through :attr:`allowed`."""

    allowed: tuple[AllowedNetwork, ...] = ()

    @classmethod
    def parse(cls, text: str | None) -> EgressPolicy:
        """The policy for a :data:`ALLOWLIST_SETTING` value (comma-separated entries; empty: none)."""
        entries = [e.strip() for e in (text or "").split(",")]
        return cls(tuple(AllowedNetwork.parse(e) for e in entries if e))

    @classmethod
    def allowing(cls, entries: Iterable[str]) -> EgressPolicy:
        return cls.parse(",".join(entries))

    def refusal_reason(self, address: IPAddress, port: int) -> str | None:
        """Why ``address:port`` may not be contacted, or ``None`` when it may."""
        reason = classify(address)
        if reason is None:
            return None
        if _kind(reason) in NEVER_ALLOWED:
            return reason
        embedded = embedded_ipv4(address)
        candidates = (address,) if embedded is None else (address, embedded[0])
        if any(entry.permits(a, port) for entry in self.allowed for a in candidates):
            return None
        return reason

    def check(self, host: str, address: IPAddress, port: int) -> Refusal | None:
        reason = self.refusal_reason(address, port)
        return None if reason is None else Refusal(host, address, port, reason)

    def check_literal(self, host: str, port: int) -> Refusal | None:
        """The create-time check of a URL's host: a refused literal address (or a ``localhost`` name,
        taken as 127.0.0.1) is a :class:`Refusal`; any other name passes (it is checked when connecting,
        against every address it resolves to then)."""
        if is_localhost_name(host):
            return self.check(host, ipaddress.IPv4Address("127.0.0.1"), port)
        address = parse_ip_literal(host)
        return None if address is None else self.check(host, address, port)

    def __str__(self) -> str:
        return ",".join(str(entry) for entry in self.allowed)


__all__ = [
    "ALLOWLIST_SETTING",
    "NEVER_ALLOWED",
    "AllowedNetwork",
    "EgressPolicy",
    "IPAddress",
    "Refusal",
    "classify",
    "embedded_ipv4",
    "is_localhost_name",
    "parse_ip_literal",
]
