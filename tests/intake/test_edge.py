"""The web side of a verified webhook: stored once as it arrived, counted in the same step, a reader
job asked for when nobody reads, and a Redis that does not answer turned into StorageUnavailable
(a 503, so the provider sends it again). Real Redis, the web process's async client."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
import redis

from bridge.core import metrics
from bridge.core.errors import StorageUnavailable
from bridge.core.metrics import WebhookKind, WebhookOutcome, series_field
from bridge.core.settings import Settings
from bridge.infra import keys
from bridge.infra.claims import Tally
from bridge.infra.connection import async_redis_client
from bridge.infra.metrics import redis_metrics
from bridge.intake.edge import Intake, webhook_outcome, webhook_tally
from bridge.intake.ledger import RawPayload
from bridge.intake.raw import RawWebhookStore, webhook_id

RAW = RawPayload(
    content_type="application/x-www-form-urlencoded", body="MessageSid=SM1&Body=Hi", path="/webhooks/twilio"
)
TALLY = Tally("counts", if_new="new", if_duplicate="duplicate")
INBOUND_QUEUE = "rq:queue:bridge-inbound"


def store(
    url: str,
    client: redis.Redis,
    settings: Settings,
    *payloads: RawPayload,
    verified: bool = True,
    tally: Tally | None = TALLY,
) -> None:
    """Store `payloads` one after the other, as the webhook route does, on an event loop of their own."""

    async def run() -> None:
        intake = Intake(client, async_redis_client(url, timeout=0.5), settings, {})
        try:
            for raw in payloads:
                await intake.store_raw(
                    "twilio",
                    raw,
                    received_at=datetime(2026, 11, 23, tzinfo=UTC),
                    verified=verified,
                    tally=tally,
                )
        finally:
            await intake.batcher.aclose()

    asyncio.run(run())


def counts(client: redis.Redis) -> dict[str, float]:
    return {field.decode(): float(value) for field, value in client.hgetall("counts").items()}


def reader_jobs(client: redis.Redis) -> list[str]:
    return [job.decode() for job in client.lrange(INBOUND_QUEUE, 0, -1) if job.startswith(b"rd-")]


# --- what a stored request counts as ---


@pytest.mark.parametrize(
    ("new", "verified", "outcome"),
    [
        (True, True, WebhookOutcome.ACCEPTED),
        (False, True, WebhookOutcome.DUPLICATE),
        (True, False, WebhookOutcome.WOULD_BE_FORGED),
        (False, False, WebhookOutcome.WOULD_BE_FORGED),  # a forgery first, whether seen before or not
    ],
)
def test_a_stored_webhook_counts_as_new_a_redelivery_or_a_would_be_forgery(new, verified, outcome):
    assert webhook_outcome(new=new, verified=verified) is outcome


def test_the_tally_counts_into_the_webhooks_metric_by_provider_kind_and_outcome(redis_client):
    with metrics.scoped(redis_metrics(redis_client)):
        tally = webhook_tally("twilio", WebhookKind.STATUS, verified=True)
        forged = webhook_tally("twilio", WebhookKind.STATUS, verified=False)
    assert tally is not None and forged is not None
    assert (tally.if_new, tally.if_duplicate) == (
        series_field(("twilio", "status", "accepted")),
        series_field(("twilio", "status", "duplicate")),
    )
    assert forged.if_new == forged.if_duplicate == series_field(("twilio", "status", "would_be_forged"))


def test_without_a_redis_recorder_nothing_is_counted_in_the_store():
    with metrics.scoped(metrics.Metrics()):
        assert webhook_tally("twilio", WebhookKind.INBOUND, verified=True) is None


# --- storing ---


def test_the_first_webhook_is_stored_counted_and_a_reader_job_is_queued_and_named(
    redis_url, redis_client, settings
):
    store(redis_url, redis_client, settings, RAW)
    stored = RawWebhookStore(redis_client, settings)
    assert stored.pending() == [webhook_id("twilio", RAW)]
    entry = stored.get(webhook_id("twilio", RAW))
    assert entry is not None and entry.raw == RAW and entry.verified and entry.seq == 1
    [job] = reader_jobs(redis_client)
    assert redis_client.get(keys.WEBHOOKS_READER).decode() == job
    assert counts(redis_client) == {"new": 1.0}


def test_an_identical_retry_stores_nothing_more_and_counts_as_a_duplicate(redis_url, redis_client, settings):
    store(redis_url, redis_client, settings, RAW, RAW)
    assert RawWebhookStore(redis_client, settings).pending() == [webhook_id("twilio", RAW)]
    assert redis_client.get(keys.INBOUND_SEQUENCE) == b"1"
    assert len(reader_jobs(redis_client)) == 1
    assert counts(redis_client) == {"new": 1.0, "duplicate": 1.0}


def test_webhooks_stored_while_a_reader_holds_the_flag_queue_no_other_reader(
    redis_url, redis_client, settings
):
    second = RawPayload(content_type=RAW.content_type, body="MessageSid=SM2&Body=Again", path=RAW.path)
    store(redis_url, redis_client, settings, RAW, second)
    assert len(RawWebhookStore(redis_client, settings).pending()) == 2
    assert len(reader_jobs(redis_client)) == 1


def test_the_first_webhook_after_redis_lost_its_scripts_is_stored_all_the_same(
    redis_url, redis_client, settings
):
    redis_client.script_flush()  # a Redis restarted since the script was last sent
    store(redis_url, redis_client, settings, RAW)
    assert RawWebhookStore(redis_client, settings).pending() == [webhook_id("twilio", RAW)]
    assert counts(redis_client) == {"new": 1.0}


def test_a_webhook_whose_signature_failed_is_stored_as_such(redis_url, redis_client, settings):
    store(redis_url, redis_client, settings, RAW, verified=False, tally=None)
    entry = RawWebhookStore(redis_client, settings).get(webhook_id("twilio", RAW))
    assert entry is not None and not entry.verified
    assert counts(redis_client) == {}


def test_a_redis_out_of_reach_is_storage_unavailable(redis_client, settings):
    with pytest.raises(StorageUnavailable):
        store("redis://127.0.0.1:1/0", redis_client, settings, RAW)
    assert not redis_client.exists(keys.WEBHOOKS_PENDING)
