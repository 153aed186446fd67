"""Which media links the bridge may fetch: refused before any request, with a reason an agent reads."""

from __future__ import annotations

from ipaddress import ip_address

import httpx
import pytest

from bridge.core.errors import MediaRefused
from bridge.model.messages import Media
from bridge.providers.media.fetch import download
from bridge.providers.media.urls import MAX_URL_LENGTH, MediaSources, Refusal, address_refusal, refusal
from bridge.providers.twilio.adapter import TwilioAdapter
from bridge.providers.whatsapp.adapter import WhatsAppAdapter
from tests.media_hosts import memory_sink

FETCHABLE = [
    "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
    "http://127.0.0.1:8080/media/X1",  # whether any client could: where it points is asked below
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


# --- links a provider's media may come from ---

API_URL = "http://127.0.0.1:8080"  # TWILIO_API_URL: a stand-in, trusted as the operator set it
TWILIO = MediaSources(provider="twilio", hosts=TwilioAdapter.media_hosts, api_urls=(API_URL,))
NOT_ON = "the link is not on twilio's media hosts"
HTTPS_ONLY = "twilio media are fetched over https only"
POINTS = "the link points to "

FOR_TWILIO = [
    pytest.param("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1", None, id="api"),
    pytest.param("https://API.Twilio.COM./a", None, id="case-and-final-dot"),
    pytest.param(f"{API_URL}/2010-04-01/Accounts/AC1/Media/ME1", None, id="configured-api-url"),
    pytest.param(
        "https://mms.twiliocdn.com/AC1/a", Refusal(NOT_ON, "https://mms.twiliocdn.com"), id="cdn-named"
    ),
    pytest.param(
        "https://media.example.com/a.png", Refusal(NOT_ON, "https://media.example.com"), id="elsewhere"
    ),
    pytest.param(
        "https://twilio.com.evil.example/a", Refusal(NOT_ON, "https://twilio.com.evil.example"), id="suffix"
    ),
    pytest.param("https://eviltwilio.com/a", Refusal(NOT_ON, "https://eviltwilio.com"), id="lookalike"),
    pytest.param("https://8.8.8.8/a", Refusal(NOT_ON, "https://8.8.8.8"), id="public-address"),
    pytest.param("http://api.twilio.com/a", Refusal(HTTPS_ONLY, "http://api.twilio.com"), id="plain-http"),
    pytest.param("http://localhost:8080/a", Refusal(HTTPS_ONLY, "http://localhost"), id="localhost"),
    pytest.param(
        "http://127.0.0.1:8081/a", Refusal(POINTS + "a loopback address", "http://127.0.0.1"), id="port"
    ),
    pytest.param(
        "https://127.0.0.1:8080/a", Refusal(POINTS + "a loopback address", "https://127.0.0.1"), id="scheme"
    ),
    pytest.param(
        "http://[::1]:8080/a", Refusal(POINTS + "a loopback address", "http://[::1]"), id="loopback-v6"
    ),
    pytest.param(
        "http://[::ffff:127.0.0.1]:8080/a",
        Refusal(POINTS + "a loopback address", "http://[::ffff:7f00:1]"),
        id="ipv4-mapped",
    ),
    pytest.param("http://10.0.0.5/a", Refusal(POINTS + "a private address", "http://10.0.0.5"), id="10/8"),
    pytest.param(
        "https://192.168.1.1/a", Refusal(POINTS + "a private address", "https://192.168.1.1"), id="192"
    ),
    pytest.param("http://172.20.0.1/a", Refusal(POINTS + "a private address", "http://172.20.0.1"), id="172"),
    pytest.param(
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        Refusal(POINTS + "the cloud metadata address", "http://169.254.169.254"),
        id="metadata",
    ),
    pytest.param(
        "http://[fd00:ec2::254]/latest/meta-data/",
        Refusal(POINTS + "the cloud metadata address", "http://[fd00:ec2::254]"),
        id="metadata-v6",
    ),
    pytest.param(
        "http://0.0.0.0:8080/a", Refusal(POINTS + "an unspecified address", "http://0.0.0.0"), id="any"
    ),
]


@pytest.mark.parametrize(("url", "expected"), FOR_TWILIO)
def test_only_the_providers_hosts_over_https_or_its_configured_api_url_are_fetched(url, expected):
    assert refusal(url, TWILIO) == expected


def test_the_hosts_a_provider_redirects_to_are_fetched_only_after_a_redirect():
    cdn = "https://mms.twiliocdn.com/AC1/a"
    assert refusal(cdn, TWILIO, redirected=True) is None
    assert refusal(cdn, TWILIO) == Refusal(NOT_ON, "https://mms.twiliocdn.com")
    assert refusal("http://mms.twiliocdn.com/a", TWILIO, redirected=True) == Refusal(
        HTTPS_ONLY, "http://mms.twiliocdn.com"
    )


def test_a_link_no_client_could_fetch_is_refused_as_such_for_a_provider_too():
    assert refusal("file:///etc/passwd", TWILIO) == Refusal(SCHEME + "file:")


ADDRESSES = [
    ("127.0.0.1", "a loopback address"),
    ("127.255.0.9", "a loopback address"),
    ("::1", "a loopback address"),
    ("10.1.2.3", "a private address"),
    ("172.31.255.255", "a private address"),
    ("192.168.0.1", "a private address"),
    ("fd12:3456::1", "a private address"),
    ("fec0::1", "a private address"),
    ("169.254.169.254", "the cloud metadata address"),
    ("fd00:ec2::254", "the cloud metadata address"),
    ("169.254.1.1", "a link-local address"),
    ("fe80::1", "a link-local address"),
    ("0.0.0.0", "an unspecified address"),
    ("::", "an unspecified address"),
    ("100.64.0.1", "a shared (carrier-grade NAT) address"),
    ("224.0.0.1", "a multicast address"),
    ("ff02::1", "a multicast address"),
    ("192.0.0.8", "a reserved address"),
    ("240.0.0.1", "a reserved address"),
    ("255.255.255.255", "a reserved address"),
    ("198.18.0.1", "an address that is not public"),  # benchmarking
    ("2001:db8::1", "an address that is not public"),  # documentation
    ("::ffff:10.0.0.1", "a private address"),  # IPv4-mapped
    ("::ffff:169.254.169.254", "the cloud metadata address"),
    ("2002:a00:1::", "a private address"),  # 6to4 of 10.0.0.1
    ("64:ff9b::7f00:1", "a loopback address"),  # NAT64 of 127.0.0.1
    ("8.8.8.8", None),
    ("2606:4700::1111", None),
    ("::ffff:8.8.8.8", None),
    ("64:ff9b::808:808", None),  # NAT64 of 8.8.8.8: how an IPv6-only host reaches the world
]


@pytest.mark.parametrize(("address", "expected"), ADDRESSES)
def test_addresses_media_are_never_fetched_from(address, expected):
    assert address_refusal(ip_address(address)) == expected


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


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "http://media.example/a b.png",
        "http://",
        "http://127.0.0.1:8081/a",
        "http://169.254.169.254/latest/meta-data/",
        "https://media.example.com/a.png",
    ],
)
def test_download_refuses_before_any_request(url):
    recorder = _Recorder()
    with httpx.Client(transport=httpx.MockTransport(recorder)) as http:
        with pytest.raises(MediaRefused):
            download(http, url, media=Media(url=url), sources=TWILIO, into=memory_sink())
    assert recorder.requests == []


@pytest.mark.parametrize(
    ("link", "reason"),
    [
        ("file:///etc/passwd", "not file:"),
        ("https://media.example.com/a.jpg", "not on whatsapp's media hosts"),
        ("http://169.254.169.254/latest/meta-data/", "the cloud metadata address"),
    ],
)
def test_a_link_metas_api_answers_for_a_media_id_is_refused_before_it_is_fetched(settings, link, reason):
    """Meta's Graph API names the media's real link; a link Meta does not keep media on is never
    requested, and never sent the access token."""
    recorder = _Recorder(answer={"url": link, "mime_type": "image/jpeg"})
    with httpx.Client(transport=httpx.MockTransport(recorder)) as http:
        with pytest.raises(MediaRefused, match=reason):
            WhatsAppAdapter().fetch_media(Media(provider_id="1234567890"), settings, http, into=memory_sink())
    [graph_call] = recorder.requests
    assert graph_call.url.path.endswith("/1234567890")
