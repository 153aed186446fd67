"""The reader of stored webhooks: one at a time, in arrival order (`bridge.intake.raw`).

Real Redis; the webhooks are stored by the real web app, then read by `read_pending` as the
reader jobs would, in this process.
"""

from __future__ import annotations

from bridge.infra import keys
from bridge.intake.ledger import InboundLedger, inbound_id
from bridge.intake.raw import RawWebhookStore
from tests.helpers import signed_twilio
from workers.webhooks import read_pending

CUSTOMER, BUSINESS = "+14155550123", "+14155550100"


def send(bridge, settings, http, *texts: str) -> list[str]:
    """Signed messages from one customer, in this order; their message ids."""
    sids = [f"SM{index:032d}" for index, _ in enumerate(texts)]
    for sid, text in zip(sids, texts, strict=True):
        request = signed_twilio(
            bridge.url, settings, sender=CUSTOMER, recipient=BUSINESS, text=text, message_id=sid
        )
        assert request.send(http).status_code == 200
    return sids


def test_the_web_names_the_reader_job_it_queues_on_the_flag(bridge, settings, http, redis_client):
    send(bridge, settings, http, "one")
    holder = redis_client.get(keys.WEBHOOKS_READER).decode()
    assert holder.startswith("rd-")
    assert any(job_id.decode() == holder for job_id in redis_client.lrange("rq:queue:bridge-inbound", 0, -1))


def test_a_second_reader_leaves_the_reading_to_the_one_holding_the_flag(bridge, settings, http, redis_client):
    send(bridge, settings, http, "one", "two")
    assert read_pending(redis_client, settings, reader="rd-someone-else") == (0, 0)
    assert redis_client.zcard(keys.WEBHOOKS_PENDING) == 2

    holder = redis_client.get(keys.WEBHOOKS_READER).decode()
    assert read_pending(redis_client, settings, reader=holder) == (2, 0)
    assert redis_client.zcard(keys.WEBHOOKS_PENDING) == 0
    assert redis_client.get(keys.WEBHOOKS_READER) is None  # dropped: nothing pending


def test_a_reader_takes_over_once_a_dead_readers_flag_expired(bridge, settings, http, redis_client):
    send(bridge, settings, http, "one")
    redis_client.delete(keys.WEBHOOKS_READER)  # the holder died; its flag ran out
    assert read_pending(redis_client, settings, reader="rd-retried") == (1, 0)


def test_the_reader_claims_a_senders_messages_in_arrival_order(bridge, settings, http, redis_client):
    sids = send(bridge, settings, http, "first", "second", "third")
    holder = redis_client.get(keys.WEBHOOKS_READER).decode()
    read_pending(redis_client, settings, reader=holder)
    ledger = InboundLedger(redis_client, settings)
    seqs = [ledger.get(inbound_id("twilio", sid)).seq for sid in sids]
    assert seqs == sorted(seqs)
    [lane] = redis_client.keys(keys.mailbox("*"))
    assert [item.decode() for item in redis_client.lrange(lane, 0, -1)] == [
        inbound_id("twilio", s) for s in sids
    ]


def test_a_webhook_whose_record_expired_is_dropped_from_the_pending_set(bridge, settings, http, redis_client):
    send(bridge, settings, http, "gone")
    [entry] = RawWebhookStore(redis_client, settings).pending()
    redis_client.delete(keys.webhook(entry))  # past retention
    holder = redis_client.get(keys.WEBHOOKS_READER).decode()
    assert read_pending(redis_client, settings, reader=holder) == (0, 0)
    assert redis_client.zcard(keys.WEBHOOKS_PENDING) == 0


def test_a_read_webhook_keeps_its_body_once_on_the_ledger_and_still_dedupes_a_retry(
    bridge, settings, http, redis_client
):
    request = signed_twilio(
        bridge.url, settings, sender=CUSTOMER, recipient=BUSINESS, text="once", message_id="SM1"
    )
    assert request.send(http).status_code == 200
    [record] = redis_client.keys(keys.webhook("*"))
    read_pending(redis_client, settings, reader=redis_client.get(keys.WEBHOOKS_READER).decode())

    assert redis_client.hget(record, "body") is None  # not kept twice for the whole retention
    assert redis_client.hget(record, "read_at") is not None
    entry = InboundLedger(redis_client, settings).get(inbound_id("twilio", "SM1"))
    assert "Body=once" in entry.raw.body

    assert request.send(http).status_code == 200  # Twilio's retry of the same request
    assert redis_client.zcard(keys.WEBHOOKS_PENDING) == 0
