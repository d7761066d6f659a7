"""The network boundary of fetching: where a feed may send the fetcher.

A feed's own answer decides where the fetcher goes next (a redirect, a comments feed it names),
so a hostile or compromised feed could point it at services only this machine can reach (an
admin page on 127.0.0.1, a cloud metadata address, a router on 192.168.0.1) and have their
answer stored, mailed and published. The rule:

    An address that is not globally reachable (loopback, private, link-local, multicast,
    reserved, unspecified; IPv4-mapped IPv6 judged as the IPv4 it carries) is reached only
    when the configured feed URL itself is on that address.

The check is made on the address actually connected to, at connect time: ``GuardedBackend``
resolves the name, drops the addresses outside the boundary and connects to one it checked, so
there is no gap between checking and connecting for DNS rebinding to use. TLS still verifies
and sends SNI for the name in the URL (httpcore starts TLS on the connected stream with the
origin's host name), and the Host header is the URL's.

``BoundaryTransport`` keeps one connection pool per allowance (the set of internal addresses a
request may reach), so a connection opened for a feed configured on an internal host is never
reused by a request that may not reach it. Address classes come from the standard library's
``ipaddress`` (IANA special-purpose registries, RFC 6890).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# The request extension naming the configured feed's URL the request is made on behalf of.
HOME = "digest_home"


class Refused(Exception):
    """A host resolved only to addresses outside the boundary; nothing was connected."""

    def __init__(self, host: str, address: IPAddress, kind: str) -> None:
        self.host = host
        self.address = address
        self.kind = kind  # "loopback", "private", ... as address_kind says
        super().__init__(f"{host} is on a {kind} address ({address})")


def address_kind(address: IPAddress) -> str | None:
    """Why ``address`` is not globally reachable ("loopback", "private", ...), or None if it is.

    IPv4-mapped IPv6 (``::ffff:127.0.0.1``) is judged as the IPv4 address it carries.
    """
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for kind, test in (("unspecified", address.is_unspecified), ("loopback", address.is_loopback),
                       ("link-local", address.is_link_local), ("multicast", address.is_multicast),
                       ("reserved", address.is_reserved), ("private", address.is_private)):
        if test:
            return kind
    return None if address.is_global else "reserved"


def ip_literal(host: str) -> IPAddress | None:
    """The address a URL host names literally (brackets and IPv6 zone dropped), else None."""
    try:
        return ipaddress.ip_address(host.strip("[]").split("%")[0])
    except ValueError:
        return None


async def resolve(host: str, port: int) -> list[IPAddress]:
    """The addresses ``host`` resolves to, in the resolver's order (no duplicates)."""
    literal = ip_literal(host)
    if literal is not None:
        return [literal]
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise httpcore.ConnectError(f"cannot resolve {host}: {exc.strerror or exc}") from exc
    found: dict[IPAddress, None] = {}
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ip_literal(str(sockaddr[0]))
        if address is not None:
            found.setdefault(address)
    return list(found)


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Connects only to addresses that are global or in ``allowed``, checked at connect time."""

    def __init__(self, allowed: frozenset[IPAddress],
                 inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self.allowed = allowed
        self.inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None,
                          ) -> httpcore.AsyncNetworkStream:
        """Resolve ``host``, keep the addresses inside the boundary, connect to the first that
        answers; raises ``Refused`` when none is inside, httpcore's errors otherwise."""
        try:
            async with asyncio.timeout(timeout):
                addresses = await resolve(host, port)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} took over {timeout} s") from None
        usable = [a for a in addresses if a in self.allowed or address_kind(a) is None]
        if not usable and addresses:
            first = addresses[0]
            raise Refused(host, first, address_kind(first) or "reserved")
        error: Exception = httpcore.ConnectError(f"{host} has no address")
        for address in usable:
            try:
                return await self.inner.connect_tcp(str(address), port, timeout=timeout,
                                                     local_address=local_address,
                                                     socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        raise error

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None,
                                  ) -> httpcore.AsyncNetworkStream:
        """Never: feeds are fetched over TCP only."""
        raise httpcore.ConnectError("unix sockets are outside the boundary")

    async def sleep(self, seconds: float) -> None:
        """Delegated to the inner backend (httpcore's retry back-off)."""
        await self.inner.sleep(seconds)


class BoundaryTransport(httpx.AsyncBaseTransport):
    """httpx transport enforcing the boundary; each request names its feed in ``extensions``.

    A request without ``extensions[HOME]`` may reach global addresses only. Environment proxy
    settings are not used: a proxy would connect on our behalf, past the check.
    """

    def __init__(self, ssl_context: ssl.SSLContext, limits: httpx.Limits) -> None:
        self._ssl_context = ssl_context
        self._limits = limits
        self._pools: dict[frozenset[IPAddress], httpx.AsyncHTTPTransport] = {}
        self._homes: dict[str, frozenset[IPAddress]] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` through the pool of its allowance."""
        allowed = await self._allowance(request.extensions.get(HOME))
        pool = self._pools.get(allowed)
        if pool is None:
            pool = self._pools[allowed] = self._new_pool(allowed)
        return await pool.handle_async_request(request)

    async def aclose(self) -> None:
        """Close every pool's connections."""
        for pool in self._pools.values():
            await pool.aclose()

    async def _allowance(self, home: object) -> frozenset[IPAddress]:
        """The internal addresses the configured feed URL ``home`` is itself on."""
        if not isinstance(home, str):
            return frozenset()
        url = httpx.URL(home)
        if url.scheme not in ("http", "https") or not url.host:
            return frozenset()
        key = f"{url.host}:{url.port or 0}"
        if key not in self._homes:
            try:
                addresses = await resolve(url.host, url.port or 443)
            except httpcore.ConnectError:
                addresses = []  # the connect itself will say the name does not resolve
            self._homes[key] = frozenset(a for a in addresses if address_kind(a) is not None)
        return self._homes[key]

    def _new_pool(self, allowed: frozenset[IPAddress]) -> httpx.AsyncHTTPTransport:
        transport = httpx.AsyncHTTPTransport(verify=self._ssl_context, limits=self._limits,
                                             trust_env=False)
        # httpx takes no network backend, so its pool is rebuilt with ours (same settings).
        transport._pool = httpcore.AsyncConnectionPool(
            ssl_context=self._ssl_context,
            max_connections=self._limits.max_connections,
            max_keepalive_connections=self._limits.max_keepalive_connections,
            keepalive_expiry=self._limits.keepalive_expiry,
            network_backend=GuardedBackend(allowed),
        )
        return transport
