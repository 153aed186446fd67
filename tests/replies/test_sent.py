"""Messages the bridge sent, and what providers report about them: a report may come before the send
is recorded, a later report never moves a message back, and failed is final. Real Redis."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime

import pytest
import redis

from bridge.core.settings import Settings
from bridge.infra import keys
from bridge.model.messages import DeliveryState, DeliveryStatus
from bridge.replies.sent import OutboundStore, RecordedSend

AT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
ORDER = [DeliveryState.SENT, DeliveryState.DELIVERED, DeliveryState.READ, DeliveryState.FAILED]


SETTINGS = Settings(_env_file=None)


@pytest.fixture
def store(redis_client: redis.Redis) -> OutboundStore:
    return OutboundStore(redis_client, SETTINGS)


def report(state: DeliveryState, message_id: str = "SM1", **fields: str) -> DeliveryStatus:
    return DeliveryStatus(
        provider="twilio", provider_message_id=message_id, state=state, occurred_at=AT, **fields
    )


def send(store: OutboundStore, message_id: str = "SM1", text: str = "Your order shipped") -> RecordedSend:
    return store.record_sent("twilio", message_id, conversation_id="215", part_id="p1", text=text)


def test_a_message_never_sent_or_reported_is_unknown(store):
    assert store.get("twilio", "SM1") is None


def test_a_recorded_send_says_which_conversation_and_reply_it_belongs_to(store, redis_client):
    before = time.time()
    assert send(store, text="x" * 300) == RecordedSend()
    sent = store.get("twilio", "SM1")
    assert sent is not None
    assert (sent.conversation_id, sent.part_id, sent.text) == ("215", "p1", "x" * 200)
    assert sent.sent_at is not None and before <= sent.sent_at <= time.time()
    assert sent.state is None  # no report yet
    ttl = redis_client.ttl(keys.outbound("twilio", "SM1"))
    assert SETTINGS.retention_days * 86400 - 5 < ttl <= SETTINGS.retention_days * 86400


def test_a_report_arriving_before_the_send_creates_the_record_and_the_send_completes_it(store):
    assert store.record_status(report(DeliveryState.DELIVERED))
    early = store.get("twilio", "SM1")
    assert early is not None and early.state is DeliveryState.DELIVERED and early.conversation_id is None
    assert send(store) == RecordedSend()
    sent = store.get("twilio", "SM1")
    assert (sent.state, sent.state_at, sent.conversation_id) == (DeliveryState.DELIVERED, AT, "215")


def test_a_failure_reported_before_the_send_was_recorded_is_handed_to_the_sender(store):
    store.record_status(
        report(DeliveryState.FAILED, error_code="30006", error_message="Landline or unreachable")
    )
    assert send(store) == RecordedSend(True, "30006", "Landline or unreachable")


def test_a_failure_is_kept_with_its_reason(store):
    send(store)
    assert store.record_status(
        report(DeliveryState.FAILED, error_code="63016", error_message="Outside the window")
    )
    failed = store.get("twilio", "SM1")
    assert (failed.state, failed.error_code, failed.error_message) == (
        DeliveryState.FAILED,
        "63016",
        "Outside the window",
    )


def test_reports_in_their_order_each_move_the_message_on(store):
    send(store)
    assert [store.record_status(report(state)) for state in ORDER] == [True, True, True, True]
    assert store.get("twilio", "SM1").state is DeliveryState.FAILED


def test_the_same_report_twice_is_applied_once(store):
    assert store.record_status(report(DeliveryState.DELIVERED))
    assert not store.record_status(report(DeliveryState.DELIVERED))


@pytest.mark.parametrize(
    "order", list(itertools.permutations(ORDER)), ids=lambda o: ">".join(s.value for s in o)
)
def test_whatever_order_reports_arrive_in_a_message_ends_at_the_furthest_and_never_moves_back(store, order):
    furthest = -1
    for state in order:
        assert store.record_status(report(state)) == (ORDER.index(state) > furthest)
        furthest = max(furthest, ORDER.index(state))
        assert store.get("twilio", "SM1").state is ORDER[furthest]


class Interleaved(OutboundStore):
    """A store whose first look at the recorded state lets another worker apply `other` between
    that read and this store's write."""

    def __init__(self, redis_client: redis.Redis, other: DeliveryStatus) -> None:
        super().__init__(redis_client, SETTINGS)
        self.other, self.elsewhere, self.reads = other, OutboundStore(redis_client, SETTINGS), 0

    def _recorded_state(self, pipe, key):  # type: ignore[no-untyped-def]
        state = super()._recorded_state(pipe, key)
        self.reads += 1
        if self.reads == 1:
            self.elsewhere.record_status(self.other)
        return state


def test_two_workers_applying_reports_at_once_never_move_a_message_back(store, redis_client):
    store.record_status(report(DeliveryState.SENT))
    racing = Interleaved(redis_client, report(DeliveryState.READ))

    # "delivered" reads "sent"; "read" lands before "delivered" is written: it must stay "read".
    assert not racing.record_status(report(DeliveryState.DELIVERED))
    assert store.get("twilio", "SM1").state is DeliveryState.READ
    assert racing.reads == 2  # the write saw the change, read again and gave way


def test_a_report_after_a_failure_leaves_the_failure_and_its_reason(store):
    store.record_status(report(DeliveryState.FAILED, error_code="30006", error_message="unreachable"))
    assert not store.record_status(report(DeliveryState.READ))  # failed is final
    assert store.get("twilio", "SM1").error_code == "30006"


def test_messages_are_told_apart_by_provider_and_id(store):
    send(store)
    store.record_status(report(DeliveryState.READ))
    assert store.get("vonage", "SM1") is None
    assert store.get("twilio", "SM2") is None


def test_a_record_the_previous_version_stored_reads_as_a_typed_sent_message(store, redis_client):
    # As the previous version wrote it: the send recorded, then Twilio's failure report applied.
    redis_client.hset(
        keys.outbound("twilio", "SM1"),
        mapping={
            "conversation_id": "215",
            "part_id": "p1",
            "text": "Your order shipped",
            "sent_at": "1795392000.500000",
            "state": "failed",
            "state_at": "2026-11-23T12:00:00+00:00",
            "error_code": "30006",
            "error_message": "Landline or unreachable",
        },
    )

    sent = store.get("twilio", "SM1")
    assert (sent.provider, sent.provider_message_id, sent.conversation_id, sent.part_id) == (
        "twilio",
        "SM1",
        "215",
        "p1",
    )
    assert (sent.text, sent.sent_at) == ("Your order shipped", 1795392000.5)
    assert (sent.state, sent.state_at) == (DeliveryState.FAILED, AT)
    assert (sent.error_code, sent.error_message) == ("30006", "Landline or unreachable")


def test_a_send_and_a_report_are_stored_as_the_previous_version_stored_them(store, redis_client):
    store.record_status(report(DeliveryState.DELIVERED))
    send(store)

    stored = {k.decode(): v.decode() for k, v in redis_client.hgetall(keys.outbound("twilio", "SM1")).items()}
    assert float(stored.pop("sent_at")) > 0
    assert stored == {
        "conversation_id": "215",
        "part_id": "p1",
        "text": "Your order shipped",
        "state": "delivered",
        "state_at": "2026-11-23T12:00:00+00:00",
        "error_code": "",
        "error_message": "",
    }
