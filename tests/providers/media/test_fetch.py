"""One attachment's download, against real HTTP servers on 127.0.0.1: only from the provider's
hosts at every redirect, no further than the cap, no longer than the deadline, into a file.

The media host (`media_host`, tests/media_hosts.py) plays the provider's configured API URL, the
one origin on 127.0.0.1 the bridge may fetch from. Names that resolve to private addresses are
played by a resolver stub: nothing outside 127.0.0.0/8 is ever connected to, and the addresses
refused are refused before any connection.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Iterator
from ipaddress import ip_address
from urllib.parse import quote

import httpx
import pytest

from bridge.core.errors import MediaAbandoned, MediaRefused
from bridge.model.messages import Media
from bridge.providers.media.fetch import MAX_REDIRECTS, download
from bridge.providers.media.transport import Address, media_client
from bridge.providers.media.urls import MediaSources
from bridge.providers.twilio.adapter import MEDIA_HOSTS
from tests.media_hosts import memory_sink

CAP = 64 * 1024


class Resolver:
    """A DNS stub: the addresses each name resolves to, and the names it was asked for."""

    def __init__(self, answers: dict[str, list[str]] | None = None) -> None:
        self.answers = answers or {}
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> list[Address]:
        self.asked.append(host)
        return [ip_address(address) for address in self.answers.get(host, [])]


@pytest.fixture
def sources(media_host) -> MediaSources:
    """Twilio's media hosts, with TWILIO_API_URL at the media host."""
    return MediaSources(provider="twilio", hosts=MEDIA_HOSTS, api_urls=(media_host.url,))


@pytest.fixture
def resolver() -> Resolver:
    return Resolver()


@pytest.fixture
def client(media_host, resolver) -> Iterator[httpx.Client]:
    with media_client([media_host.url], resolve=resolver) as http:
        yield http


def fetch(client: httpx.Client, url: str, sources: MediaSources, **limits: float) -> bytes:
    """Download `url` into memory; its bytes."""
    sink = memory_sink(**limits)
    download(client, url, media=Media(url=url), sources=sources, into=sink)
    return sink.file.getvalue()


def redirect_to(media_host, target: str) -> str:
    return f"{media_host.url}/redirect?to={quote(target, safe='')}"


def test_media_on_the_configured_api_url_are_fetched(media_host, client, sources):
    assert fetch(client, f"{media_host.url}/file?size=100&type=image/png", sources) == b"\0" * 100


# --- redirects: every hop checked before it is requested ---

REDIRECTED_TO = [
    pytest.param("{host}/file", "twilio media are fetched over https only", id="loopback-by-name"),
    pytest.param("https://127.0.0.1:{port}/file", "the link points to a loopback address", id="loopback"),
    pytest.param("http://10.0.0.7/file", "the link points to a private address", id="private"),
    pytest.param("http://192.168.1.20/", "the link points to a private address", id="private-192"),
    pytest.param(
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "the link points to the cloud metadata address",
        id="metadata",
    ),
    pytest.param(
        "https://media.example.com/a.png", "the link is not on twilio's media hosts", id="elsewhere"
    ),
]


@pytest.mark.parametrize(("target", "reason"), REDIRECTED_TO)
def test_a_redirect_from_the_providers_host_is_checked_before_it_is_followed(
    media_host, client, sources, target, reason
):
    target = target.format(host=media_host.url.replace("127.0.0.1", "localhost"), port=media_host.port)
    with pytest.raises(MediaRefused, match=f"^redirected: .*{reason}"):
        fetch(client, redirect_to(media_host, target), sources)
    assert [r["path"] for r in media_host.state.requests] == ["/redirect"]


@pytest.mark.parametrize(
    ("addresses", "reason"),
    [
        (["127.0.0.1"], "a loopback address"),
        (["10.20.30.40"], "a private address"),
        (["169.254.169.254"], "the cloud metadata address"),
        (["fd00:ec2::254"], "the cloud metadata address"),
        (["::ffff:192.168.0.1"], "a private address"),
        # A public address first does not make the second one safe: clients try the next on failure.
        (["8.8.8.8", "127.0.0.1"], "a loopback address"),
    ],
)
def test_a_name_on_the_providers_hosts_that_resolves_to_a_private_address_is_never_connected_to(
    media_host, client, sources, resolver, addresses, reason
):
    resolver.answers["mms.twiliocdn.com"] = addresses
    target = f"https://mms.twiliocdn.com:{media_host.port}/file"
    with pytest.raises(MediaRefused, match=f"^mms.twiliocdn.com resolves to {reason}$"):
        fetch(client, redirect_to(media_host, target), sources)
    assert resolver.asked == ["mms.twiliocdn.com"]
    assert [r["path"] for r in media_host.state.requests] == ["/redirect"]


def test_a_redirect_loop_ends_after_a_few_hops(media_host, client, sources):
    with pytest.raises(MediaRefused, match=f"more than {MAX_REDIRECTS} redirects"):
        fetch(client, f"{media_host.url}/loop", sources)
    assert len(media_host.state.requests) == MAX_REDIRECTS + 1


def test_credentials_go_only_to_the_server_the_webhook_named(media_host, client, standin):
    from bridge.dev.standins import StoredMedia

    standin.state.media["X1"] = StoredMedia(b"GIF89a", "image/gif")
    both = MediaSources(provider="twilio", hosts=MEDIA_HOSTS, api_urls=(media_host.url, standin.url))
    url = redirect_to(media_host, f"{standin.url}/media/X1")
    with media_client([media_host.url, standin.url]) as http:
        sink = memory_sink()
        fetched = download(http, url, media=Media(url=url), sources=both, into=sink, auth=("AC1", "secret"))
    assert (sink.file.getvalue(), fetched.content_type) == (b"GIF89a", "image/gif")
    [asked] = media_host.state.requests
    assert asked["headers"]["authorization"].startswith("Basic ")
    [redirected] = standin.state.requests
    assert "authorization" not in redirected["headers"]


# --- the cap: counted as the bytes arrive, decoded ---


def test_a_declared_length_over_the_cap_is_refused_before_the_body_is_read(media_host, client, sources):
    sink = memory_sink(max_bytes=CAP)
    url = f"{media_host.url}/declared?size={CAP + 1}"
    with pytest.raises(MediaAbandoned, match="was larger than 64 KB"):
        download(client, url, media=Media(url=url), sources=sources, into=sink)
    assert sink.file.getvalue() == b""


def test_a_body_without_a_length_is_stopped_at_the_cap(media_host, client, sources):
    size = 64 * 1024 * 1024
    sink = memory_sink(max_bytes=CAP)
    url = f"{media_host.url}/chunked?size={size}"
    with pytest.raises(MediaAbandoned, match="was larger than 64 KB"):
        download(client, url, media=Media(url=url), sources=sources, into=sink)
    assert len(sink.file.getvalue()) <= CAP
    assert media_host.state.sent < size // 2  # the server was cut off, not read to the end


def test_a_gzip_bomb_stops_at_the_cap_of_decoded_bytes_without_inflating_in_memory(
    media_host, client, sources
):
    size = 32 * 1024 * 1024  # 32 KB on the wire
    url = f"{media_host.url}/bomb?size={size}"
    sink = memory_sink(max_bytes=CAP)
    tracemalloc.start()
    try:
        with pytest.raises(MediaAbandoned, match="was larger than 64 KB"):
            download(client, url, media=Media(url=url), sources=sources, into=sink)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(sink.file.getvalue()) <= CAP
    assert peak < 4 * 1024 * 1024, f"{peak} bytes held at once"


def test_a_gzip_encoded_body_under_the_cap_is_stored_decoded(media_host, client, sources):
    assert fetch(client, f"{media_host.url}/bomb?size={CAP}", sources, max_bytes=CAP) == b"\0" * CAP


def test_a_slow_drip_is_given_up_at_the_deadline(media_host, client, sources):
    started = time.monotonic()
    with pytest.raises(MediaAbandoned, match="took too long to download"):
        fetch(client, f"{media_host.url}/drip?every=0.2&size=1000", sources, seconds=1.0)
    assert time.monotonic() - started < 5  # the read timeout alone would wait 60 s a byte


# --- the type stored: a bare, valid type ---


@pytest.mark.parametrize(
    ("served", "announced", "stored"),
    [
        ("application/octet-stream", "image/svg+xml; charset=utf-8", "image/svg+xml"),
        ("application/octet-stream", "image/png\r\nX-Injected: 1", "application/octet-stream"),
        ("IMAGE/PNG; name=a.png", "image/jpeg", "image/png"),
        (None, "Image/JPEG", "image/jpeg"),
        ("text/html", "image/png", "text/html"),
    ],
)
def test_the_stored_type_is_a_bare_valid_type(media_host, client, sources, served, announced, stored):
    url = f"{media_host.url}/file" + (f"?type={quote(served)}" if served else "")
    media = Media(url=url, content_type=announced)
    fetched = download(client, url, media=media, sources=sources, into=memory_sink())
    assert fetched.content_type == stored
