"""The connect-time half of the outbound request policy: an httpx transport that checks before it connects.

:class:`EgressTransport` is an ``httpx.HTTPTransport`` whose connection pool opens sockets through
:class:`EgressBackend`: for every new connection, the backend

1. takes the URL's host as an address when it is one (in any spelling: ``2130706433`` is 127.0.0.1), else
   asks the resolver for **every** address of the name;
2. checks each against the :class:`~trackbridge.domain.egress.EgressPolicy`, and refuses the whole name if
   any one is refused (a name that answers one public and one private address is refused), raising
   :class:`~trackbridge.providers.errors.EgressDeniedError` before any packet is sent to it;
3. connects to the checked addresses themselves, never to the name again, so DNS rebinding between the
   check and the connection cannot switch the destination.

TLS is untouched: httpcore starts TLS on the connected socket with the URL's host as SNI and as the name
the certificate must match. The resolver is injectable (``Resolver``): tests map names to addresses with a
dict, and the refusal happens before anything leaves the process. So is the socket layer under the check
(``network``, an httpcore backend): tests put one there that records where connections go.

A client built with this transport ignores proxy environment variables (httpx mounts them only on clients
without a transport of their own), so a proxy cannot connect on the policy's behalf either.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import httpcore
import httpx

from trackbridge.domain.egress import EgressPolicy, IPAddress, parse_ip_literal
from trackbridge.providers.errors import EgressDeniedError

# A resolver maps (host, port) to the addresses a connection may go to; it raises OSError when the name
# does not resolve.
Resolver = Callable[[str, int], Sequence[IPAddress]]


def system_resolver(host: str, port: int) -> list[IPAddress]:
    """Every address ``getaddrinfo`` gives for ``host`` (IPv4 and IPv6), in its order, without repeats."""
    found: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        address = parse_ip_literal(str(sockaddr[0]))
        if address is not None and address not in found:
            found.append(address)
    return found


class EgressBackend(httpcore.NetworkBackend):
    """An httpcore network backend that resolves and checks before every TCP connection (see the module
    doc), then opens it through ``network`` (default: httpcore's socket backend) to the checked address."""

    def __init__(
        self,
        policy: EgressPolicy,
        *,
        resolver: Resolver | None = None,
        provider: str = "",
        network: httpcore.NetworkBackend | None = None,
    ) -> None:
        self.policy = policy
        self.resolver = resolver or system_resolver
        self.provider = provider
        self.network = network or httpcore.SyncBackend()

    def addresses(self, host: str, port: int) -> list[IPAddress]:
        """The checked addresses for ``host:port``; ``EgressDeniedError`` when any one is refused."""
        literal = parse_ip_literal(host)
        if literal is not None:
            candidates: list[IPAddress] = [literal]
        else:
            try:
                candidates = list(self.resolver(host, port))
            except (OSError, UnicodeError) as exc:  # getaddrinfo: UnicodeError for a label over 63 chars
                raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
            if not candidates:
                raise httpcore.ConnectError(f"cannot resolve {host}: no address")
        for address in candidates:
            refusal = self.policy.check(host, address, port)
            if refusal is not None:
                raise EgressDeniedError(refusal.message, provider=self.provider, guidance=refusal.guidance)
        return candidates

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        options = list(socket_options or ())
        error: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in self.addresses(host, port):
            try:
                # An address literal: getaddrinfo parses it, no lookup, so the socket goes where we checked.
                return self.network.connect_tcp(str(address), port, timeout, local_address, options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None  # addresses() returns at least one address or raises
        raise error

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise EgressDeniedError("a Unix socket is not a tracker: never contacted", provider=self.provider)

    def sleep(self, seconds: float) -> None:
        self.network.sleep(seconds)


class EgressTransport(httpx.HTTPTransport):
    """``httpx.HTTPTransport`` over :class:`EgressBackend`: pass it as ``httpx.Client(transport=...)``."""

    def __init__(
        self,
        policy: EgressPolicy,
        *,
        resolver: Resolver | None = None,
        provider: str = "",
        network: httpcore.NetworkBackend | None = None,
        verify: bool | str = True,
        limits: httpx.Limits | None = None,
    ) -> None:
        # Not super().__init__(): httpx builds its pool without a way to choose the network backend, so
        # this builds the same pool (what ``HTTPTransport.handle_request`` sends through) with ours.
        limits = limits or httpx.Limits(
            max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0
        )
        self.backend = EgressBackend(policy, resolver=resolver, provider=provider, network=network)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=self.backend,
        )


def egress_client(
    policy: EgressPolicy,
    *,
    resolver: Resolver | None = None,
    provider: str = "",
    network: httpcore.NetworkBackend | None = None,
    timeout: httpx.Timeout | float | None = None,
    follow_redirects: bool = False,
) -> httpx.Client:
    """An ``httpx.Client`` whose every connection goes through the policy (never through a proxy);
    ``network`` replaces the socket layer under the check (tests)."""
    return httpx.Client(
        transport=EgressTransport(policy, resolver=resolver, provider=provider, network=network),
        timeout=timeout if timeout is not None else httpx.Timeout(30.0, connect=10.0, pool=10.0),
        follow_redirects=follow_redirects,
    )


__all__ = ["EgressBackend", "EgressTransport", "Resolver", "egress_client", "system_resolver"]
