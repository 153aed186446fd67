"""The request id: given to every request, echoed, stored with what a webhook queued, and back in
context, with the job's id, when a worker runs the job."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry
from rq.serializers import JSONSerializer
from twilio.request_validator import RequestValidator

from bridge.core.context import job_context, sane_request_id
from bridge.core.logs import configure_logging, is_bridge_handler
from bridge.infra import keys
from bridge.infra.queueing import inbound_job_id, inbound_queue, schedule_inbound, status_queue
from bridge.intake.ledger import InboundLedger, RawPayload, inbound_id
from bridge.model.messages import Channel, InboundMessage
from bridge.model.senders import classify_sender
from bridge.replies.reports import StatusLedger
from tests.helpers import RoundTrips, read_stored_webhooks, signed_twilio
from tests.test_unreadable_webhooks import twilio_without
from workers.context import request_id_of

CUSTOMER, BUSINESS = "+14155550123", "+14155550100"
GENERATED = re.compile(r"[0-9a-f]{32}")


@pytest.mark.parametrize("incoming", ["abc-123", "f47ac10b-58cc-4372-a567-0e02b2c3d479", "web.1:req_42"])
def test_a_sane_incoming_request_id_is_kept_and_echoed(incoming, bridge, http):
    response = http.get(f"{bridge.url}/healthz", headers={"X-Request-ID": incoming})
    assert response.headers["X-Request-ID"] == incoming


@pytest.mark.parametrize(
    "incoming",
    ["", "a" * 129, "+353871234567", "two words", '{"level":"ERROR"}', "-starts-with-a-dash", "ünïcode"],
)
def test_an_insane_incoming_request_id_is_replaced_by_a_new_one(incoming, bridge, http):
    response = http.get(f"{bridge.url}/healthz", headers={"X-Request-ID": incoming.encode()})
    assert response.headers["X-Request-ID"] != incoming
    assert GENERATED.fullmatch(response.headers["X-Request-ID"])


def test_every_request_without_one_gets_a_new_id(bridge, http):
    ids = {http.get(f"{bridge.url}/healthz").headers["X-Request-ID"] for _ in range(3)}
    assert len(ids) == 3 and all(GENERATED.fullmatch(value) for value in ids)


def test_an_error_answer_carries_the_id_too(bridge, http):
    response = http.post(f"{bridge.url}/webhooks/twilio", content=b"", headers={"X-Request-ID": "req-403"})
    assert response.status_code == 403
    assert response.headers["X-Request-ID"] == "req-403"


def test_sane_request_ids_are_short_and_of_a_safe_alphabet():
    assert sane_request_id("a" * 128) == "a" * 128
    assert sane_request_id("a" * 129) is None
    assert sane_request_id(None) is None
    assert sane_request_id("line\nbreak") is None


def test_a_webhook_stores_its_request_id_with_the_message_and_its_job_finds_it(
    bridge, settings, http, redis_client
):
    request = signed_twilio(bridge.url, settings, sender=CUSTOMER, recipient=BUSINESS, text="Hi")
    request = dataclasses.replace(request, headers={**request.headers, "X-Request-ID": "req-inbound"})
    assert request.send(http).status_code == 200
    read_stored_webhooks(redis_client, settings)  # the reader claims what the stored webhook carries

    entry_id = inbound_id("twilio", _sid(request.body))
    assert InboundLedger(redis_client, settings).get(entry_id).request_id == "req-inbound"
    job = inbound_queue(redis_client).fetch_job(inbound_job_id(entry_id))
    assert request_id_of(job) == "req-inbound"


def test_a_delivery_report_stores_its_request_id_and_still_reads_as_a_report(
    bridge, settings, http, redis_client
):
    url = f"{bridge.url}/webhooks/twilio/status"
    params = {"MessageSid": "SM1", "MessageStatus": "delivered", "To": CUSTOMER, "From": BUSINESS}
    signature = RequestValidator(settings.secret("twilio_auth_token")).compute_signature(url, params)
    headers = {"X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"}
    response = http.post(url, content=urlencode(params), headers={**headers, "X-Request-ID": "req-status"})
    assert response.status_code == 200
    read_stored_webhooks(redis_client, settings)

    [job] = status_queue(redis_client).get_jobs()
    status_id = job.kwargs["status_id"]
    entry = StatusLedger(redis_client, settings).get(status_id)
    assert entry.request_id == "req-status" == request_id_of(job)
    assert entry.report.provider_message_id == "SM1"


def test_a_message_stored_outside_a_request_has_no_request_id(settings, redis_client):
    message = InboundMessage(
        provider="twilio",
        channel=Channel.SMS,
        provider_message_id="SM-script",
        sender=classify_sender(CUSTOMER, country_code_included=False, default_region="US"),
        business_number=BUSINESS,
        received_at=datetime(2026, 11, 23, tzinfo=UTC),
    )
    ledger = InboundLedger(redis_client, settings)
    ledger.accept(message, RawPayload(content_type="", body="", path="/"))

    entry_id = inbound_id("twilio", "SM-script")
    assert ledger.get(entry_id).request_id is None
    assert request_id_of(inbound_queue(redis_client).fetch_job(inbound_job_id(entry_id))) is None


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    level = root.level
    stream = io.StringIO()
    configure_logging(log_format="json", stream=stream)
    yield stream
    for handler in [h for h in root.handlers if is_bridge_handler(h)]:
        root.removeHandler(handler)
    root.setLevel(level)


def test_every_line_a_job_logs_carries_its_job_id_and_the_webhooks_request_id(
    json_logs, bridge, settings, sandbox, drain, http
):
    request = signed_twilio(bridge.url, settings, sender=CUSTOMER, recipient=BUSINESS, text="Hi")
    request = dataclasses.replace(request, headers={**request.headers, "X-Request-ID": "req-job"})
    assert request.send(http).status_code == 200
    drain()

    job_id = inbound_job_id(inbound_id("twilio", _sid(request.body)))
    records = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    in_job = [r for r in records if r.get("job_id") == job_id]
    assert in_job and all(r["request_id"] == "req-job" for r in in_job)
    assert any(r["message"].startswith("inbound ") for r in in_job)


def _sent_and_read(bridge, settings, http, redis_client, request_id: str, text: str = "Hi") -> str:
    """A customer's SMS sent with `request_id` and read by the reader (its claims made in Lua, as
    a reader job makes them); the id of the ledger entry it became."""
    request = signed_twilio(bridge.url, settings, sender=CUSTOMER, recipient=BUSINESS, text=text)
    request = dataclasses.replace(request, headers={**request.headers, "X-Request-ID": request_id})
    assert request.send(http).status_code == 200
    read_stored_webhooks(redis_client, settings)
    return inbound_id("twilio", _sid(request.body))


def _job(redis_client, job_id: str) -> Job:
    """The job as a worker reads it: from its hash in Redis."""
    return Job.fetch(job_id, connection=redis_client, serializer=JSONSerializer)


def _job_lines(json_logs: io.StringIO, job_id: str) -> list[dict]:
    records = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    return [r for r in records if r.get("job_id") == job_id]


def test_the_job_a_webhook_queued_carries_the_webhooks_request_id_in_its_meta(
    bridge, settings, http, redis_client
):
    # The claim hands RQ's commands to a Lua script instead of sending them (`bridge.infra.claims`):
    # the meta must reach the job's hash that way too.
    entry_id = _sent_and_read(bridge, settings, http, redis_client, "req-meta")
    assert _job(redis_client, inbound_job_id(entry_id)).meta == {"request_id": "req-meta"}


def test_a_jobs_request_id_is_read_from_its_meta_without_a_round_trip(
    bridge, settings, http, redis_client, redis_url
):
    entry_id = _sent_and_read(bridge, settings, http, redis_client, "req-no-trip")
    trips = RoundTrips(redis_url)
    job = _job(trips.client(), inbound_job_id(entry_id))
    fetched = len(trips.sent)

    assert request_id_of(job) == "req-no-trip"
    assert trips.sent[fetched:] == []  # the ledger entry is not read (nor its message parsed)


def test_a_look_again_later_carries_the_request_id_of_the_job_that_scheduled_it(settings, redis_client):
    queue = inbound_queue(redis_client)
    with job_context(job_id=inbound_job_id("vonage-m1"), request_id="req-parts"):
        schedule_inbound(queue, "vonage-m1", delay_seconds=30, settings=settings)

    [later] = ScheduledJobRegistry(queue=queue).get_job_ids()
    assert _job(redis_client, later).meta == {"request_id": "req-parts"}


def test_a_job_queued_without_a_request_id_in_its_meta_finds_it_on_its_record(
    bridge, settings, http, redis_client
):
    entry_id = _sent_and_read(bridge, settings, http, redis_client, "req-older")
    redis_client.hdel(f"rq:job:{inbound_job_id(entry_id)}", "meta")  # as an earlier version queued it

    job = _job(redis_client, inbound_job_id(entry_id))
    assert job.meta == {} and request_id_of(job) == "req-older"


def test_a_request_id_in_meta_that_is_not_sane_is_not_trusted(bridge, settings, http, redis_client):
    entry_id = _sent_and_read(bridge, settings, http, redis_client, "req-stored")
    job = _job(redis_client, inbound_job_id(entry_id))
    job.meta["request_id"] = '{"level":"ERROR"}\n'
    job.save_meta()

    assert request_id_of(_job(redis_client, inbound_job_id(entry_id))) == "req-stored"


def test_every_line_a_job_logs_carries_the_request_id_of_its_meta(
    json_logs, bridge, settings, sandbox, drain, http, redis_client
):
    entry_id = _sent_and_read(bridge, settings, http, redis_client, "req-from-meta")
    redis_client.hdel(keys.inbound(entry_id), "request_id")  # the meta alone can tell it now
    drain()

    in_job = _job_lines(json_logs, inbound_job_id(entry_id))
    assert in_job and all(r["request_id"] == "req-from-meta" for r in in_job)
    assert any(r["message"].startswith("inbound ") for r in in_job)


def test_a_failed_attempt_keeps_the_request_id_beside_its_reason_for_every_retry(
    json_logs, bridge, settings, sandbox, drain, http, redis_client
):
    sandbox.fault(500, times=None)
    entry_id = _sent_and_read(bridge, settings, http, redis_client, "req-retried")
    redis_client.hdel(keys.inbound(entry_id), "request_id")
    drain()

    job = _job(redis_client, inbound_job_id(entry_id))
    attempts = len(settings.retry_delays) + 1
    assert job.meta["request_id"] == "req-retried" and job.meta["attempts"] == attempts
    assert "Intercom answered 500" in job.meta["reason"] and job.meta["final"] is True
    in_job = _job_lines(json_logs, job.id)
    failures = [r for r in in_job if r["message"].startswith(f"job {job.id} failed")]
    assert len(failures) == attempts and all(r["request_id"] == "req-retried" for r in in_job)


def test_the_reader_carries_no_request_id_so_an_unreadable_webhook_keeps_its_own(
    json_logs, bridge, settings, sandbox, drain, http, redis_client
):
    # One reader reads the webhooks of many requests: were it queued with the first one's id,
    # the job it queues for another's unreadable webhook would carry that id too.
    first = signed_twilio(bridge.url, settings, sender=CUSTOMER, recipient=BUSINESS, text="Hi")
    first = dataclasses.replace(first, headers={**first.headers, "X-Request-ID": "req-first"})
    unreadable = twilio_without(
        settings, signed_twilio(bridge.url, settings, sender=CUSTOMER, recipient=BUSINESS, text="?"), "To"
    )
    unreadable = dataclasses.replace(unreadable, headers={**unreadable.headers, "X-Request-ID": "req-second"})
    assert first.send(http).status_code == 200 and unreadable.send(http).status_code == 200
    [reader_id] = inbound_queue(redis_client).get_job_ids()
    assert "request_id" not in _job(redis_client, reader_id).meta
    drain()

    [webhook_job] = FailedJobRegistry(queue=inbound_queue(redis_client)).get_job_ids()
    assert request_id_of(_job(redis_client, webhook_job)) == "req-second"
    in_job = _job_lines(json_logs, webhook_job)
    assert in_job and all(r["request_id"] == "req-second" for r in in_job)


def _sid(body: bytes) -> str:
    from urllib.parse import parse_qs

    return parse_qs(body.decode())["MessageSid"][0]
