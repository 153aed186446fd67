"""Provider media reach Intercom as files Intercom holds: fetched only from the provider, capped,
handed over in replies; the few the bridge links instead are served as data."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace
from urllib.parse import parse_qsl, quote, urlencode

import pytest
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry
from twilio.request_validator import RequestValidator

from bridge.conversations.media import MediaStore, media_store
from bridge.core.settings import get_settings, reset_settings_cache
from bridge.dev.simulators.base import SimulatedRequest
from bridge.dev.standins import StoredMedia
from bridge.infra.queueing import inbound_job_id, inbound_queue
from bridge.intake.ledger import inbound_id
from bridge.providers.media.urls import MAX_URL_LENGTH
from bridge.runtime.serving import BackgroundServer
from tests.helpers import conversation_bodies, held_files, read_stored_webhooks, run_one_job, signed_twilio
from tests.intercom_openapi import conformance_problems

CUSTOMER, BUSINESS = "+14155550123", "+14155550100"
PNG = b"\x89PNG\r\n\x1a\n" + b"pretend image bytes" * 10
PDF = b"%PDF-1.7\n" + b"pretend document" * 10
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.domain)</script></svg>'
DATA_ONLY = {"content-security-policy": "default-src 'none'; sandbox", "x-content-type-options": "nosniff"}


def serve_public_bridge(monkeypatch, twilio_api_url: str, **variables: str) -> Iterator[BackgroundServer]:
    """A bridge with a public URL (so it proxies media), Twilio's API at `twilio_api_url`, and
    any other `variables` set."""
    from bridge.app import create_app
    from bridge.runtime.serving import free_port

    port = free_port()
    monkeypatch.setenv("BRIDGE_PUBLIC_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("TWILIO_API_URL", twilio_api_url)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    reset_settings_cache()
    with BackgroundServer(create_app(get_settings()), port=port) as server:
        yield server


@pytest.fixture
def public_bridge(bridge_env, monkeypatch, standin, redis_client):
    """A bridge with a public URL (so it proxies media) and Twilio's API at the stand-in."""
    yield from serve_public_bridge(monkeypatch, standin.url)


def twilio_media_url(standin, media_id: str) -> str:
    return f"{standin.url}/2010-04-01/Accounts/AC1/Messages/MM1/Media/{media_id}"


def send_mms(server, urls, http, text="photo", message_id=None) -> None:
    response = signed_twilio(
        server.url,
        get_settings(),
        sender=CUSTOMER,
        recipient=BUSINESS,
        text=text,
        media=tuple(urls),
        message_id=message_id,
    ).send(http)
    assert response.status_code == 200


def test_twilio_media_behind_credentials_reach_intercom_as_a_file_intercom_holds(
    public_bridge, standin, sandbox, drain, http
):
    """Intercom opens conversations without files: the text opens it, the file is its first reply,
    and the worker keeps no copy once Intercom holds it."""
    standin.state.media["ME1"] = StoredMedia(PNG, "image/png")
    send_mms(public_bridge, [twilio_media_url(standin, "ME1")], http)
    drain()

    [conversation] = sandbox.conversations()
    assert conversation_bodies(conversation) == ["photo", "(1 attachment: attachment-1.png)"]
    assert held_files(conversation, http) == [("attachment-1.png", "image/png", PNG)]
    assert conversation["source"]["attachments"] == []
    fetch = [r for r in standin.state.requests if r["path"].endswith("/Media/ME1")]
    assert fetch and fetch[0]["headers"]["authorization"].startswith("Basic ")
    assert list((get_settings().data_dir / "media").iterdir()) == []
    assert conformance_problems(sandbox.requests()) == []


def test_media_on_a_server_that_is_not_the_providers_are_never_fetched(
    public_bridge, standin, sandbox, drain, http
):
    """Neither with the credentials nor without them: the bridge is not a proxy for any link a
    webhook names."""
    from bridge.dev.standins import StandInState, create_standin_app

    elsewhere_state = StandInState(require_auth=False)
    elsewhere_state.media["X1"] = StoredMedia(PNG, "image/png")
    with BackgroundServer(create_standin_app(elsewhere_state)) as elsewhere:
        send_mms(public_bridge, [f"{elsewhere.url}/media/X1"], http, text="see attached")
        drain()
    assert elsewhere_state.requests == []
    [conversation] = sandbox.conversations()
    assert conversation["source"]["attachments"] == []
    assert conversation_bodies(conversation) == [
        "see attached\n(an attachment was withheld, not fetched: the link points to a loopback address "
        "(http://127.0.0.1); image/jpeg)"
    ]


def test_media_that_is_gone_still_delivers_the_message_with_a_note(
    public_bridge, standin, sandbox, drain, http
):
    send_mms(public_bridge, [twilio_media_url(standin, "MISSING")], http, text="see attached")
    drain()

    [conversation] = sandbox.conversations()
    [body] = conversation_bodies(conversation)
    assert body.startswith("see attached\n(an attachment could not be retrieved from twilio: 404")
    assert conversation["source"]["attachments"] == []


def test_media_failing_for_now_retries_and_is_delivered_when_it_recovers(
    public_bridge, standin, sandbox, drain, http, redis_client
):
    standin.state.media["ME2"] = StoredMedia(PNG, "image/png", status=503)
    send_mms(public_bridge, [twilio_media_url(standin, "ME2")], http)
    run_one_job(redis_client)  # recover after the first attempt
    assert sandbox.conversations() == []
    standin.state.media["ME2"] = StoredMedia(PNG, "image/png")
    drain()
    [conversation] = sandbox.conversations()
    assert held_files(conversation, http) == [("attachment-1.png", "image/png", PNG)]


def test_a_continued_conversation_gets_the_text_and_its_files_in_one_reply(
    public_bridge, standin, sandbox, drain, http
):
    standin.state.media["ME1"] = StoredMedia(PNG, "image/png")
    standin.state.media["ME2"] = StoredMedia(PDF, "application/pdf")
    send_mms(public_bridge, [], http, text="hello")
    drain()
    send_mms(public_bridge, [twilio_media_url(standin, "ME1"), twilio_media_url(standin, "ME2")], http)
    drain()

    [conversation] = sandbox.conversations()
    assert conversation_bodies(conversation) == ["hello", "photo"]
    assert held_files(conversation, http) == [
        ("attachment-1.png", "image/png", PNG),
        ("attachment-2.pdf", "application/pdf", PDF),
    ]
    assert conformance_problems(sandbox.requests()) == []


def test_files_past_one_requests_worth_go_in_further_replies(
    bridge_env, monkeypatch, standin, sandbox, drain, http
):
    for media_id in ("ME1", "ME2", "ME3"):
        standin.state.media[media_id] = StoredMedia(PNG, "image/png")
    limit = str(2 * len(PNG))  # two files a request
    for bridge in serve_public_bridge(monkeypatch, standin.url, BRIDGE_INTERCOM_FILES_MAX_BYTES=limit):
        send_mms(bridge, [twilio_media_url(standin, m) for m in ("ME1", "ME2", "ME3")], http, text="three")
        drain()

    [conversation] = sandbox.conversations()
    assert conversation_bodies(conversation) == [
        "three",
        "(2 attachments: attachment-1.png, attachment-2.png)",
        "(1 attachment: attachment-3.png)",
    ]
    assert [content for _, _, content in held_files(conversation, http)] == [PNG, PNG, PNG]


def test_a_retry_after_the_conversation_was_opened_adds_only_the_files(
    public_bridge, standin, sandbox, drain, http
):
    """The text is in Intercom once the conversation is open: a retry posts what is left, once."""
    standin.state.media["ME1"] = StoredMedia(PNG, "image/png")
    # The first attempt's reply, and every quick retry of its look for that reply in the conversation.
    sandbox.fault(503, times=5, path_prefix="/conversations/")
    send_mms(public_bridge, [twilio_media_url(standin, "ME1")], http, message_id="MM5")
    drain()

    [conversation] = sandbox.conversations()
    assert conversation_bodies(conversation) == ["photo", "(1 attachment: attachment-1.png)"]
    assert held_files(conversation, http) == [("attachment-1.png", "image/png", PNG)]
    calls = [(r["path"], r["status"]) for r in sandbox.requests() if r["path"].startswith("/conversations")]
    reply = f"/conversations/{conversation['id']}/reply"
    # Then the conversation's channel attributes (defined first) and its tag (issue 17).
    labelling = [
        ("/conversations/attributes", 200),
        *[("/conversations/attributes", 200)] * 3,
        (f"/conversations/{conversation['id']}", 200),
        (f"/conversations/{conversation['id']}/tags", 200),
    ]
    # The retry looks for the reply its attempt had posted (it is not there), then posts it.
    looks = [(f"/conversations/{conversation['id']}", 503)] * 4 + [
        (f"/conversations/{conversation['id']}", 200)
    ]
    assert calls == [("/conversations", 200), (reply, 503), *looks, (reply, 200), *labelling]


def test_a_message_recorded_with_links_before_files_were_handed_over_keeps_its_links(
    public_bridge, standin, sandbox, drain, http, redis_client
):
    """A message in flight while the bridge is upgraded: its media were already re-served as links."""
    from bridge.intake.ledger import InboundLedger

    send_mms(public_bridge, [twilio_media_url(standin, "ME1")], http, message_id="MM6")
    read_stored_webhooks(redis_client, get_settings())
    link = f"{public_bridge.url}/media/{'A' * 43}"
    ledger = InboundLedger(redis_client, get_settings())
    ledger.record_attachments(inbound_id("twilio", "MM6"), {"urls": [link], "notes": []})
    drain()

    [conversation] = sandbox.conversations()
    assert [attachment["url"] for attachment in conversation["source"]["attachments"]] == [link]
    assert conversation_bodies(conversation) == ["photo"]
    assert standin.state.requests == []  # not fetched again


def test_an_attachment_larger_than_intercom_takes_is_linked_from_the_bridge_until_it_expires(
    bridge_env, monkeypatch, standin, sandbox, drain, http
):
    standin.state.media["ME1"] = StoredMedia(PNG, "image/png")
    for bridge in serve_public_bridge(monkeypatch, standin.url, BRIDGE_INTERCOM_FILES_MAX_BYTES="100"):
        send_mms(bridge, [twilio_media_url(standin, "ME1")], http, text="big one")
        drain()
        [conversation] = sandbox.conversations()
        [body] = conversation_bodies(conversation)
        note, link = body.removeprefix("big one\n").split("\n")
        until = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 14 * 86400))
        assert note == (
            "(an attachment is larger than Intercom takes as a file (100 bytes); the bridge serves it"
            f" until {until}; attachment-1.png)"
        )
        assert link.startswith(f"{bridge.url}/media/")
        served = http.get(link)
        assert served.status_code == 200 and served.content == PNG
        assert DATA_ONLY.items() <= served.headers.items()
    assert held_files(conversation, http) == []


def test_without_a_public_url_an_attachment_larger_than_intercom_takes_is_withheld_with_a_line(
    bridge_env, providers_at_standin, monkeypatch, sandbox, drain, http
):
    from bridge.app import create_app

    providers_at_standin.state.media["ME1"] = StoredMedia(PNG, "image/png")
    monkeypatch.setenv("BRIDGE_INTERCOM_FILES_MAX_BYTES", "100")
    reset_settings_cache()
    with BackgroundServer(create_app(get_settings())) as bridge:
        send_mms(bridge, [twilio_media_url(providers_at_standin, "ME1")], http, text="big one")
        drain()

    [conversation] = sandbox.conversations()
    assert conversation_bodies(conversation) == [
        "big one\n(an attachment was withheld: it is larger than Intercom takes as a file (100 bytes), and"
        " BRIDGE_PUBLIC_URL is not set to link it; attachment-1.png)"
    ]
    assert list((get_settings().data_dir / "media").iterdir()) == []


def test_files_intercom_refuses_are_linked_and_the_text_still_arrives(
    public_bridge, standin, sandbox, drain, http
):
    standin.state.media["ME1"] = StoredMedia(PNG, "image/png")
    send_mms(public_bridge, [], http, text="hello")
    drain()
    sandbox.configure(attachment_max_bytes=100)
    send_mms(public_bridge, [twilio_media_url(standin, "ME1")], http, text="refused file")
    drain()

    [conversation] = sandbox.conversations()
    [_, body] = conversation_bodies(conversation)
    note, link = body.removeprefix("refused file\n").split("\n")
    assert note.startswith(
        "(an attachment was refused by Intercom (400 parameter_invalid: attachment_files[0] is larger than"
        " 100 bytes); the bridge serves it until "
    )
    assert http.get(link).content == PNG
    assert held_files(conversation, http) == []


# Links no retry can make work; `{standin}` is the stand-in's address, which would answer if asked.
NEVER_FETCHABLE = [
    pytest.param("file:///etc/passwd", "only http and https links are fetched, not file:", id="file"),
    pytest.param(
        "ftp://files.example/photo.png?X-Amz-Signature=SECRET",
        "only http and https links are fetched, not ftp: (ftp://files.example)",
        id="ftp",
    ),
    pytest.param("http://", "the link names no host", id="http-without-host"),
    pytest.param("not a url", "the link is not a URL", id="not-a-url"),
    pytest.param(
        "{standin}/media/my photo",
        "the link contains spaces or control characters (http://127.0.0.1)",
        id="space",
    ),
    pytest.param(
        "{standin}/media/X1\r\nX-Injected: 1",
        "the link contains spaces or control characters (http://127.0.0.1)",
        id="control-characters",
    ),
    pytest.param(
        "{standin}/media/" + "a" * MAX_URL_LENGTH,
        f"the link is longer than {MAX_URL_LENGTH} characters",
        id="overlong",
    ),
]


# Links the bridge could fetch but never does for Twilio: off Twilio's hosts, not HTTPS, or at an
# address inside the bridge's network. The stand-in (TWILIO_API_URL) answers on 127.0.0.1; the
# same server under another name, scheme or spelling is not the configured API URL.
NOT_THE_PROVIDERS = [
    pytest.param(
        "https://media.example.com/photo.jpg",
        "the link is not on twilio's media hosts (https://media.example.com)",
        id="elsewhere",
    ),
    pytest.param(
        "http://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
        "twilio media are fetched over https only (http://api.twilio.com)",
        id="plain-http",
    ),
    pytest.param(
        "{standin_localhost}/media/X1",
        "twilio media are fetched over https only (http://localhost)",
        id="loopback-by-name",
    ),
    pytest.param(
        "{standin_mapped}/media/X1",
        "the link points to a loopback address (http://[::ffff:7f00:1])",
        id="loopback-ipv4-mapped",
    ),
    pytest.param(
        "http://10.0.0.5:8080/internal/status",
        "the link points to a private address (http://10.0.0.5)",
        id="10/8",
    ),
    pytest.param(
        "https://192.168.1.1/admin",
        "the link points to a private address (https://192.168.1.1)",
        id="192.168/16",
    ),
    pytest.param(
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "the link points to the cloud metadata address (http://169.254.169.254)",
        id="metadata",
    ),
    pytest.param(
        "http://[fd00:ec2::254]/latest/meta-data/",
        "the link points to the cloud metadata address (http://[fd00:ec2::254])",
        id="metadata-ipv6",
    ),
]


@pytest.mark.parametrize(("link", "reason"), NEVER_FETCHABLE + NOT_THE_PROVIDERS)
def test_a_link_that_can_never_be_fetched_is_withheld_and_the_text_delivered_on_the_first_attempt(
    public_bridge, standin, sandbox, drain, http, redis_client, link, reason
):
    standin.state.media["X1"] = StoredMedia(PNG, "image/png")
    link = link.format(
        standin=standin.url,
        standin_localhost=standin.url.replace("127.0.0.1", "localhost"),
        standin_mapped=standin.url.replace("127.0.0.1", "[::ffff:127.0.0.1]"),
    )
    send_mms(public_bridge, [link], http, text="see attached", message_id="MM1")
    drain()

    [conversation] = sandbox.conversations()
    assert conversation_bodies(conversation) == [
        f"see attached\n(an attachment was withheld, not fetched: {reason}; image/jpeg)"
    ]
    assert conversation["source"]["attachments"] == []
    assert standin.state.requests == []  # nothing fetched
    job = Job.fetch(inbound_job_id(inbound_id("twilio", "MM1")), connection=redis_client)
    assert job.is_finished and "attempts" not in job.meta  # no attempt ever failed
    queue = inbound_queue(redis_client)
    assert queue.count == 0
    assert ScheduledJobRegistry(queue=queue).get_job_ids() == []
    assert FailedJobRegistry(queue=queue).get_job_ids() == []


def test_without_a_public_url_media_are_handed_to_intercom_as_files_all_the_same(
    providers_at_standin, bridge, sandbox, drain, http
):
    """Files need no public URL: the single-machine default delivers media with no configuration.
    A link that can never be fetched is withheld as ever."""
    providers_at_standin.state.media["ME3"] = StoredMedia(PNG, "image/png")
    url = twilio_media_url(providers_at_standin, "ME3")
    send_mms(bridge, ["file:///etc/passwd", url], http, text="see attached")
    drain()

    [conversation] = sandbox.conversations()
    assert conversation_bodies(conversation) == [
        "see attached\n(an attachment was withheld, not fetched: only http and https links are fetched, "
        "not file:; image/jpeg)",
        "(1 attachment: attachment-2.png)",
    ]
    assert held_files(conversation, http) == [("attachment-2.png", "image/png", PNG)]


# --- the media store and route ---


def test_stored_media_expire(tmp_path):
    now = [1000.0]
    store = MediaStore(tmp_path, ttl_seconds=60, clock=lambda: now[0])
    token = store.put(b"x", "image/png")
    assert store.get(token) is not None
    now[0] += 61
    assert store.get(token) is None
    assert list(tmp_path.iterdir()) == []


def test_tokens_are_unguessable_and_never_paths(tmp_path):
    store = MediaStore(tmp_path, ttl_seconds=60)
    tokens = {store.put(b"x", "image/png") for _ in range(20)}
    assert len(tokens) == 20 and all(len(token) == 43 for token in tokens)
    assert store.get("../../etc/passwd") is None


def test_purge_removes_only_expired_media(tmp_path):
    now = [1000.0]
    store = MediaStore(tmp_path, ttl_seconds=60, clock=lambda: now[0])
    old = store.put(b"old", "image/png")
    now[0] += 30
    fresh = store.put(b"new", "image/png")
    now[0] += 31
    assert store.purge_expired() == 1
    assert store.get(old) is None and store.get(fresh) is not None


def test_the_route_serves_no_file_on_its_way_into_intercom_only_linked_ones(bridge, settings, http):
    store = media_store(settings.data_dir, settings.retention_days)
    token = store.put(PNG, "image/png", linked=False)
    assert http.get(f"{bridge.url}/media/{token}").status_code == 404
    store.link(token)
    assert http.get(f"{bridge.url}/media/{token}").content == PNG


def test_media_stored_before_files_were_handed_over_are_still_served(bridge, settings, http):
    """They were all handed out as links; their description carries no mark."""
    token = media_store(settings.data_dir, settings.retention_days).put(PNG, "image/png")
    meta_path = settings.data_dir / "media" / f"{token}.json"
    meta_path.write_text(
        json.dumps({k: v for k, v in json.loads(meta_path.read_text()).items() if k != "linked"})
    )
    assert http.get(f"{bridge.url}/media/{token}").content == PNG


def test_the_route_serves_html_as_a_download_never_inline(bridge, settings, http):
    token = media_store(settings.data_dir, settings.retention_days).put(b"<script>", "text/html")
    response = http.get(f"{bridge.url}/media/{token}")
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert http.get(f"{bridge.url}/media/{'A' * 43}").status_code == 404


@pytest.mark.parametrize(
    ("stored_as", "served_as", "disposition"),
    [
        ("image/png", "image/png", "inline"),
        ("IMAGE/JPEG; name=a.jpg", "image/jpeg", "inline"),
        ("audio/ogg; codecs=opus", "audio/ogg", "inline"),
        ("application/pdf", "application/pdf", "inline"),
        ("image/svg+xml; charset=utf-8", "image/svg+xml", "attachment"),
        ("image/svg+xml", "image/svg+xml", "attachment"),
        ("text/html", "text/html; charset=utf-8", "attachment"),
        ("application/xhtml+xml", "application/xhtml+xml", "attachment"),
        ("text/xml", "text/xml; charset=utf-8", "attachment"),
        ("application/javascript", "application/javascript", "attachment"),
        ("image/png\r\nX-Injected: 1", "application/octet-stream", "attachment"),
        ("image/png\nSet-Cookie: a=b", "application/octet-stream", "attachment"),
        ("", "application/octet-stream", "attachment"),
        ("png", "application/octet-stream", "attachment"),
    ],
)
def test_media_are_served_as_data_only_raster_images_sound_video_and_pdf_inline(
    bridge, settings, http, stored_as, served_as, disposition
):
    token = media_store(settings.data_dir, settings.retention_days).put(SVG, stored_as, "file")
    response = http.get(f"{bridge.url}/media/{token}")
    assert response.status_code == 200
    assert response.headers["content-type"] == served_as
    assert response.headers["content-disposition"] == f'{disposition}; filename="file"'
    assert "x-injected" not in response.headers and "set-cookie" not in response.headers
    assert DATA_ONLY.items() <= response.headers.items()


def test_a_type_stored_before_types_were_normalized_is_served_normalized(bridge, settings, http):
    store = media_store(settings.data_dir, settings.retention_days)
    token = store.put(SVG, "image/png")
    meta_path = settings.data_dir / "media" / f"{token}.json"
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps(meta | {"content_type": "image/svg+xml\r\nX-Injected: 1"}))

    for _ in range(2):  # every later GET of it still works
        response = http.get(f"{bridge.url}/media/{token}")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/octet-stream"
        assert response.headers["content-disposition"] == "attachment"
        assert "x-injected" not in response.headers


def test_every_media_answer_forbids_sniffing_and_running_anything(bridge, settings, http):
    token = media_store(settings.data_dir, settings.retention_days).put(PNG, "image/png")
    for path in (f"/media/{token}", f"/media/{'A' * 43}", "/media/..%2F..%2Fetc%2Fpasswd"):
        response = http.get(f"{bridge.url}{path}")
        assert response.status_code in (200, 404)
        assert DATA_ONLY.items() <= response.headers.items(), path


def announcing(request: SimulatedRequest, settings, content_type: str) -> SimulatedRequest:
    """`request` (a Twilio MMS) announcing its first attachment as `content_type`, signed again."""
    params = [
        (name, content_type if name == "MediaContentType0" else value)
        for name, value in parse_qsl(request.body.decode(), keep_blank_values=True)
    ]
    signature = RequestValidator(settings.secret("twilio_auth_token")).compute_signature(
        request.url, dict(params)
    )
    headers = {**request.headers, "X-Twilio-Signature": signature}
    return replace(request, body=urlencode(params).encode(), headers=headers)


def test_an_svg_announced_over_bytes_served_as_octet_stream_is_never_shown_inline(
    public_bridge, standin, sandbox, drain, http
):
    standin.state.media["ME7"] = StoredMedia(SVG, "application/octet-stream")
    settings = get_settings()
    request = signed_twilio(
        public_bridge.url,
        settings,
        sender=CUSTOMER,
        recipient=BUSINESS,
        media=(twilio_media_url(standin, "ME7"),),
    )
    assert announcing(request, settings, "image/svg+xml; charset=utf-8").send(http).status_code == 200
    drain()

    [conversation] = sandbox.conversations()
    assert held_files(conversation, http) == [("attachment-1.svg", "image/svg+xml", SVG)]
    [attachment] = conversation["conversation_parts"]["conversation_parts"][0]["attachments"]
    served = http.get(attachment["url"])
    assert served.headers["content-disposition"] == "attachment"
    assert DATA_ONLY.items() <= served.headers.items()


# --- fetched only from the provider, capped ---


@pytest.fixture
def media_host_bridge(bridge_env, monkeypatch, media_host, redis_client):
    """A public bridge whose TWILIO_API_URL is the misbehaving media host (tests/media_hosts.py)."""
    yield from serve_public_bridge(monkeypatch, media_host.url)


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        pytest.param("{standin}/media/X1", "a loopback address (http://127.0.0.1)", id="loopback"),
        pytest.param("http://10.0.0.5/internal", "a private address (http://10.0.0.5)", id="private"),
        pytest.param("http://192.168.0.10/", "a private address (http://192.168.0.10)", id="private-192"),
        pytest.param(
            "http://169.254.169.254/latest/meta-data/",
            "the cloud metadata address (http://169.254.169.254)",
            id="metadata",
        ),
    ],
)
def test_a_redirect_from_the_providers_host_to_an_inner_address_is_never_followed(
    media_host_bridge, media_host, standin, sandbox, drain, http, target, reason
):
    standin.state.media["X1"] = StoredMedia(PNG, "image/png")
    target = target.format(standin=standin.url)
    send_mms(media_host_bridge, [f"{media_host.url}/redirect?to={quote(target, safe='')}"], http, text="hi")
    drain()

    [conversation] = sandbox.conversations()
    assert conversation_bodies(conversation) == [
        f"hi\n(an attachment was withheld, not fetched: redirected: the link points to {reason}; image/jpeg)"
    ]
    assert conversation["source"]["attachments"] == []
    assert [r["path"] for r in media_host.state.requests] == ["/redirect"]
    assert standin.state.requests == []


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/declared?size=4096", id="declared-length"),
        pytest.param("/chunked?size=1048576", id="no-length"),
        pytest.param("/bomb?size=16777216", id="gzip-bomb"),
    ],
)
def test_an_attachment_over_the_cap_is_abandoned_and_the_text_delivered_on_the_first_attempt(
    bridge_env, monkeypatch, media_host, sandbox, drain, http, redis_client, path
):
    for bridge in serve_public_bridge(monkeypatch, media_host.url, BRIDGE_MEDIA_MAX_BYTES="1024"):
        send_mms(bridge, [f"{media_host.url}{path}"], http, text="big one", message_id="MM2")
        drain()

    [conversation] = sandbox.conversations()
    assert conversation_bodies(conversation) == ["big one\n(an attachment was larger than 1 KB; image/jpeg)"]
    assert conversation["source"]["attachments"] == []
    job = Job.fetch(inbound_job_id(inbound_id("twilio", "MM2")), connection=redis_client)
    assert job.is_finished and "attempts" not in job.meta
    leftovers = [p.name for p in (get_settings().data_dir / "media").iterdir()]
    assert leftovers == []  # nothing of it kept, not even the partial file


def test_media_of_a_webhook_whose_signature_failed_are_never_fetched(
    bridge_env, monkeypatch, standin, sandbox, drain, http
):
    """Under BRIDGE_SIGNATURE_MODE=log-only anyone can post a webhook: its text is delivered, its
    links are not the provider's to vouch for."""
    standin.state.media["ME8"] = StoredMedia(PNG, "image/png")
    for bridge in serve_public_bridge(monkeypatch, standin.url, BRIDGE_SIGNATURE_MODE="twilio=log-only"):
        request = signed_twilio(
            bridge.url,
            get_settings(),
            sender=CUSTOMER,
            recipient=BUSINESS,
            text="trust me",
            media=(twilio_media_url(standin, "ME8"),),
        )
        forged = replace(request, headers={**request.headers, "X-Twilio-Signature": "Zm9yZ2Vk"})
        assert forged.send(http).status_code == 200
        drain()

    [conversation] = sandbox.conversations()
    assert conversation_bodies(conversation) == [
        "trust me\n(an attachment was withheld, not fetched: its webhook's signature did not verify "
        "(BRIDGE_SIGNATURE_MODE is log-only); image/jpeg)"
    ]
    assert standin.state.requests == []


@pytest.fixture
def whatsapp_bridge(bridge_env, monkeypatch, standin, redis_client):
    """A bridge with Meta configured against the stand-in Graph API, and a public URL."""
    from bridge.app import create_app
    from bridge.runtime.serving import BackgroundServer, free_port

    port = free_port()
    monkeypatch.setenv("BRIDGE_PUBLIC_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("WHATSAPP_APP_SECRET", "test-meta-app-secret")
    monkeypatch.setenv("WHATSAPP_ACCESS_TOKEN", "test-meta-token")
    monkeypatch.setenv("WHATSAPP_API_URL", f"{standin.url}/v23.0")
    reset_settings_cache()
    with BackgroundServer(create_app(get_settings()), port=port) as server:
        yield server


def test_a_whatsapp_image_reaches_intercom_as_a_file_with_its_bytes(
    whatsapp_bridge, standin, sandbox, drain, http
):
    from bridge.dev.simulators import SIMULATORS, SimulatedMessage

    standin.state.media["1234567890"] = StoredMedia(PNG, "image/jpeg")
    # Meta names media by id; the simulator takes the id from the URL's last path segment.
    message = SimulatedMessage(
        sender="+31612345678",
        recipient="106540352242922",
        text="look",
        media=("https://media.example/1234567890",),
        profile_name="Sanne",
    )
    response = SIMULATORS["whatsapp"](message, whatsapp_bridge.url, get_settings()).send(http)
    assert response.status_code == 200
    drain()

    [conversation] = sandbox.conversations()
    assert conversation["source"]["body"] == "look"
    assert held_files(conversation, http) == [("attachment-1.jpg", "image/jpeg", PNG)]
    graph_calls = [
        r for r in standin.state.requests if r["path"] in ("/v23.0/1234567890", "/lookaside/1234567890")
    ]
    assert len(graph_calls) == 2
    assert all(r["headers"]["authorization"] == "Bearer test-meta-token" for r in graph_calls)
