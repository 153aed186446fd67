"""Fetching one attachment: only from where its provider keeps media, never more than the cap,
never for longer than the deadline, straight to a file.

`download` is the one door every media fetch goes through. Before each request, the first and
every redirect's, it asks `bridge.providers.media.urls.refusal` whether the link may be fetched for the
provider (its hosts over HTTPS, or its configured API URL; no private address), and the client
(`bridge.providers.media.transport.media_client`) checks the addresses it connects to. It follows at most
`MAX_REDIRECTS` redirects itself, and sends the provider's credentials only to the server the
webhook's link named. The answer is read as it arrives: a `Content-Length` over the cap is
refused before the body is read, the decoded bytes are counted as they are written to the sink's
file (a gzip bomb stops at the cap like any other body), and the whole download, redirects
included, ends by the sink's deadline. No process holds a whole attachment in memory.

    MediaRefused     never requested from where the link points (`bridge.providers.media.urls`)
    MediaAbandoned   requested, then given up: larger than the cap, slower than the deadline
    HTTPStatusError  the media host's own answer (the caller decides whether to retry)
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import BinaryIO

import httpx

from bridge.core.errors import MediaAbandoned, MediaRefused
from bridge.model.media_types import is_generic, media_type
from bridge.model.messages import Media
from bridge.providers.media.transport import until
from bridge.providers.media.urls import MediaSources, refusal

# Twilio answers api.twilio.com with one redirect to its CDN; a chain longer than this is not
# a media host's.
MAX_REDIRECTS = 3
# The most bytes decoded from one piece of the body at once: the most a download holds in memory.
CHUNK_BYTES = 64 * 1024
# The encodings `_decoded` reads; a server answering in another one is not read at all.
ACCEPT_ENCODING = "gzip, deflate"


@dataclass(frozen=True)
class FetchedMedia:
    """What a download wrote to its sink: the bytes' type, the name the provider gave, their size."""

    content_type: str
    filename: str | None = None
    size: int = 0


@dataclass(frozen=True)
class Sink:
    """Where a download writes, and its limits: at most `max_bytes` decoded bytes, and an end by
    `deadline` (a `time.monotonic()` value), redirects included."""

    file: BinaryIO
    max_bytes: int
    deadline: float

    @classmethod
    def within(cls, file: BinaryIO, *, max_bytes: int, seconds: float) -> Sink:
        """A sink whose deadline is `seconds` from now."""
        return cls(file=file, max_bytes=max_bytes, deadline=time.monotonic() + seconds)


def download(
    http: httpx.Client,
    url: str,
    *,
    media: Media,
    sources: MediaSources,
    into: Sink,
    headers: Mapping[str, str] | None = None,
    auth: httpx.Auth | tuple[str, str] | None = None,
) -> FetchedMedia:
    """GET `url` (a link `sources` allows, as is every redirect followed) into `into.file`.

    `headers` and `auth` are the provider's credentials: they go to the server `url` names and
    to no server a redirect leads to. Raises `MediaRefused`, `MediaAbandoned` (both permanent),
    `httpx.HTTPStatusError` for an answer that is not 2xx, and `httpx.TransportError`."""
    with until(into.deadline):
        try:
            response = _follow(http, url, sources=sources, into=into, headers=headers or {}, auth=auth)
        except httpx.TimeoutException as exc:
            _abandon_if_late(into, exc)
            raise
        try:
            response.raise_for_status()
            size = _receive(response, into)
        finally:
            response.close()
    return FetchedMedia(content_type=_stored_type(response, media), filename=media.filename, size=size)


def _follow(
    http: httpx.Client,
    url: str,
    *,
    sources: MediaSources,
    into: Sink,
    headers: Mapping[str, str],
    auth: httpx.Auth | tuple[str, str] | None,
) -> httpx.Response:
    """The answer at the end of `url`'s redirects, its body not read yet; each link is checked
    before it is requested."""
    current, named = url, None
    for hop in range(MAX_REDIRECTS + 1):
        refused = refusal(current, sources, redirected=hop > 0)
        if refused is not None:
            raise MediaRefused(("redirected: " if hop else "") + refused.describe())
        target = httpx.URL(current)
        named = named or target
        # Credentials go only to the server the webhook's link named (scheme, host and port).
        trusted = (target.scheme, target.host, target.port) == (named.scheme, named.host, named.port)
        request = http.build_request(
            "GET",
            target,
            headers={**(headers if trusted else {}), "Accept-Encoding": ACCEPT_ENCODING},
            timeout=_timeout(http, into),
        )
        response = http.send(request, stream=True, auth=auth if trusted else None, follow_redirects=False)
        if not response.is_redirect:
            return response
        response.close()
        try:
            current = str(target.join(response.headers["location"]))
        except httpx.InvalidURL:
            raise MediaRefused("redirected to a link that is not a valid URL") from None
    raise MediaRefused(f"more than {MAX_REDIRECTS} redirects")


def _receive(response: httpx.Response, into: Sink) -> int:
    """Write the answer's decoded body to `into.file`; how many bytes it was."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > into.max_bytes:
        raise MediaAbandoned(_too_large(into.max_bytes))
    written = 0
    try:
        for piece in _decoded(response):
            written += len(piece)
            if written > into.max_bytes:
                raise MediaAbandoned(_too_large(into.max_bytes))
            if time.monotonic() > into.deadline:
                raise MediaAbandoned(_TOO_SLOW)
            into.file.write(piece)
    except httpx.TimeoutException as exc:
        _abandon_if_late(into, exc)
        raise
    except zlib.error as exc:
        raise MediaAbandoned(f"could not be decoded ({response.headers.get('content-encoding')})") from exc
    return written


def _decoded(response: httpx.Response) -> Iterator[bytes]:
    """The body as the media host meant it, decoded here in pieces of at most `CHUNK_BYTES`
    (httpx's decoders inflate a network read in one go: 64 KB of a gzip bomb would be 64 MB)."""
    if response.is_stream_consumed:  # read, and decoded, by its transport (`httpx.MockTransport`)
        content = response.content
        for start in range(0, len(content), CHUNK_BYTES):
            yield content[start : start + CHUNK_BYTES]
        return
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        yield from response.iter_raw(CHUNK_BYTES)
        return
    if encoding in ("gzip", "x-gzip"):
        decompressor = zlib.decompressobj(zlib.MAX_WBITS | 16)
    elif encoding == "deflate":
        decompressor = None  # zlib-wrapped as RFC 9110 says, or raw as some servers send it
    else:
        raise MediaAbandoned(f"came in an encoding the bridge does not read ({encoding[:40]})")
    for data in response.iter_raw(CHUNK_BYTES):
        if decompressor is None:
            decompressor = zlib.decompressobj(zlib.MAX_WBITS if data[:1] == b"\x78" else -zlib.MAX_WBITS)
        while data:
            piece = decompressor.decompress(data, CHUNK_BYTES)
            data = decompressor.unconsumed_tail
            yield piece
            # A full piece may leave output pending with no input left: ask again until none is.
            while not data and len(piece) == CHUNK_BYTES:
                piece = decompressor.decompress(b"", CHUNK_BYTES)
                yield piece
    if decompressor is not None:
        yield decompressor.flush()


def _stored_type(response: httpx.Response, media: Media) -> str:
    """What the server says the bytes are, unless it says nothing useful (storage buckets behind
    redirects answer octet-stream); then the type the provider announced. Either way a bare,
    valid type (`bridge.model.media_types`): it is served from the bridge's origin."""
    served = media_type(response.headers.get("content-type"))
    return media_type(media.content_type) if is_generic(served) else served


def _timeout(http: httpx.Client, into: Sink) -> httpx.Timeout:
    """The client's timeouts, none longer than what is left before the deadline."""
    left = into.deadline - time.monotonic()
    if left <= 0:
        raise MediaAbandoned(_TOO_SLOW)
    configured = http.timeout

    def bounded(value: float | None) -> float:
        return left if value is None else min(value, left)

    return httpx.Timeout(
        connect=bounded(configured.connect),
        read=bounded(configured.read),
        write=bounded(configured.write),
        pool=bounded(configured.pool),
    )


def _abandon_if_late(into: Sink, exc: httpx.TimeoutException) -> None:
    """A timeout at the deadline is the download given up for good, not a server to try again
    (a socket's timeout may fire a hair early, hence the slack)."""
    if time.monotonic() >= into.deadline - _TIMER_SLACK:
        raise MediaAbandoned(_TOO_SLOW) from exc


_TIMER_SLACK = 0.05
_TOO_SLOW = "took too long to download"


def _too_large(max_bytes: int) -> str:
    return f"was larger than {describe_size(max_bytes)}"


def describe_size(size: int) -> str:
    """`size` bytes for people: `100 MB`, `64 KB`, `1500 bytes`."""
    for unit, name in ((1024 * 1024, "MB"), (1024, "KB")):
        if size >= unit and size % unit == 0:
            return f"{size // unit} {name}"
    return f"{size} bytes"
