"""Outbound calls: the one HTTP client for everything that leaves the process, and where it may connect.

Every `http`, `notify` and `llm` step, every run callback and every agent test goes through `client()`; MCP
servers reached over HTTP (whose SDK uses the `httpx2` package) go through `mcp_client()`, under the same policy.
Its transport connects through a `DestinationPolicy`, checked when a connection is opened, on the
addresses the host name resolved to — so neither a redirect nor a DNS answer that changes between
two calls (DNS rebinding) can lead a call where the policy forbids:

- link-local addresses (169.254.0.0/16, fe80::/10) and cloud metadata services (169.254.169.254,
  fd00:ec2::254, 100.100.100.200…) are always refused;
- loopback, private (10/8, 172.16/12, 192.168/16, fc00::/7), shared (100.64/10), unspecified,
  multicast and other reserved addresses are refused unless `FLOWYARD_ALLOW_PRIVATE_NETWORKS` lists a
  network holding them;
- every other (public) address is allowed.

An IPv4 address written as IPv6 (``::ffff:127.0.0.1``, or behind the NAT64 prefix 64:ff9b::/96) is
judged as the IPv4 address it stands for. A refusal raises `DestinationRefused`, an `httpx.ConnectError`
whose message names the rule; retrying it cannot help.

`send()` follows redirects itself, so that a hop to another origin goes without the credential's
headers (httpx on its own drops only `Authorization`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass

import httpcore
import httpcore2
import httpx
import httpx2

__all__ = [
    "ALLOW_VARIABLE",
    "MAX_REDIRECTS",
    "DestinationPolicy",
    "DestinationRefused",
    "GuardedBackend",
    "GuardedTransport",
    "McpGuardedBackend",
    "client",
    "mcp_client",
    "parse_networks",
    "send",
]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOW_VARIABLE = "FLOWYARD_ALLOW_PRIVATE_NETWORKS"
MAX_REDIRECTS = 10

METADATA_ADDRESSES: frozenset[Address] = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, Azure, Google Cloud, OpenStack, DigitalOcean, Oracle…
        "169.254.170.2",  # AWS ECS task credentials
        "fd00:ec2::254",  # AWS over IPv6
        "100.100.100.200",  # Alibaba Cloud
    )
)
_PRIVATE = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"))
_SHARED = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated IPv4-compatible IPv6 (and ::, ::1)


class DestinationRefused(httpx.ConnectError):
    """The destination policy refused every address of a host; the message names the rule."""

    def __init__(self, message: str, *, host: str, address: str, rule: str) -> None:
        super().__init__(message)
        self.host = host
        self.address = address
        self.rule = rule


def parse_networks(value: str | Iterable[str]) -> tuple[Network, ...]:
    """The networks of a comma-separated CIDR list ('127.0.0.1/32, 10.0.0.0/8'); a bare address is one host.

    Raises ValueError naming the entry that is not a network.
    """
    entries = value.split(",") if isinstance(value, str) else value
    networks: list[Network] = []
    for entry in (e.strip() for e in entries):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(
                f"{entry!r} is not a network: write CIDRs separated by commas, e.g. 127.0.0.1/32,10.0.0.0/8"
            ) from None
    return tuple(networks)


def _judged(address: Address) -> Address:
    """The address a connection really reaches: the IPv4 address inside an IPv4-mapped or NAT64 IPv6 one."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def _always_refused(address: Address) -> str | None:
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if address.is_link_local:
        return "link-local"
    return None


def _needs_allowing(address: Address) -> str | None:
    if address.is_loopback:
        return "loopback"
    if address.is_unspecified:
        return "unspecified"
    if address.is_multicast:
        return "multicast"
    if any(address in network for network in _PRIVATE):
        return "private"
    if address in _SHARED:
        return "shared address space"
    if address in _IPV4_COMPATIBLE or not address.is_global:
        return "reserved"
    return None


@dataclass(frozen=True)
class DestinationPolicy:
    """Which addresses outbound calls may connect to. `allowed`: the non-public networks they may reach."""

    allowed: tuple[Network, ...] = ()

    @classmethod
    def allowing(cls, cidrs: str | Iterable[str]) -> DestinationPolicy:
        """The policy that allows the networks of a comma-separated CIDR list besides public addresses."""
        return cls(parse_networks(cidrs))

    def refusal(self, host: str, address: str) -> DestinationRefused | None:
        """Why `host` may not be reached at `address` (an IP literal), or None when it may."""
        judged = _judged(ipaddress.ip_address(address))
        literal = host == str(judged)
        rule = _always_refused(judged)
        if rule is not None:
            named = str(judged) if literal else f"{host} ({judged})"
            return DestinationRefused(f"{named} is {rule}: always refused", host=host, address=str(judged), rule=rule)
        rule = _needs_allowing(judged)
        if rule is None or any(judged in network for network in self.allowed):
            return None
        asked = f"{judged} ({rule})" if literal else f"{host} ({judged}, {rule})"
        if self.allowed:
            listed = ",".join(str(network) for network in self.allowed)
            advice = f"{judged} is not in {ALLOW_VARIABLE} ({listed})"
        else:
            advice = f"outbound calls to private networks are off; allow them with {ALLOW_VARIABLE}"
        return DestinationRefused(f"refused to connect to {asked}: {advice}", host=host, address=str(judged), rule=rule)

    def screen(self, host: str, addresses: Iterable[str]) -> tuple[list[str], DestinationRefused | None]:
        """The addresses of `host` the policy allows, in order, and the first refusal among the others."""
        allowed: list[str] = []
        refused: DestinationRefused | None = None
        for address in addresses:
            refusal = self.refusal(host, address)
            if refusal is None:
                allowed.append(address)
            else:
                refused = refused or refusal
        return allowed, refused


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """A network backend that resolves each host itself and connects only to addresses the policy allows.

    The connection is made to the checked IP address, never to the name (which could resolve anew); TLS
    still verifies and sends the host name, which httpcore passes to `start_tls`.
    """

    def __init__(self, policy: DestinationPolicy, backend: httpcore.AsyncNetworkBackend | None = None) -> None:
        self.policy = policy
        self._backend = backend or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        deadline = None if timeout is None else time.monotonic() + timeout
        allowed, refused = self.policy.screen(host, await _resolve(host, port, timeout))
        if not allowed:
            raise refused or httpcore.ConnectError(f"{host} resolved to no address")
        failure: Exception | None = None
        for address in allowed:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                return await self._backend.connect_tcp(
                    address, port, timeout=left, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None
    ) -> httpcore.AsyncNetworkStream:  # pragma: no cover  (the client is never given a socket path)
        raise httpcore.ConnectError(f"outbound calls do not use unix sockets ({path})")

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


async def _resolve(host: str, port: int, timeout: float | None) -> list[str]:
    """The IP addresses of `host` in the resolver's order, looked up in a thread (getaddrinfo blocks)."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass  # a name, not an address
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout):
            found = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except TimeoutError:
        raise httpcore.ConnectTimeout(f"looking up {host} took longer than {timeout:g} s") from None
    except OSError as exc:
        raise httpcore.ConnectError(str(exc)) from None
    addresses: list[str] = []
    for *_, sockaddr in found:
        address = str(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport, its connections opened through a `GuardedBackend`."""

    def __init__(
        self,
        policy: DestinationPolicy,
        *,
        backend: httpcore.AsyncNetworkBackend | None = None,
        limits: httpx.Limits | None = None,
    ) -> None:
        limits = limits or httpx.Limits(max_connections=100, max_keepalive_connections=20)
        ssl_context = httpx.create_ssl_context()  # honours SSL_CERT_FILE and SSL_CERT_DIR, as httpx does
        super().__init__(verify=ssl_context, limits=limits)
        # httpx 0.28 takes no network backend (encode/httpx#3749): replace the pool it built with one that has ours.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(policy, backend),
        )


def client(
    policy: DestinationPolicy, *, timeout: float, backend: httpcore.AsyncNetworkBackend | None = None
) -> httpx.AsyncClient:
    """The client for calls that leave the process: connections checked by `policy`, no proxy from the environment.

    (A proxy would be the only address checked, so the environment's HTTP_PROXY and .netrc are not read.)
    `backend` opens the connections the policy allows; tests pass one that records instead.
    """
    return httpx.AsyncClient(
        transport=GuardedTransport(policy, backend=backend),
        timeout=timeout,
        follow_redirects=True,
        headers={"User-Agent": "Flowyard"},
        trust_env=False,
    )


class McpGuardedBackend(httpcore2.AsyncNetworkBackend):
    """`GuardedBackend` for httpcore2, the connections of the `mcp` SDK's HTTP client (`httpx2`)."""

    def __init__(self, policy: DestinationPolicy, backend: httpcore2.AsyncNetworkBackend | None = None) -> None:
        self.policy = policy
        self._backend = backend or httpcore2.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            addresses = await _resolve(host, port, timeout)
        except httpcore.ConnectTimeout as exc:
            raise httpcore2.ConnectTimeout(str(exc)) from None
        except httpcore.ConnectError as exc:
            raise httpcore2.ConnectError(str(exc)) from None
        allowed, refused = self.policy.screen(host, addresses)
        if not allowed:
            raise refused or httpcore2.ConnectError(f"{host} resolved to no address")
        failure: Exception | None = None
        for address in allowed:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                return await self._backend.connect_tcp(
                    address, port, timeout=left, local_address=local_address, socket_options=socket_options
                )
            except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None
    ) -> httpcore2.AsyncNetworkStream:  # pragma: no cover  (the client is never given a socket path)
        raise httpcore2.ConnectError(f"outbound calls do not use unix sockets ({path})")

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


def mcp_client(
    policy: DestinationPolicy,
    *,
    timeout: float,
    headers: dict[str, str] | None = None,
    backend: httpcore2.AsyncNetworkBackend | None = None,
) -> httpx2.AsyncClient:
    """The `httpx2` client an MCP server is reached over (Streamable HTTP), its connections checked by `policy`.

    Like `client()`: no proxy or .netrc from the environment. Redirects are left to the SDK, which follows only
    those that stay on the server's origin. `timeout` bounds connecting and each read.
    """
    ssl_context = httpx2.create_ssl_context()
    transport = httpx2.AsyncHTTPTransport(verify=ssl_context)
    transport._pool = httpcore2.AsyncConnectionPool(  # (as GuardedTransport: httpx2 takes no network backend)
        ssl_context=ssl_context,
        max_connections=20,
        max_keepalive_connections=5,
        network_backend=McpGuardedBackend(policy, backend),
    )
    return httpx2.AsyncClient(
        transport=transport,
        timeout=httpx2.Timeout(timeout),
        headers={"User-Agent": "Flowyard", **(headers or {})},
        trust_env=False,
    )


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port or {"http": 80, "https": 443}.get(url.scheme)


async def send(
    http: httpx.AsyncClient,
    request: httpx.Request,
    *,
    credential_headers: Collection[str] = (),
    stream: bool = False,
    max_redirects: int = MAX_REDIRECTS,
) -> httpx.Response:
    """Send `request` and follow its redirects; from the first hop to another origin on, without the credential.

    `credential_headers` names the headers that carry a credential: once a redirect leads to another scheme,
    host or port than the request's, they are removed (and stay removed, should it lead back). With `stream`,
    the caller reads and closes the final response; the redirects' own bodies are never read.
    """
    origin = _origin(request.url)
    history: list[httpx.Response] = []
    while True:
        response = await http.send(request, stream=stream, follow_redirects=False)
        following = response.next_request
        if following is None:
            response.history = history
            return response
        await response.aclose()
        history.append(response)
        if len(history) > max_redirects:
            raise httpx.TooManyRedirects(f"more than {max_redirects} redirects", request=following)
        if _origin(following.url) != origin:
            for name in credential_headers:
                following.headers.pop(name, None)
        request = following
