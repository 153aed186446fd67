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
from twilio.request_validator import RequestValidator

from bridge.core.context import sane_request_id
from bridge.core.logs import configure_logging, is_bridge_handler
from bridge.infra.queueing import inbound_job_id, inbound_queue, status_queue
from bridge.intake.ledger import InboundLedger, RawPayload, inbound_id
from bridge.model.messages import Channel, InboundMessage
from bridge.model.senders import classify_sender
from bridge.replies.reports import StatusLedger
from tests.helpers import read_stored_webhooks, signed_twilio
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


def _sid(body: bytes) -> str:
    from urllib.parse import parse_qs

    return parse_qs(body.decode())["MessageSid"][0]
