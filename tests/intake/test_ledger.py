"""The inbound ledger: stored and queued exactly once, or not at all."""

from __future__ import annotations

import concurrent.futures
from datetime import UTC, datetime

import pytest
import redis

from bridge.core.errors import StorageUnavailable
from bridge.core.settings import Settings
from bridge.infra import keys
from bridge.infra.claims import Outcome
from bridge.infra.connection import redis_client
from bridge.infra.queueing import inbound_job_id, inbound_queue
from bridge.intake.ledger import InboundLedger, RawPayload, Status, inbound_id
from bridge.intercom.models import ContactRef
from bridge.model.messages import Channel, InboundMessage
from bridge.model.senders import classify_sender

RAW = RawPayload(content_type="application/x-www-form-urlencoded", body="From=...", path="/webhooks/twilio")


def message(sid: str = "SM1", sender: str = "+14155550123") -> InboundMessage:
    return InboundMessage(
        provider="twilio",
        channel=Channel.SMS,
        provider_message_id=sid,
        sender=classify_sender(sender, country_code_included=False, default_region="US"),
        business_number="+14155550100",
        text="hello",
        received_at=datetime(2026, 11, 23, tzinfo=UTC),
    )


@pytest.fixture
def ledger(redis_client: redis.Redis) -> InboundLedger:
    return InboundLedger(redis_client, Settings(_env_file=None, retry_delays="0"))


def test_an_accepted_message_is_stored_laned_and_queued(ledger, redis_client):
    assert ledger.accept(message(), RAW) is Outcome.ACCEPTED
    entry_id = inbound_id("twilio", "SM1")
    entry = ledger.get(entry_id)
    assert entry.status is Status.QUEUED
    assert entry.message == message()
    assert entry.seq == 1
    assert redis_client.lrange(keys.mailbox("phone:+14155550123"), 0, -1) == [entry_id.encode()]
    assert inbound_queue(redis_client).job_ids == [inbound_job_id(entry_id)]
    assert 0 < redis_client.ttl(keys.inbound(entry_id)) <= 14 * 86400


def test_only_a_message_that_finds_its_senders_lane_empty_gets_a_job(ledger, redis_client):
    # The job of the first in line delivers those behind it (`bridge.conversations.lanes`).
    for sid in ("SM1", "SM2"):
        assert ledger.accept(message(sid), RAW) is Outcome.ACCEPTED
    assert ledger.accept(message("SM3", sender="+14155550124"), RAW) is Outcome.ACCEPTED
    first, second, other = (inbound_id("twilio", sid) for sid in ("SM1", "SM2", "SM3"))
    assert inbound_queue(redis_client).job_ids == [inbound_job_id(first), inbound_job_id(other)]
    assert ledger.get(second).status is Status.QUEUED
    lane = keys.mailbox("phone:+14155550123")
    assert redis_client.lrange(lane, 0, -1) == [first.encode(), second.encode()]
    # Once the lane is empty again, the next message is first in line.
    redis_client.delete(lane)
    ledger.accept(message("SM4"), RAW)
    assert inbound_queue(redis_client).job_ids[-1] == inbound_job_id(inbound_id("twilio", "SM4"))


def test_a_repeat_is_a_duplicate_and_creates_nothing(ledger, redis_client):
    ledger.accept(message(), RAW)
    assert ledger.accept(message(), RAW) is Outcome.DUPLICATE
    assert len(inbound_queue(redis_client).job_ids) == 1
    assert redis_client.llen(keys.mailbox("phone:+14155550123")) == 1


def test_concurrent_repeats_store_one_entry(ledger, redis_client):
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(lambda _: ledger.accept(message(), RAW), range(16)))
    assert outcomes.count(Outcome.ACCEPTED) == 1
    assert len(inbound_queue(redis_client).job_ids) == 1


def test_arrivals_are_numbered_in_order(ledger):
    for n in range(3):
        ledger.accept(message(sid=f"SM{n}"), RAW)
    assert [ledger.get(inbound_id("twilio", f"SM{n}")).seq for n in range(3)] == [1, 2, 3]


def test_ids_are_safe_job_ids_even_for_whatsapp_ids():
    entry_id = inbound_id("whatsapp", "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERUQ3RjQ4QkVEQUU1QjZFQQA=")
    assert entry_id.replace("-", "").replace("_", "").isalnum()
    assert inbound_id("twilio", "SM1") != inbound_id("vonage", "SM1")


def test_recovery_points_never_resurrect_an_expired_entry(ledger, redis_client):
    ledger.mark_delivered("twilio-gone", "123", at=0.0)
    assert not redis_client.exists(keys.inbound("twilio-gone"))


def test_redis_unreachable_is_storage_unavailable():
    unreachable = redis_client("redis://127.0.0.1:1/0", timeout=0.2)
    ledger = InboundLedger(unreachable, Settings(_env_file=None))
    with pytest.raises(StorageUnavailable):
        ledger.accept(message(), RAW)


def test_an_entry_the_previous_version_stored_and_updated_reads_as_a_typed_entry(ledger, redis_client):
    # As the previous version wrote it: its claim, then its recovery points and a failed attempt.
    entry_id = inbound_id("twilio", "SM1")
    redis_client.hset(
        keys.inbound(entry_id),
        mapping={
            "seq": "7",
            "provider": "twilio",
            "status": "retrying",
            "received_at": "1795392000.250000",
            "message": message().model_dump_json(),
            "raw": '{"content_type": "application/x-www-form-urlencoded", "body": "From=...", '
            '"path": "/webhooks/twilio", "query": "", "method": "POST"}',
            "request_id": "req-old",
            "contact_id": "6623abc",
            "contact_role": "user",
            "match": '{"contact_id": "6623abc", "role": "user", "rule": "identity_map", "variant": null, '
            '"candidates": []}',
            "attachments": '{"urls": ["https://media.example/1"], "notes": []}',
            "attempts": "1",
            "error": "IntercomServerError: Intercom answered 500",
            "failed_at": "1795392060.000000",
        },
    )

    entry = ledger.get(entry_id)
    assert (entry.inbound_id, entry.message, entry.seq) == (entry_id, message(), 7)
    assert entry.status is Status.RETRYING
    assert (entry.stored_at, entry.request_id) == (1795392000.25, "req-old")
    assert entry.raw == RAW
    assert entry.contact == ContactRef("6623abc", "user")
    assert entry.match["rule"] == "identity_map"
    assert entry.attachments == {"urls": ["https://media.example/1"], "notes": []}
    assert entry.error == "IntercomServerError: Intercom answered 500"
    assert entry.conversation_id is None


def test_recovery_points_are_stored_as_the_previous_version_stored_them(ledger, redis_client):
    ledger.accept(message(), RAW)
    entry_id = inbound_id("twilio", "SM1")
    ledger.record_contact(entry_id, ContactRef("6623abc", "lead"), {"rule": "search"})
    ledger.record_attachments(entry_id, {"urls": [], "notes": ["a photo that could not be fetched"]})
    ledger.mark_delivered(entry_id, "215", at=1795392000.5)

    stored = {k.decode(): v.decode() for k, v in redis_client.hgetall(keys.inbound(entry_id)).items()}
    assert {name: stored[name] for name in ("contact_id", "contact_role", "match", "attachments")} == {
        "contact_id": "6623abc",
        "contact_role": "lead",
        "match": '{"rule": "search"}',
        "attachments": '{"urls": [], "notes": ["a photo that could not be fetched"]}',
    }
    assert (stored["status"], stored["conversation_id"]) == ("delivered", "215")
    assert (stored["delivered_at"], stored["error"]) == ("1795392000.500000", "")

    ledger.forget_contact(entry_id)
    entry = ledger.get(entry_id)
    assert (entry.contact, entry.match, entry.status) == (None, None, Status.DELIVERED)
