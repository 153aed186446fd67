"""The delivery-report ledger: a report stored once, read back with the request that brought it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import redis

from bridge.core.context import job_context
from bridge.core.settings import Settings
from bridge.infra import keys
from bridge.model.messages import DeliveryState, DeliveryStatus
from bridge.replies.reports import StatusLedger, status_id

REPORT = DeliveryStatus(
    provider="twilio",
    provider_message_id="SM1",
    state=DeliveryState.FAILED,
    occurred_at=datetime(2026, 11, 23, 10, tzinfo=UTC),
    recipient="+14155550123",
    error_code="30007",
    error_message="Carrier violation",
)
# As the previous version stored it under a webhook's request, and outside one (a script, a test).
WITH_REQUEST = (
    '{"provider": "twilio", "provider_message_id": "SM1", "state": "failed", "occurred_at": '
    '"2026-11-23T10:00:00Z", "recipient": "+14155550123", "error_code": "30007", "error_message": '
    '"Carrier violation", "request_id": "req-old"}'
)
WITHOUT_REQUEST = (
    '{"provider":"twilio","provider_message_id":"SM1","state":"failed","occurred_at":"2026-11-23T10:00:00Z",'
    '"recipient":"+14155550123","error_code":"30007","error_message":"Carrier violation"}'
)


@pytest.fixture
def ledger(redis_client: redis.Redis) -> StatusLedger:
    return StatusLedger(redis_client, Settings(_env_file=None, retry_delays="0"))


@pytest.mark.parametrize(("stored", "request_id"), [(WITH_REQUEST, "req-old"), (WITHOUT_REQUEST, None)])
def test_a_report_the_previous_version_stored_reads_as_a_typed_entry(
    ledger, redis_client, stored, request_id
):
    redis_client.set(keys.status(status_id(REPORT)), stored)

    entry = ledger.get(status_id(REPORT))
    assert (entry.status_id, entry.report, entry.request_id) == (status_id(REPORT), REPORT, request_id)


def test_a_report_is_stored_as_the_previous_version_stored_it(ledger, redis_client):
    with job_context(job_id="rd-1", request_id="req-old"):
        ledger.accept(REPORT)
    assert redis_client.get(keys.status(status_id(REPORT))).decode() == WITH_REQUEST

    redis_client.flushdb()
    ledger.accept(REPORT)
    assert redis_client.get(keys.status(status_id(REPORT))).decode() == WITHOUT_REQUEST


def test_an_expired_report_is_none(ledger):
    assert ledger.get(status_id(REPORT)) is None
