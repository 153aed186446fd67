"""Provider media reach Intercom as attachments the bridge re-serves from its own URLs."""

from __future__ import annotations

import pytest
from rq import SimpleWorker
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry
from rq.serializers import JSONSerializer

from bridge.ledger import inbound_id
from bridge.media import MediaStore
from bridge.media_urls import MAX_URL_LENGTH
from bridge.providers.base import FetchedMedia
from bridge.queueing import QUEUES, inbound_job_id, inbound_queue
from bridge.settings import get_settings, reset_settings_cache
from bridge.standins import StoredMedia
from tests.helpers import conversation_bodies, signed_twilio

CUSTOMER, BUSINESS = "+14155550123", "+14155550100"
PNG = b"\x89PNG\r\n\x1a\n" + b"pretend image bytes" * 10


@pytest.fixture
def public_bridge(bridge_env, monkeypatch, standin, redis_client):
    """A bridge with a public URL (so it proxies media) and Twilio's API at the stand-in."""
    from bridge.app import create_app
    from bridge.serving import BackgroundServer, free_port

    port = free_port()
    monkeypatch.setenv("BRIDGE_PUBLIC_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("TWILIO_API_URL", standin.url)
    reset_settings_cache()
    with BackgroundServer(create_app(get_settings()), port=port) as server:
        yield server


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


def run_one_job(redis_client) -> None:
    """Run exactly one job, so a test sees what its first attempt did (retries run at once in
    tests: BRIDGE_RETRY_DELAYS=0,0)."""
    worker = SimpleWorker(list(QUEUES), connection=redis_client, serializer=JSONSerializer)
    worker.work(burst=True, max_jobs=1)


def test_twilio_media_behind_credentials_reach_intercom_from_the_bridge(
    public_bridge, standin, sandbox, drain, http
):
    standin.state.media["ME1"] = StoredMedia(PNG, "image/png")
    send_mms(public_bridge, [twilio_media_url(standin, "ME1")], http)
    drain()

    [conversation] = sandbox.conversations()
    [attachment] = conversation["source"]["attachments"]
    assert attachment["url"].startswith(f"{public_bridge.url}/media/")
    served = http.get(attachment["url"])
    assert served.status_code == 200
    assert served.content == PNG
    assert served.headers["content-type"] == "image/png"
    fetch = [r for r in standin.state.requests if r["path"].endswith("/Media/ME1")]
    assert fetch and fetch[0]["headers"]["authorization"].startswith("Basic ")


def test_credentials_are_never_sent_to_a_host_that_is_not_the_providers(
    public_bridge, standin, sandbox, drain, http
):
    from bridge.serving import BackgroundServer
    from bridge.standins import StandInState, create_standin_app

    elsewhere_state = StandInState(require_auth=False)
    elsewhere_state.media["X1"] = StoredMedia(PNG, "image/png")
    with BackgroundServer(create_standin_app(elsewhere_state)) as elsewhere:
        send_mms(public_bridge, [f"{elsewhere.url}/media/X1"], http)
        drain()
    [request] = elsewhere_state.requests
    assert "authorization" not in request["headers"]
    assert len(sandbox.conversations()[0]["source"]["attachments"]) == 1


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
    assert len(conversation["source"]["attachments"]) == 1


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


@pytest.mark.parametrize(("link", "reason"), NEVER_FETCHABLE)
def test_a_link_that_can_never_be_fetched_is_withheld_and_the_text_delivered_on_the_first_attempt(
    public_bridge, standin, sandbox, http, redis_client, link, reason
):
    standin.state.media["X1"] = StoredMedia(PNG, "image/png")
    send_mms(public_bridge, [link.format(standin=standin.url)], http, text="see attached", message_id="MM1")
    run_one_job(redis_client)

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


def test_without_a_public_url_a_link_that_can_never_be_fetched_is_not_handed_to_intercom(
    bridge, settings, standin, sandbox, drain, http
):
    url = twilio_media_url(standin, "ME3")
    send_mms(bridge, ["file:///etc/passwd", url], http, text="see attached")
    drain()

    [conversation] = sandbox.conversations()
    assert [a["url"] for a in conversation["source"]["attachments"]] == [url]
    assert conversation_bodies(conversation) == [
        "see attached\n(an attachment was withheld, not fetched: only http and https links are fetched, "
        "not file:; image/jpeg)"
    ]


def test_without_a_public_url_media_urls_pass_through_unchanged(
    bridge, settings, standin, sandbox, drain, http
):
    url = twilio_media_url(standin, "ME3")
    send_mms(bridge, [url], http)
    drain()
    assert [a["url"] for a in sandbox.conversations()[0]["source"]["attachments"]] == [url]
    assert standin.state.requests == []  # nothing fetched


# --- the media store and route ---


def test_stored_media_expire(tmp_path):
    now = [1000.0]
    store = MediaStore(tmp_path, ttl_seconds=60, clock=lambda: now[0])
    token = store.put(FetchedMedia(b"x", "image/png"))
    assert store.get(token) is not None
    now[0] += 61
    assert store.get(token) is None
    assert list(tmp_path.iterdir()) == []


def test_tokens_are_unguessable_and_never_paths(tmp_path):
    store = MediaStore(tmp_path, ttl_seconds=60)
    tokens = {store.put(FetchedMedia(b"x", "image/png")) for _ in range(20)}
    assert len(tokens) == 20 and all(len(token) == 43 for token in tokens)
    assert store.get("../../etc/passwd") is None


def test_purge_removes_only_expired_media(tmp_path):
    now = [1000.0]
    store = MediaStore(tmp_path, ttl_seconds=60, clock=lambda: now[0])
    old = store.put(FetchedMedia(b"old", "image/png"))
    now[0] += 30
    fresh = store.put(FetchedMedia(b"new", "image/png"))
    now[0] += 31
    assert store.purge_expired() == 1
    assert store.get(old) is None and store.get(fresh) is not None


def test_the_route_serves_html_as_a_download_never_inline(bridge, settings, http):
    from bridge.media import media_store

    token = media_store(settings.data_dir, settings.retention_days).put(
        FetchedMedia(b"<script>", "text/html")
    )
    response = http.get(f"{bridge.url}/media/{token}")
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert http.get(f"{bridge.url}/media/{'A' * 43}").status_code == 404


@pytest.fixture
def whatsapp_bridge(bridge_env, monkeypatch, standin, redis_client):
    """A bridge with Meta configured against the stand-in Graph API, and a public URL."""
    from bridge.app import create_app
    from bridge.serving import BackgroundServer, free_port

    port = free_port()
    monkeypatch.setenv("BRIDGE_PUBLIC_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("WHATSAPP_APP_SECRET", "test-meta-app-secret")
    monkeypatch.setenv("WHATSAPP_ACCESS_TOKEN", "test-meta-token")
    monkeypatch.setenv("WHATSAPP_API_URL", f"{standin.url}/v23.0")
    reset_settings_cache()
    with BackgroundServer(create_app(get_settings()), port=port) as server:
        yield server


def test_a_whatsapp_image_reaches_intercom_as_a_bridge_url_that_returns_its_bytes(
    whatsapp_bridge, standin, sandbox, drain, http
):
    from bridge.simulators import SIMULATORS, SimulatedMessage

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
    [attachment] = conversation["source"]["attachments"]
    assert attachment["url"].startswith(f"{whatsapp_bridge.url}/media/")
    served = http.get(attachment["url"])
    assert served.content == PNG
    graph_calls = [
        r for r in standin.state.requests if r["path"] in ("/v23.0/1234567890", "/lookaside/1234567890")
    ]
    assert len(graph_calls) == 2
    assert all(r["headers"]["authorization"] == "Bearer test-meta-token" for r in graph_calls)
