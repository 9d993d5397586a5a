"""URL uploads: download a user's link without letting it reach inside the operator's network.

A link is a request the engine makes on a stranger's behalf, so (docs/engine-api.md, "Uploads"):
- only `http` and `https`;
- the host is resolved first and every address must be public: loopback, private, link-local,
  unspecified, multicast, reserved and shared ranges are refused, in IPv4 and IPv6, including
  IPv4 hidden in IPv6 (mapped, 6to4, Teredo, NAT64) — and nothing is fetched;
- the connection goes to the address that was checked (aiohttp is handed the vetted addresses,
  so a second DNS answer cannot swap in another: no rebinding gap);
- redirects are followed here, a few at most, and every hop is checked again;
- the body is streamed to disk under the same size cap and timeouts as an upload.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Final
from urllib.parse import unquote

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolve = Callable[[str, int], Awaitable[Sequence[str]]]
"""host, port → the addresses it resolves to (injectable for tests)."""

MAX_REDIRECTS: Final = 5
TIMEOUT: Final = aiohttp.ClientTimeout(total=30 * 60, sock_connect=10, sock_read=30)
USER_AGENT: Final = "Cutaway-engine (URL upload)"

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_SHARED = ipaddress.ip_network("100.64.0.0/10")
_BENCHMARK = ipaddress.ip_network("198.18.0.0/15")


class UrlRefused(Exception):
    """The link is not allowed (scheme or address); nothing was fetched. `reason` is for users."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UrlFailed(Exception):
    """The link was allowed but could not be downloaded; `reason` is for users."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TooLarge(Exception):
    """The body passed the size cap (the partial file is the caller's to remove)."""


def is_public(ip: IPAddress) -> bool:
    """True only for globally routable unicast addresses (IPv4 inside IPv6 judged as IPv4)."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return is_public(embedded)
        if ip in _NAT64_LOCAL:
            return False
    if ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_unspecified:
        return False
    if ip.is_multicast or ip.is_reserved or not ip.is_global:
        return False
    return not (isinstance(ip, ipaddress.IPv4Address) and (ip in _SHARED or ip in _BENCHMARK))


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    # IPv4-compatible (deprecated ::a.b.c.d)
    if int(ip) >> 32 == 0 and int(ip) > 1:
        return ipaddress.IPv4Address(int(ip))
    return None


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Which addresses links may reach. By default only public ones; `allow_private` (tests and
    local development, ENGINE_ALLOW_PRIVATE_URLS) lifts the rule; `also_allow` lifts it for
    some networks only (tests serve files from 127.0.0.1 and still check the rest)."""

    allow_private: bool = False
    also_allow: tuple[IPNetwork, ...] = field(default_factory=tuple)

    def permits(self, ip: IPAddress) -> bool:
        if self.allow_private or is_public(ip):
            return True
        return any(ip.version == net.version and ip in net for net in self.also_allow)


async def system_resolve(host: str, port: int) -> Sequence[str]:
    """The operating system's answer (getaddrinfo, off the event loop)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class _PinnedResolver(AbstractResolver):
    """Hands aiohttp exactly the addresses that were vetted for each host, nothing else."""

    def __init__(self) -> None:
        self.pinned: dict[str, list[str]] = {}

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        addresses = self.pinned.get(host)
        if not addresses:
            raise OSError(f"{host} was not vetted")
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in addresses
        ]

    async def close(self) -> None:
        return None


@dataclass(frozen=True, slots=True)
class Download:
    """A link's body, streamed into `write` chunk by chunk."""

    final_url: str
    filename: str
    """The name the server or the link gives the file (not yet cleaned)."""
    size: int


class Fetcher:
    """Downloads links under an `AddressPolicy`; one fetcher serves the whole engine."""

    def __init__(self, policy: AddressPolicy, *, resolve: Resolve = system_resolve) -> None:
        self.policy = policy
        self._resolve = resolve

    async def vet(self, url: URL) -> tuple[str, list[str]]:
        """The host and its permitted addresses; raises `UrlRefused` (scheme, address) or
        `UrlFailed` (a name that does not resolve)."""
        if url.scheme not in ("http", "https"):
            raise UrlRefused("only http and https links can be uploaded")
        host = url.raw_host
        if not host:
            raise UrlRefused("the link has no host")
        if url.user is not None or url.password is not None:
            raise UrlRefused("links with a user name or password are not fetched")
        literal = _literal_ip(host)
        if literal is not None:
            candidates: Sequence[str] = [str(literal)]
        else:
            try:
                candidates = await self._resolve(host, url.port or 0)
            except (OSError, UnicodeError) as exc:
                raise UrlFailed(f"the host {host} was not found") from exc
        addresses = []
        for candidate in candidates:
            ip = _literal_ip(candidate)
            if ip is None or not self.policy.permits(ip):
                # One private answer is enough to refuse: a name that points inside is not fetched.
                raise UrlRefused("that link points to a private or local address, which the engine does not fetch")
            addresses.append(str(ip))
        if not addresses:
            raise UrlFailed(f"the host {host} was not found")
        return host, addresses

    async def download(
        self,
        url: str,
        write: Callable[[bytes], Awaitable[None]],
        *,
        max_bytes: int,
        chunk_size: int = 256 * 1024,
    ) -> Download:
        """Stream the link's body into `write`. Raises `UrlRefused`, `UrlFailed` or `TooLarge`."""
        try:
            current = URL(url)
        except (ValueError, TypeError) as exc:
            raise UrlRefused("that is not a valid link") from exc
        resolver = _PinnedResolver()
        connector = aiohttp.TCPConnector(resolver=resolver, use_dns_cache=False, force_close=True, limit=1)
        async with aiohttp.ClientSession(
            connector=connector, timeout=TIMEOUT, trust_env=False, headers={"User-Agent": USER_AGENT}
        ) as http:
            for _hop in range(MAX_REDIRECTS + 1):
                host, addresses = await self.vet(current)
                resolver.pinned[host] = addresses
                try:
                    async with http.get(current, allow_redirects=False, auto_decompress=False) as resp:
                        if resp.status in (301, 302, 303, 307, 308) and "Location" in resp.headers:
                            current = _redirect(current, resp.headers["Location"])
                            continue
                        if resp.status != 200:
                            raise UrlFailed(f"the link answered HTTP {resp.status}")
                        if resp.content_length is not None and resp.content_length > max_bytes:
                            raise TooLarge
                        size = 0
                        async for chunk in resp.content.iter_chunked(chunk_size):
                            size += len(chunk)
                            if size > max_bytes:
                                raise TooLarge
                            await write(chunk)
                        name = (resp.content_disposition.filename if resp.content_disposition else None) or ""
                        return Download(str(current), name or _name_from(current), size)
                except (aiohttp.ClientError, TimeoutError) as exc:
                    raise UrlFailed(f"the link could not be downloaded ({_brief(exc)})") from exc
            raise UrlFailed("the link redirects too many times")


def _redirect(current: URL, location: str) -> URL:
    try:
        return current.join(URL(location))
    except ValueError as exc:  # e.g. a port out of range: the server's fault, not ours
        raise UrlFailed("the link redirects to an address that is not valid") from exc


def _literal_ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _name_from(url: URL) -> str:
    return PurePosixPath(unquote(url.raw_path)).name


def _brief(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return "could not connect"
    return type(exc).__name__
