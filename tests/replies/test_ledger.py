"""The reply ledger: a part stored once, and what was sent of it, read back as a typed entry."""

from __future__ import annotations

import pytest
import redis

from bridge.core.settings import Settings
from bridge.infra import keys
from bridge.infra.claims import claim
from bridge.intercom.webhooks import Attachment, ReplyPart
from bridge.replies.ledger import ClaimedPart, PartialSend, ReplyLedger, ReplyStatus

PART_JSON = (
    '{"body": "<p>Your order shipped</p>", "author_type": "admin", "author_id": "991267101", '
    '"attachments": ["https://files.example/label.pdf"], "created_at": 1795392000.0}'
)
PARTIAL_JSON = '{"sent": ["SM2"], "total": 2, "note": "Partly delivered: part 2 of 2 refused"}'


@pytest.fixture
def ledger(redis_client: redis.Redis) -> ReplyLedger:
    return ReplyLedger(redis_client, Settings(_env_file=None, retry_delays="0"))


def test_a_reply_the_previous_version_stored_and_sent_in_part_reads_as_a_typed_entry(ledger, redis_client):
    redis_client.hset(
        keys.reply("9912"),
        mapping={
            "conversation_id": "215",
            "status": "partly_sent",
            "part": PART_JSON,
            "received_at": "1795392001.500000",
            "request_id": "req-old",
            "sent.0": "SM1",
            "sent.1": "SM2",
            "partial.1": PARTIAL_JSON,
        },
    )

    entry = ledger.get("9912")
    assert (entry.part_id, entry.conversation_id, entry.status) == ("9912", "215", ReplyStatus.PARTLY_SENT)
    assert entry.part == ClaimedPart(
        "<p>Your order shipped</p>", "admin", "991267101", ("https://files.example/label.pdf",), 1795392000.0
    )
    assert entry.sent_ids() == ("SM1", "SM2")
    assert entry.partial == {1: PartialSend(("SM2",), 2, "Partly delivered: part 2 of 2 refused")}
    assert entry.partly_sent
    assert (entry.stored_at, entry.request_id, entry.error) == (1795392001.5, "req-old", None)


def test_a_claimed_and_sent_reply_is_stored_as_the_previous_version_stored_it(ledger, redis_client):
    part = ReplyPart(
        part_id="9912",
        conversation_id="215",
        body="<p>Your order shipped</p>",
        author_type="admin",
        author_id="991267101",
        attachments=(Attachment("https://files.example/label.pdf"),),
        created_at=1795392000.0,
    )
    claim(redis_client, ledger.claim(part))
    partial = PartialSend(("SM2",), 2, "Partly delivered: part 2 of 2 refused")
    ledger.record_sent("9912", 0, "SM1")
    ledger.record_sent("9912", 1, "SM2", partial)
    ledger.finish("9912", ReplyStatus.PARTLY_SENT)

    stored = {k.decode(): v.decode() for k, v in redis_client.hgetall(keys.reply("9912")).items()}
    assert float(stored.pop("received_at")) > 0
    assert stored == {
        "conversation_id": "215",
        "status": "partly_sent",
        "part": PART_JSON,
        "sent.0": "SM1",
        "sent.1": "SM2",
        "partial.1": PARTIAL_JSON,
    }
    assert ledger.get("9912").partial == {1: partial}


def test_a_failure_is_recorded_with_its_reason(ledger, redis_client):
    redis_client.hset(
        keys.reply("9912"), mapping={"conversation_id": "215", "status": "queued", "part": PART_JSON}
    )
    ledger.fail("9912", reason="ProviderRejected: 21610 unsubscribed", at=1795392060.0)

    entry = ledger.get("9912")
    assert (entry.status, entry.error) == (ReplyStatus.FAILED, "ProviderRejected: 21610 unsubscribed")
    assert redis_client.hget(keys.reply("9912"), "failed_at") == b"1795392060.000000"


def test_a_failure_recorded_after_the_reply_expired_leaves_nothing_behind(ledger, redis_client):
    ledger.fail("9912", reason="LedgerRecordMissing: reply 9912 is not stored", at=1795392060.0)
    assert ledger.get("9912") is None
    assert not redis_client.exists(keys.reply("9912"))  # no hash without a lifetime, kept for ever


def test_what_an_older_version_left_of_an_expired_reply_is_no_reply(ledger, redis_client):
    # The previous version's final failure wrote into an expired entry: a hash with no part.
    redis_client.hset(keys.reply("9912"), mapping={"status": "failed", "error": "LedgerRecordMissing"})
    assert ledger.get("9912") is None
