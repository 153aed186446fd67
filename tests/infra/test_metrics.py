"""GET /metrics: what every process recorded into Redis, read back as Prometheus would.

Real parts: the bridge served by uvicorn, Valkey, the Intercom sandbox, the real jobs. Every
test reads the metrics before and after what it does and checks what moved, and by how much.
"""

from __future__ import annotations

import contextlib

import httpx
import pytest
import redis
from rq import Queue, get_current_job
from rq.job import Job
from rq.serializers import JSONSerializer

from bridge.core import metrics
from bridge.core.errors import IntercomUnavailable, ProviderRejected, ProviderUnavailable
from bridge.core.metrics import Metrics, SendOutcome, WebhookKind, WebhookOutcome
from bridge.core.retrying import RetryPolicy
from bridge.core.settings import Settings
from bridge.infra.metrics import measured_job, redis_metrics
from bridge.infra.queueing import INBOUND_QUEUE, inbound_queue
from bridge.intercom.client import IntercomClient, endpoint_template
from bridge.model.messages import Channel
from bridge.model.outgoing import OutboundMessage
from bridge.ops.metrics_export import render
from bridge.providers.twilio.adapter import TwilioAdapter
from bridge.providers.whatsapp import WhatsAppAdapter
from tests.conftest import TEST_INTERCOM_TOKEN, TEST_TWILIO_TOKEN
from tests.helpers import SEARCHED, Samples, conversation_bodies, signed_twilio
from tests.providers.support import NO_WAIT, answer, graph_error, replies, send_with

CUSTOMER, BUSINESS = "+14155550123", "+14155550100"
INBOUND = {"provider": "twilio", "kind": "inbound"}


def scrape(http: httpx.Client, bridge) -> Samples:
    response = http.get(f"{bridge.url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return Samples(response.text)


def forged(request):
    return request.__class__(request.url, request.body, {**request.headers, "X-Twilio-Signature": "AAAA"})


def unreadable(bridge, http: httpx.Client) -> httpx.Response:
    """Signed, but without a MessageSid: acknowledged, stored for a worker to read again."""
    from twilio.request_validator import RequestValidator

    url = f"{bridge.url}/webhooks/twilio"
    params = {"From": CUSTOMER, "To": BUSINESS, "Body": "hi"}
    signature = RequestValidator(TEST_TWILIO_TOKEN).compute_signature(url, params)
    return http.post(url, data=params, headers={"X-Twilio-Signature": signature})


def test_webhooks_jobs_matches_and_intercom_calls_are_counted(bridge, settings, sandbox, drain, http):
    before = scrape(http, bridge)
    request = signed_twilio(bridge.url, settings, sender=CUSTOMER, recipient=BUSINESS, text="Hello")
    assert request.send(http).status_code == 200
    assert request.send(http).status_code == 200  # the provider's redelivery
    assert forged(request).send(http).status_code == 403
    assert unreadable(bridge, http).status_code == 200
    too_many_fields = "&".join(f"f{i}=" for i in range(2000))
    headers = {"X-Twilio-Signature": "AAAA", "Content-Type": "application/x-www-form-urlencoded"}
    assert (
        http.post(f"{bridge.url}/webhooks/twilio", content=too_many_fields, headers=headers).status_code
        == 400
    )
    drain()
    after = scrape(http, bridge)

    def moved(name: str, **labels: str) -> float:
        return after(name, **labels) - before(name, **labels)

    # Stored as they arrived: the readable message and the unreadable one alike; a worker finds
    # the second unreadable and counts it apart.
    assert moved("bridge_webhooks_total", **INBOUND, outcome="accepted") == 2
    for outcome in ("duplicate", "forged", "malformed"):
        assert moved("bridge_webhooks_total", **INBOUND, outcome=outcome) == 1, outcome
    assert moved("bridge_unreadable_webhooks_total", **INBOUND) == 1
    assert moved("bridge_webhooks_total", **INBOUND, outcome="would_be_forged") == 0
    # One message from a new number: one search, one new lead, one new conversation.
    for method, endpoint in (("POST", "/contacts/search"), ("POST", "/contacts"), ("POST", "/conversations")):
        labels = {"method": method, "endpoint": endpoint}
        assert moved("bridge_intercom_requests_total", **labels, status="200") == 1, endpoint
        assert moved("bridge_intercom_request_duration_seconds_count", **labels) == 1, endpoint
    assert moved("bridge_contact_matches_total", rule="created", variant="false") == 1
    job = {"queue": INBOUND_QUEUE, "outcome": "succeeded"}
    # The reader of the stored webhooks, then the delivery of the one message.
    assert moved("bridge_job_duration_seconds_count", **job) == 2
    assert moved("bridge_job_duration_seconds_bucket", **job, le="+Inf") == 2
    assert moved("bridge_job_duration_seconds_sum", **job) > 0
    latency = {"provider": "twilio", "result": "created_conversation"}
    assert moved("bridge_inbound_delivery_latency_seconds_count", **latency) == 1
    assert conversation_bodies(sandbox.conversations()[0]) == ["Hello"]


def test_the_scrape_carries_no_number_id_or_secret(bridge, settings, sandbox, drain, http):
    signed_twilio(bridge.url, settings, sender=CUSTOMER, recipient=BUSINESS, text="Hello").send(http)
    drain()
    text = scrape(http, bridge).text
    [conversation] = sandbox.conversations()
    [contact] = sandbox.contacts()
    for private in (CUSTOMER.lstrip("+")[-7:], conversation["id"], contact["id"], TEST_TWILIO_TOKEN):
        assert private not in text


def test_queue_depth_and_the_age_of_the_job_next_in_line(
    bridge, settings, sandbox, drain, http, redis_client
):
    for text in ("one", "two"):
        signed_twilio(bridge.url, settings, sender=CUSTOMER, recipient=BUSINESS, text=text).send(http)
    # Two webhooks stored, waiting for the one reader job the first of them queued.
    [reader] = inbound_queue(redis_client).job_ids
    job = Job.fetch(reader, connection=redis_client, serializer=JSONSerializer)
    job.enqueued_at = job.enqueued_at.replace(year=job.enqueued_at.year - 1)
    job.save()

    waiting = scrape(http, bridge)
    assert waiting("bridge_webhooks_pending") == 2
    assert waiting("bridge_queue_jobs", queue=INBOUND_QUEUE, state="queued") == 1
    assert waiting("bridge_queue_oldest_job_age_seconds", queue=INBOUND_QUEUE) > 364 * 86400
    drain()
    drained = scrape(http, bridge)
    assert drained("bridge_webhooks_pending") == 0
    assert drained("bridge_queue_jobs", queue=INBOUND_QUEUE, state="queued") == 0
    assert drained("bridge_queue_oldest_job_age_seconds", queue=INBOUND_QUEUE) == 0


def test_a_job_that_keeps_failing_is_counted_each_time_and_shows_in_the_failed_gauge(
    bridge, settings, sandbox, drain, http
):
    before = scrape(http, bridge)
    sandbox.fault(500, times=None)
    signed_twilio(bridge.url, settings, sender=CUSTOMER, recipient=BUSINESS, text="lost?").send(http)
    drain()
    after = scrape(http, bridge)

    failed = {"queue": INBOUND_QUEUE, "outcome": "failed"}
    attempts = 1 + len(settings.retry_delays)
    assert (
        after("bridge_job_duration_seconds_count", **failed)
        - before("bridge_job_duration_seconds_count", **failed)
        == attempts
    )
    assert after("bridge_queue_jobs", queue=INBOUND_QUEUE, state="failed") == 1
    search = {"method": "POST", "endpoint": "/contacts/search", "status": "500"}
    quick = RetryPolicy().max_attempts
    assert after("bridge_intercom_requests_total", **search) == attempts * quick
    assert after("bridge_api_retry_wait_seconds_total", service="intercom", reason="backoff") > 0


def test_a_429_from_intercom_is_counted_with_the_time_waited(bridge, settings, sandbox, drain, http):
    before = scrape(http, bridge)
    sandbox.fault(429, times=1, reset_in=1)
    signed_twilio(bridge.url, settings, sender=CUSTOMER, recipient=BUSINESS, text="patience").send(http)
    drain()
    after = scrape(http, bridge)

    assert (
        after("bridge_api_rate_limited_total", service="intercom")
        - before("bridge_api_rate_limited_total", service="intercom")
        == 1
    )
    waited = {"service": "intercom", "reason": "rate_limit"}
    assert after("bridge_api_retry_wait_seconds_total", **waited) > before(
        "bridge_api_retry_wait_seconds_total", **waited
    )
    statuses = [r["status"] for r in sandbox.requests()]
    [limited] = [r for r in sandbox.requests() if r["status"] == 429]
    endpoint = {"method": limited["method"], "endpoint": endpoint_template(limited["path"])}
    assert after("bridge_intercom_requests_total", **endpoint, status="429") == statuses.count(429) == 1
    assert conversation_bodies(sandbox.conversations()[0]) == ["patience"]


def test_webhooks_refused_before_a_signature_is_checked_are_counted(bridge, bridge_env, http):
    before = scrape(http, bridge)
    assert http.post(f"{bridge.url}/webhooks/twilio", content=b"x" * (1024 * 1024 + 1)).status_code == 413
    assert http.get(f"{bridge.url}/webhooks/twilio/status").status_code == 405  # Twilio only POSTs
    assert http.post(f"{bridge.url}/webhooks/nosuchprovider", content=b"").status_code == 404
    after = scrape(http, bridge)

    too_large = {**INBOUND, "outcome": "too_large"}
    assert after("bridge_webhooks_total", **too_large) - before("bridge_webhooks_total", **too_large) == 1
    method = {"provider": "twilio", "kind": "status", "outcome": "method_not_allowed"}
    assert after("bridge_webhooks_total", **method) - before("bridge_webhooks_total", **method) == 1
    assert "nosuchprovider" not in after.text


def test_the_web_side_counts_into_redis_every_web_process_reads(bridge, redis_client, http):
    """Two web processes share one count: a second app reading the same Redis sees the first's."""
    from bridge.app import create_app
    from bridge.core.settings import get_settings
    from bridge.runtime.serving import BackgroundServer

    assert http.post(f"{bridge.url}/webhooks/twilio").status_code == 403
    with BackgroundServer(create_app(get_settings())) as other:
        assert scrape(http, other)("bridge_webhooks_total", **INBOUND, outcome="forged") == 1


# --- provider sends (the one door every send goes through) ---

SMS = OutboundMessage(channel=Channel.SMS, to="+14155550100", sender="+14155550199", text="Hello")


def twilio_answer(status: int, body: dict) -> httpx.Response:
    return httpx.Response(status, json=body)


def test_sends_are_counted_by_provider_and_outcome(settings, redis_client):
    adapter = TwilioAdapter()
    with metrics.installed(redis_metrics(redis_client)):
        send_with(adapter, SMS, replies(twilio_answer(201, {"sid": "SM" + "1" * 32})), settings)
        with pytest.raises(ProviderRejected):
            send_with(adapter, SMS, replies(twilio_answer(400, {"code": 21211, "message": "bad"})), settings)
        with pytest.raises(ProviderUnavailable):
            send_with(adapter, SMS, replies(twilio_answer(503, {"code": 20503, "message": "down"})), settings)
    samples = Samples(render(redis_client).decode())
    for outcome in ("sent", "rejected", "failed"):
        labels = {"provider": "twilio", "outcome": outcome, "template": "false"}
        assert samples("bridge_outbound_messages_total", **labels) == 1, outcome


def test_read_receipts_are_counted_by_provider_and_outcome(redis_client):
    meta = Settings(_env_file=None, whatsapp_access_token="token")
    answers = [
        answer(200, {"success": True}),
        graph_error(400, 131009, "(#131009) Parameter value is not valid"),
    ]
    with metrics.installed(redis_metrics(redis_client)):
        for response in answers:
            with (
                httpx.Client(transport=httpx.MockTransport(replies(response))) as http,
                contextlib.suppress(ProviderRejected),
            ):
                WhatsAppAdapter().mark_read("wamid.HBgLMTY1", "106540352242922", meta, http, NO_WAIT)
    samples = Samples(render(redis_client).decode())
    for outcome in ("marked", "rejected"):
        assert samples("bridge_read_receipts_total", provider="whatsapp", outcome=outcome) == 1, outcome


# --- the recorder itself ---


def test_an_intercom_call_that_never_got_an_answer_is_counted_as_a_transport_error(settings, redis_client):
    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    transport = httpx.MockTransport(unreachable)
    policy = RetryPolicy(max_attempts=2, sleep=lambda seconds: None)
    with (
        metrics.installed(redis_metrics(redis_client)),
        IntercomClient.from_settings(settings, transport=transport, policy=policy) as intercom,
        pytest.raises(IntercomUnavailable),
    ):
        intercom.get_contact("6623abcdef0123456789abcd")
    samples = Samples(render(redis_client).decode())
    labels = {"method": "GET", "endpoint": "/contacts/{id}", "status": "transport_error"}
    assert samples("bridge_intercom_requests_total", **labels) == 2


def test_recording_never_breaks_the_work_it_measures():
    down = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    recorder = redis_metrics(down)
    recorder.webhook("twilio", WebhookKind.INBOUND, WebhookOutcome.ACCEPTED)
    recorder.outbound_message("twilio", SendOutcome.SENT, template=False)
    recorder.delivered("twilio", "created_conversation", received_at=0.0, now=1.0)


def test_without_a_recorder_nothing_is_written(redis_client):
    Metrics().webhook("twilio", WebhookKind.INBOUND, WebhookOutcome.ACCEPTED)
    metrics.current().webhook("twilio", WebhookKind.INBOUND, WebhookOutcome.ACCEPTED)
    assert redis_client.keys("bridge:metrics:*") == []


@pytest.mark.parametrize(
    ("path", "template"),
    [
        ("/me", "/me"),
        ("/contacts", "/contacts"),
        ("/contacts/search", "/contacts/search"),
        ("/contacts/merge", "/contacts/merge"),
        ("/contacts/6623abcdef0123456789abcd", "/contacts/{id}"),
        ("/conversations/100000007/reply", "/conversations/{id}/reply"),
        ("/data_attributes", "/data_attributes"),
    ],
)
def test_intercom_endpoints_are_labelled_by_template_never_by_id(path, template):
    assert endpoint_template(path) == template


def test_every_metric_is_exposed_even_before_anything_happened(redis_client):
    samples = Samples(render(redis_client).decode())
    assert {"bridge_queue_jobs", "bridge_queue_oldest_job_age_seconds", "bridge_workers"} <= samples.names()
    assert samples("bridge_workers") == 0
    assert TEST_INTERCOM_TOKEN not in samples.text


@measured_job
def searches_twice(fail: bool) -> float:
    """A job that records two Intercom calls; what Redis holds of them while the job still runs."""
    for _ in range(2):
        metrics.current().intercom_request("POST", "/contacts/search", "200", 0.2)
    job = get_current_job()
    assert job is not None
    stored = Samples(render(job.connection).decode())("bridge_intercom_requests_total", **SEARCHED)
    if fail:
        raise RuntimeError("the job's own bug")
    return stored


@pytest.mark.parametrize("fail", [False, True])
def test_a_jobs_counts_are_stored_together_when_it_ends_even_when_it_fails(redis_client, drain, fail):
    queue = Queue(INBOUND_QUEUE, connection=redis_client, serializer=JSONSerializer)
    job = queue.enqueue(f"{__name__}.searches_twice", fail)
    drain()

    after = Samples(render(redis_client).decode())
    assert after("bridge_intercom_requests_total", **SEARCHED) == 2
    outcome = "failed" if fail else "succeeded"
    assert after("bridge_job_duration_seconds_count", queue=INBOUND_QUEUE, outcome=outcome) == 1
    timed = {"method": "POST", "endpoint": "/contacts/search"}
    assert after("bridge_intercom_request_duration_seconds_sum", **timed) == pytest.approx(0.4)
    if not fail:
        # Held until the job ended: one round trip for all of them, not one per call.
        assert job.latest_result().return_value == 0  # type: ignore[union-attr]
