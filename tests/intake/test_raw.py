"""Webhooks as they arrived: the store script's answers (stored once, a reader asked for when nobody
reads), the reader's flag (one reader at a time, dropped only when nothing waits), and what reading
leaves behind. Real Redis; the scripts run as the web process and the reader run them.

The reader job itself (`workers.webhooks`) is tests/workers/test_webhook_reader.py's."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
import redis
from hypothesis import given
from hypothesis import strategies as st

from bridge.core.context import job_context
from bridge.core.settings import Settings
from bridge.infra import keys
from bridge.infra.batching import Command
from bridge.infra.claims import Tally
from bridge.intake.ledger import RawPayload
from bridge.intake.raw import (
    READER_TTL_SECONDS,
    RawWebhook,
    RawWebhookStore,
    Stored,
    as_request,
    webhook_id,
    with_script,
)

RAW = RawPayload(
    content_type="application/x-www-form-urlencoded",
    body="MessageSid=SM1&Body=Hi",
    path="/webhooks/twilio",
    query="",
)
RECEIVED = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
INBOUND_QUEUE = "rq:queue:bridge-inbound"


@pytest.fixture
def store(redis_client: redis.Redis, settings: Settings) -> RawWebhookStore:
    return RawWebhookStore(redis_client, settings)


def execute(client: redis.Redis, commands: Sequence[Command]) -> list[Any]:
    """Send commands as the web process's batcher does, in one pipeline."""
    with client.pipeline(transaction=False) as pipe:
        for command in commands:
            pipe.execute_command(*command)
        return list(pipe.execute())


def arrive(
    client: redis.Redis,
    store: RawWebhookStore,
    raw: RawPayload = RAW,
    *,
    verified: bool = True,
    tally: Tally | None = None,
) -> int:
    """Store `raw` as the web process does; what the script answered."""
    command = store.store_command("twilio", raw, received_at=RECEIVED, verified=verified, tally=tally)
    [answer] = execute(client, [with_script(command)])
    return int(answer)


def other(body: str) -> RawPayload:
    return RawPayload(content_type=RAW.content_type, body=body, path=RAW.path)


# --- ids and requests ---


def test_the_same_request_has_the_same_id_and_any_difference_another():
    variants = [
        RawPayload(RAW.content_type, RAW.body, RAW.path, query="x=1"),
        RawPayload(RAW.content_type, RAW.body, RAW.path, method="GET"),
        RawPayload(RAW.content_type, RAW.body, "/webhooks/twilio/status"),
        RawPayload("multipart/form-data; boundary=x", RAW.body, RAW.path),
        other(RAW.body + " "),
    ]
    assert webhook_id("twilio", RAW) == webhook_id("twilio", RawPayload(**RAW.__dict__))
    ids = {webhook_id("twilio", raw) for raw in variants} | {
        webhook_id("vonage", RAW),
        webhook_id("twilio", RAW),
    }
    assert len(ids) == len(variants) + 2


@given(st.text(), st.text())
def test_any_request_has_an_id_rq_accepts_as_a_job_id(body, query):
    """Whatever the text, lone surrogates included."""
    identifier = webhook_id("twilio", RawPayload("text/plain", body, "/webhooks/twilio", query=query))
    assert re.fullmatch(r"twilio-[0-9a-f]{32}", identifier)


def test_a_stored_payload_reads_as_the_request_that_brought_it(settings):
    raw = RawPayload("application/json", '{"name": "Zoë"}', "/webhooks/vonage/status", query="b=2")
    request = as_request(raw, received_at=RECEIVED, settings=settings.model_copy(update={"public_url": None}))
    assert request.url == "http://bridge.invalid/webhooks/vonage/status?b=2"
    assert request.body == '{"name": "Zoë"}'.encode()
    assert (request.method, request.query, request.received_at) == ("POST", "b=2", RECEIVED)
    assert request.headers["content-type"] == "application/json"


def test_the_request_url_is_the_bridge_s_public_one(settings):
    public = settings.model_copy(update={"public_url": "https://bridge.example.com/"})
    assert as_request(RAW, received_at=RECEIVED, settings=public).url == (
        "https://bridge.example.com/webhooks/twilio"
    )


def test_a_delivery_report_route_s_webhook_is_a_status(redis_client, store):
    arrive(redis_client, store, RawPayload("text/plain", "x", "/webhooks/twilio/status"))
    [entry_id] = store.pending()
    assert store.get(entry_id).is_status
    assert not RawWebhook(
        webhook_id="x",
        provider="twilio",
        raw=RAW,
        received_at=RECEIVED,
        seq=1,
        verified=True,
        reason="",
        read_at=None,
    ).is_status


# --- the store script ---


def test_the_first_webhook_after_a_quiet_spell_asks_for_a_reader(redis_client, store, settings):
    assert arrive(redis_client, store) == Stored.NEEDS_READER
    entry = store.get(webhook_id("twilio", RAW))
    assert entry is not None
    assert (entry.provider, entry.raw, entry.received_at, entry.seq) == ("twilio", RAW, RECEIVED, 1)
    assert entry.verified and entry.read_at is None and entry.reason == ""
    assert 0 < redis_client.ttl(keys.webhook(entry.webhook_id)) <= settings.retention_days * 86400
    assert 0 < redis_client.ttl(keys.WEBHOOKS_READER) <= READER_TTL_SECONDS


def test_webhooks_arriving_while_a_reader_holds_the_flag_are_numbered_in_arrival_order(redis_client, store):
    assert arrive(redis_client, store, other("one")) == Stored.NEEDS_READER
    assert arrive(redis_client, store, other("two")) == Stored.STORED
    assert arrive(redis_client, store, other("three")) == Stored.STORED
    ids = [webhook_id("twilio", other(body)) for body in ("one", "two", "three")]
    assert store.pending() == ids
    assert [store.get(entry_id).seq for entry_id in ids] == [1, 2, 3]


def test_an_identical_retry_stores_nothing_and_takes_no_number(redis_client, store):
    arrive(redis_client, store)
    assert arrive(redis_client, store, verified=False) == Stored.DUPLICATE
    assert redis_client.get(keys.INBOUND_SEQUENCE) == b"1"
    assert store.get(webhook_id("twilio", RAW)).verified  # the first copy's record stands


def test_a_retry_of_a_webhook_nobody_is_reading_asks_for_a_reader_again(redis_client, store):
    arrive(redis_client, store)
    redis_client.delete(keys.WEBHOOKS_READER)  # its reader died, or its job was never queued
    assert arrive(redis_client, store) == Stored.NEEDS_READER


def test_the_store_counts_new_and_redelivered_webhooks_and_a_broken_count_never_fails_it(redis_client, store):
    tally = Tally("counts", if_new="new", if_duplicate="dup")
    arrive(redis_client, store, tally=tally)
    arrive(redis_client, store, tally=tally)
    assert redis_client.hgetall("counts") == {b"new": b"1", b"dup": b"1"}
    redis_client.set("counts", "not a hash")
    assert arrive(redis_client, store, other("two"), tally=tally) == Stored.STORED


def test_a_webhook_keeps_the_id_of_the_request_that_brought_it(redis_client, store):
    with job_context(job_id="none", request_id="req-42"):
        arrive(redis_client, store)
    assert store.get(webhook_id("twilio", RAW)).request_id == "req-42"


def test_the_reader_job_asked_for_is_queued_and_named_on_the_flag(redis_client, store):
    arrive(redis_client, store)
    execute(redis_client, store.reader_commands())
    [job_id] = [job.decode() for job in redis_client.lrange(INBOUND_QUEUE, 0, -1)]
    assert redis_client.get(keys.WEBHOOKS_READER).decode() == job_id


def test_no_flag_is_set_for_a_reader_job_if_the_flag_lapsed_meanwhile(redis_client, store):
    arrive(redis_client, store)
    redis_client.delete(keys.WEBHOOKS_READER)
    execute(redis_client, store.reader_commands())
    assert redis_client.get(keys.WEBHOOKS_READER) is None


# --- the reader's flag ---


def test_one_reader_at_a_time(redis_client, store):
    assert store.take_reading("rd-a")
    assert store.take_reading("rd-a")  # renewed by its holder
    assert not store.take_reading("rd-b")
    assert redis_client.get(keys.WEBHOOKS_READER) == b"rd-a"
    assert 0 < redis_client.ttl(keys.WEBHOOKS_READER) <= READER_TTL_SECONDS


def test_the_job_the_web_named_takes_the_flag_it_was_named_on(redis_client, store):
    redis_client.set(keys.WEBHOOKS_READER, "rd-named")
    assert store.take_reading("rd-named")
    assert not store.take_reading("rd-other")


def test_a_reader_keeps_the_flag_while_anything_is_pending(redis_client, store):
    arrive(redis_client, store)
    execute(redis_client, store.reader_commands())
    reader = redis_client.get(keys.WEBHOOKS_READER).decode()
    assert store.take_reading(reader)
    assert not store.stop_reading(reader)
    assert redis_client.get(keys.WEBHOOKS_READER) == reader.encode()


def test_a_reader_drops_only_its_own_flag_once_nothing_is_pending(redis_client, store):
    store.take_reading("rd-a")
    assert store.stop_reading("rd-b")  # nothing pending: rd-b has nothing left to do
    assert redis_client.get(keys.WEBHOOKS_READER) == b"rd-a"
    assert store.stop_reading("rd-a")
    assert redis_client.get(keys.WEBHOOKS_READER) is None


# --- after reading ---


def test_a_read_webhook_leaves_the_pending_set_and_its_body_but_still_dedupes_a_retry(redis_client, store):
    arrive(redis_client, store)
    entry_id = webhook_id("twilio", RAW)
    store.mark_read(entry_id, claimed=1)
    assert store.pending() == []
    fields = redis_client.hgetall(keys.webhook(entry_id))
    assert b"body" not in fields and fields[b"claimed"] == b"1"
    assert store.get(entry_id).read_at is not None
    assert arrive(redis_client, store) == Stored.DUPLICATE
    assert store.pending() == []


def test_an_unreadable_webhook_becomes_a_job_of_its_own_that_keeps_the_reason(redis_client, store):
    arrive(redis_client, store)
    entry_id = webhook_id("twilio", RAW)
    store.mark_unreadable(entry_id, reason="Body is missing")
    assert store.pending() == []
    assert store.get(entry_id).reason == "Body is missing"
    assert store.get(entry_id).raw == RAW  # kept, for a replay after a fix
    assert f"wh-{entry_id}".encode() in redis_client.lrange(INBOUND_QUEUE, 0, -1)


def test_a_pending_id_whose_record_expired_is_forgotten(redis_client, store):
    arrive(redis_client, store)
    entry_id = webhook_id("twilio", RAW)
    redis_client.delete(keys.webhook(entry_id))
    assert store.get(entry_id) is None
    store.forget(entry_id)
    assert store.pending() == []
