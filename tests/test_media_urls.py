"""Which media links the bridge may fetch: refused before any request, with a reason an agent reads."""

from __future__ import annotations

import httpx
import pytest

from bridge.errors import MediaRefused
from bridge.media_urls import MAX_URL_LENGTH, Refusal, refusal
from bridge.messages import Media
from bridge.providers.base import download
from bridge.providers.whatsapp.adapter import WhatsAppAdapter

FETCHABLE = [
    "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
    "http://127.0.0.1:8080/media/X1",  # where the link points is not decided here (yet)
    "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1&ext=2&hash=AbC-_",
    "HTTPS://Media.Example.COM/a.png",
    "https://bücher.example/foto.jpg",
    "https://media.example/photo-é.jpg",
    "http://[2001:db8::1]:8443/a.png",
    "https://media.example./a.png",
    "https://media.example/" + "a" * (MAX_URL_LENGTH - len("https://media.example/")),
]

SCHEME = "only http and https links are fetched, not "
CONTROL = "the link contains spaces or control characters"
BAD_HOST = "the link's host name is not valid"
BAD_PORT = "the link's port is not valid"
NO_HOST = "the link names no host"
ORIGIN = "https://media.example"
TOO_LONG = f"the link is longer than {MAX_URL_LENGTH} characters"

REFUSED = [
    ("", Refusal("the link is empty")),
    ("not a url", Refusal("the link is not a URL")),
    ("//media.example/a.png", Refusal("the link is not a URL")),
    ("http://[::1/a.png", Refusal("the link is not a valid URL")),
    ("http://[::g]/a.png", Refusal("the link is not a valid URL")),
    ("file:///etc/passwd", Refusal(SCHEME + "file:")),
    ("ftp://files.example/a.png", Refusal(SCHEME + "ftp:", "ftp://files.example")),
    ("javascript:alert(1)", Refusal(SCHEME + "javascript:")),
    ("x" * 30 + "://media.example/a", Refusal(SCHEME + "an unknown scheme")),
    ("http://", Refusal(NO_HOST)),
    ("http:///etc/passwd", Refusal(NO_HOST)),
    ("https://user@/a.png", Refusal(NO_HOST)),
    ("https://media.example/a b.png", Refusal(CONTROL, ORIGIN)),
    ("https://media.example/a\r\nX-Injected: 1", Refusal(CONTROL, ORIGIN)),
    ("https://media.example/a\x00.png", Refusal(CONTROL, ORIGIN)),
    ("https://media.example/a\u200b.png", Refusal(CONTROL, ORIGIN)),
    (" https://media.example/a.png", Refusal(CONTROL)),  # a host is shown only as it was written
    ("https://media\t.example/a.png", Refusal(CONTROL)),
    ("https://" + "a" * 64 + ".example/a.png", Refusal(BAD_HOST)),
    ("https://media..example/a.png", Refusal(BAD_HOST)),
    ("https://-media.example/a.png", Refusal(BAD_HOST)),
    ("https://me<dia.example/a.png", Refusal(BAD_HOST)),
    ("http://[v1.x]/a.png", Refusal(BAD_HOST)),
    ("https://media.example:99999/a.png", Refusal(BAD_PORT, ORIGIN)),
    ("https://media.example:http/a.png", Refusal(BAD_PORT, ORIGIN)),
    ("https://media.example/" + "a" * MAX_URL_LENGTH, Refusal(TOO_LONG)),
]


@pytest.mark.parametrize("url", FETCHABLE)
def test_links_that_may_be_fetched(url):
    assert refusal(url) is None


@pytest.mark.parametrize(("url", "expected"), REFUSED)
def test_links_that_can_never_be_fetched_are_refused_with_a_reason(url, expected):
    assert refusal(url) == expected


def test_a_refusal_shows_at_most_scheme_and_host_never_the_query_that_may_sign_it():
    refused = refusal("ftp://user:pw@files.example:21/private/a.png?X-Amz-Signature=SECRET#frag")
    assert refused is not None
    described = refused.describe()
    assert described == "only http and https links are fetched, not ftp: (ftp://files.example)"
    for part in ("SECRET", "private", "user", "pw", ":21", "frag"):
        assert part not in described


class _Recorder:
    """An httpx transport that answers 200 and remembers every request it was asked to make."""

    def __init__(self, answer: dict[str, object] | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self._answer = answer

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self._answer is not None:
            return httpx.Response(200, json=self._answer)
        return httpx.Response(200, content=b"bytes", headers={"content-type": "image/png"})


@pytest.mark.parametrize("url", ["file:///etc/passwd", "http://media.example/a b.png", "http://"])
def test_download_refuses_before_any_request(url):
    recorder = _Recorder()
    with httpx.Client(transport=httpx.MockTransport(recorder)) as http:
        with pytest.raises(MediaRefused):
            download(http, url, media=Media(url=url))
    assert recorder.requests == []


def test_a_link_metas_api_answers_for_a_media_id_is_refused_before_it_is_fetched(settings):
    """Meta's Graph API names the media's real link; a link no one can fetch is never requested."""
    recorder = _Recorder(answer={"url": "file:///etc/passwd", "mime_type": "image/jpeg"})
    with httpx.Client(transport=httpx.MockTransport(recorder)) as http:
        with pytest.raises(MediaRefused, match="not file:"):
            WhatsAppAdapter().fetch_media(Media(provider_id="1234567890"), settings, http)
    [graph_call] = recorder.requests
    assert graph_call.url.path.endswith("/1234567890")
