"""The HTTP client media are fetched with: it connects only to addresses it has checked, and
never past a download's deadline.

Checking a link's host before the request is not enough. A name can resolve to a public address
when the bridge checks it and to 127.0.0.1 a moment later, when the HTTP client looks it up again
to connect (DNS rebinding); and a redirect's target is only known once the answer arrives. So
this client resolves every name itself, refuses it unless every address it resolves to is public
(`bridge.providers.media.urls.address_refusal`), and connects to the address it checked, while TLS still
verifies the certificate for the name. The origins of the configured API URLs are trusted as the
operator set them and connected to as usual (a stand-in on 127.0.0.1 in tests).

The client also ignores `HTTP_PROXY`/`HTTPS_PROXY`: through a proxy, the proxy would resolve the
name, and the check would be of the proxy's address.

A download's deadline (`bridge.providers.media.fetch`) bounds every connect, read and write made for it,
so a server that drips one byte a minute is cut off at the deadline, not after the job timeout.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from bridge.core.errors import MediaRefused
from bridge.core.tls import tls_context
from bridge.providers.media.urls import address_refusal

Address = IPv4Address | IPv6Address
#: Every address a host name resolves to, for a TCP connection to `port`.
Resolver = Callable[[str, int], list[Address]]

# Per step; the download's deadline (`BRIDGE_MEDIA_DEADLINE`) bounds the whole.
MEDIA_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
_DEFAULT_PORTS = {"http": 80, "https": 443}

# The monotonic time by which the download under way must end (`until`); None: no deadline.
_DEADLINE: ContextVar[float | None] = ContextVar("bridge_media_deadline", default=None)


def system_resolver(host: str, port: int) -> list[Address]:
    """What the system's resolver answers for `host`, as addresses (IPv6 scope ids dropped)."""
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise httpcore.ConnectError(f"{host} could not be resolved: {exc}") from exc
    addresses: list[Address] = []
    for *_, sockaddr in answers:
        address = ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


@contextmanager
def until(deadline: float) -> Iterator[None]:
    """Bound every network step made inside by `deadline` (a `time.monotonic()` value)."""
    token = _DEADLINE.set(deadline)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def media_client(
    trusted_origins: Iterable[str],
    *,
    resolve: Resolver = system_resolver,
    timeout: httpx.Timeout = MEDIA_TIMEOUT,
) -> httpx.Client:
    """An HTTP client for media: connections checked as the module docstring says, except to the
    origins of `trusted_origins` (the configured API URLs). It follows no redirect by itself:
    `bridge.providers.media.fetch` checks each one first."""
    backend = CheckedBackend(trusted=trusted_origins, resolve=resolve)
    return httpx.Client(transport=CheckedTransport(backend), timeout=timeout, follow_redirects=False)


class CheckedTransport(httpx.HTTPTransport):
    """httpx's own transport on a connection pool that connects through `CheckedBackend`.

    httpx takes no network backend, so the pool it builds is replaced with one that does
    (httpcore's documented extension point); everything else, from the exception mapping to the
    response streams, stays httpx's."""

    def __init__(
        self, backend: httpcore.NetworkBackend, *, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        context = ssl_context or tls_context()
        super().__init__(verify=context)
        self._pool = httpcore.ConnectionPool(ssl_context=context, network_backend=backend)


class CheckedBackend(httpcore.NetworkBackend):
    """Connects to a host only at addresses that passed `address_refusal`, and bounds every
    step by the deadline in force (`until`)."""

    def __init__(
        self,
        *,
        trusted: Iterable[str],
        resolve: Resolver = system_resolver,
        inner: httpcore.NetworkBackend | None = None,
    ) -> None:
        self._trusted = frozenset(_host_and_port(url) for url in trusted)
        self._resolve = resolve
        self._inner = inner or httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        name = host.lower().strip("[]")
        if (name, port) in self._trusted:
            addresses = [name]
        else:
            addresses = [str(address) for address in self._checked(name, port)]
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in addresses:
            try:
                stream = self._inner.connect_tcp(
                    address,
                    port,
                    timeout=_bounded(timeout, httpcore.ConnectTimeout),
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
                continue
            return DeadlineStream(stream)
        assert failure is not None  # `_checked` never answers an empty list
        raise failure

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise MediaRefused("media are never fetched over a Unix socket")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def _checked(self, host: str, port: int) -> list[Address]:
        """`host`'s addresses, every one of them public; `MediaRefused` naming the first that is
        not. All are checked, not only the first: a client falls back to the next one when a
        connection fails, and an attacker's name can list a public address before 127.0.0.1."""
        try:
            addresses = [ip_address(host)]
        except ValueError:
            addresses = self._resolve(host, port)
        if not addresses:
            raise httpcore.ConnectError(f"{host} resolves to no address")
        for address in addresses:
            refused = address_refusal(address)
            if refused is not None:
                raise MediaRefused(f"{host} resolves to {refused}")
        return addresses


class DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write ends by the deadline in force (`until`)."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _bounded(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, bounded))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


def _bounded(timeout: float | None, expired: type[Exception]) -> float | None:
    """`timeout`, shortened to what is left before the deadline in force; `expired` when none is."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise expired("the download's deadline has passed")
    return left if timeout is None else min(timeout, left)


def _host_and_port(url: str) -> tuple[str, int]:
    """A configured API URL's host and port, as httpcore names the connection it asks for."""
    parts = urlsplit(url)
    return (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(parts.scheme, 443)
