"""The media client's connections: made only to the addresses it checked, never past the deadline.

The network below the client is httpcore's backend (its documented extension point): a recording
backend stands in for it where an address outside 127.0.0.0/8 would otherwise be connected to.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from ipaddress import ip_address
from typing import Any

import httpcore
import httpx
import pytest

from bridge.core.errors import MediaRefused
from bridge.providers.media.transport import Address, CheckedBackend, media_client, until
from bridge.runtime.serving import free_port


class Recording(httpcore.NetworkBackend):
    """Records what it is asked to connect to, and connects nowhere."""

    def __init__(self) -> None:
        self.connects: list[tuple[str, int]] = []

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        self.connects.append((host, port))
        raise httpcore.ConnectError("recorded, not connected")


class Rebinding:
    """A name that is public when first asked and 127.0.0.1 on every later lookup (DNS rebinding)."""

    def __init__(self) -> None:
        self.lookups = 0

    def __call__(self, host: str, port: int) -> list[Address]:
        self.lookups += 1
        return [ip_address("93.184.216.34" if self.lookups == 1 else "127.0.0.1")]


def test_the_address_checked_is_the_address_connected_to():
    rebinding, network = Rebinding(), Recording()
    backend = CheckedBackend(trusted=[], resolve=rebinding, inner=network)
    with pytest.raises(httpcore.ConnectError):
        backend.connect_tcp("media.twiliocdn.com", 443)
    assert rebinding.lookups == 1
    assert network.connects == [("93.184.216.34", 443)]  # the checked address, not the name again


def test_no_address_is_connected_to_when_one_of_them_is_private():
    network = Recording()
    backend = CheckedBackend(
        trusted=[], resolve=lambda host, port: [ip_address("8.8.8.8"), ip_address("10.0.0.1")], inner=network
    )
    with pytest.raises(MediaRefused, match="media.example resolves to a private address"):
        backend.connect_tcp("media.example", 443)
    assert network.connects == []


def test_an_address_written_in_the_link_is_checked_without_a_lookup():
    asked: list[str] = []
    backend = CheckedBackend(
        trusted=[], resolve=lambda host, port: asked.append(host) or [], inner=Recording()
    )
    with pytest.raises(MediaRefused, match="169.254.169.254 resolves to the cloud metadata address"):
        backend.connect_tcp("169.254.169.254", 80)
    assert asked == []


def test_the_configured_api_urls_are_connected_to_as_configured():
    network = Recording()
    backend = CheckedBackend(trusted=["http://127.0.0.1:9000/v1"], resolve=lambda h, p: [], inner=network)
    with pytest.raises(httpcore.ConnectError):
        backend.connect_tcp("127.0.0.1", 9000)
    with pytest.raises(MediaRefused, match="a loopback address"):
        backend.connect_tcp("127.0.0.1", 9001)  # another port is another server
    assert network.connects == [("127.0.0.1", 9000)]


def test_a_lookup_is_never_made_through_a_proxy(monkeypatch, media_host):
    """Through HTTPS_PROXY the proxy would resolve the name, out of the check's reach."""
    nobody = f"http://127.0.0.1:{free_port()}"  # a proxy that would refuse the connection
    for variable in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(variable, nobody)
    monkeypatch.delenv("NO_PROXY", raising=False)
    with media_client([media_host.url]) as http:
        assert http.get(f"{media_host.url}/file?size=3").content == b"\0\0\0"


def test_every_read_ends_by_the_deadline(media_host):
    """The client's read timeout is 60 s; the deadline cuts a byte-a-minute server off anyway."""
    started = time.monotonic()
    with media_client([media_host.url]) as http, until(started + 0.5):
        with pytest.raises(httpx.ReadTimeout):
            http.get(f"{media_host.url}/drip?every=10&size=2")
    assert time.monotonic() - started < 2
