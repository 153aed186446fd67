"""The inbound job's failure semantics: what retries, what does not, and what ops can read."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from rq.exceptions import AbandonedJobError
from rq.registry import FailedJobRegistry, FinishedJobRegistry

from bridge.infra.queueing import inbound_job_id, inbound_queue
from bridge.intake.ledger import InboundLedger, inbound_id
from tests.helpers import conversation_bodies, read_stored_webhooks, signed_twilio
from workers.failures import record_failure

CUSTOMER, BUSINESS = "+14155550123", "+14155550100"


Write = Callable[..., httpx.Response]


@pytest.fixture
def customer_writes(bridge, settings, http) -> Write:
    """Posts the customer's signed Twilio SMS to the business number; the answer."""

    def write(text: str, **message: Any) -> httpx.Response:
        message = {"sender": CUSTOMER, "recipient": BUSINESS, **message}
        return signed_twilio(bridge.url, settings, text=text, **message).send(http)

    return write


def failed_job(redis_client, sid: str):
    job_id = inbound_job_id(inbound_id("twilio", sid))
    assert job_id in FailedJobRegistry(queue=inbound_queue(redis_client)).get_job_ids()
    return inbound_queue(redis_client).fetch_job(job_id)


def test_a_permanent_intercom_error_fails_at_once_without_retrying(
    customer_writes, sandbox, drain, redis_client
):
    sandbox.fault(400, times=None, path_prefix="/contacts/search")
    customer_writes("hi", message_id="SMperm")
    drain()

    job = failed_job(redis_client, "SMperm")
    assert "IntercomRejected: Intercom answered 400" in job.meta["reason"]
    searches = [r for r in sandbox.requests() if r["path"] == "/contacts/search"]
    assert len(searches) == 1  # neither the client nor RQ tried again


def test_a_retryable_failure_is_retried_by_the_job_and_then_delivered(customer_writes, sandbox, drain):
    # The client tries 4 times per job attempt; 5 failures need a second job attempt.
    sandbox.fault(503, times=5, path_prefix="/contacts/search")
    customer_writes("eventually")
    drain()

    [conversation] = sandbox.conversations()
    assert conversation_bodies(conversation) == ["eventually"]


def test_an_unreadable_sender_is_kept_failed_with_the_reason_and_sends_nothing(
    customer_writes, settings, sandbox, drain, redis_client
):
    response = customer_writes("who am I", sender="#!?*", message_id="SModd")
    assert response.status_code == 200  # accepted and recorded, never a silent drop or a 500
    drain()

    job = failed_job(redis_client, "SModd")
    assert "UnprocessableMessage" in job.meta["reason"] and "sender" in job.meta["reason"]
    entry = InboundLedger(redis_client, settings).get(inbound_id("twilio", "SModd"))
    assert entry.status.value == "failed" and entry.message.text == "who am I"
    assert sandbox.requests() == []


def test_a_failed_message_does_not_hold_up_the_senders_later_ones(customer_writes, sandbox, drain):
    sandbox.fault(500, times=None, path_prefix="/contacts/search")
    customer_writes("first")
    drain()
    sandbox.clear_faults()
    customer_writes("second")
    drain()

    [conversation] = sandbox.conversations()
    assert conversation_bodies(conversation) == ["second"]


def test_failure_reasons_never_carry_the_full_phone_number(customer_writes, sandbox, drain, redis_client):
    sandbox.fault(400, times=None, path_prefix="/contacts/search")
    customer_writes("hi", message_id="SMmask")
    drain()
    assert CUSTOMER not in failed_job(redis_client, "SMmask").meta["reason"]


def test_a_failure_recorded_after_a_later_job_delivered_the_message_posts_nothing_again(
    customer_writes, settings, sandbox, drain, redis_client
):
    # A worker dies in the first message's job. RQ finds it abandoned and records its failure,
    # which gives the message behind it a job (only the first in line had one); that job delivers
    # both (the lane delivers earlier messages first), and RQ's retry of the dead worker's job
    # comes after. The failure must not undo "delivered".
    for sid, text in (("SMfirst", "first"), ("SMsecond", "second")):
        assert customer_writes(text, message_id=sid).status_code == 200
    read_stored_webhooks(redis_client, settings)  # the reader's work: the first one's job is queued
    queue = inbound_queue(redis_client)
    abandoned = queue.fetch_job(inbound_job_id(inbound_id("twilio", "SMfirst")))
    queue.remove(abandoned)  # in the dead worker's hands
    drain()
    record_failure(abandoned, redis_client, AbandonedJobError, AbandonedJobError(), None)
    queue.enqueue_job(abandoned)  # RQ's retry of it
    drain()

    [conversation] = sandbox.conversations()
    assert conversation_bodies(conversation) == ["first", "second"]
    entry = InboundLedger(redis_client, settings).get(inbound_id("twilio", "SMfirst"))
    assert entry.status.value == "delivered"


def test_the_message_behind_a_failed_one_gets_a_job_of_its_own(customer_writes, sandbox, drain, redis_client):
    # Only the first in line gets a job (`bridge.intake.ledger`); when that job fails on its own
    # message, nothing else would deliver the one behind it.
    sandbox.fault(400, times=1, path_prefix="/contacts/search")
    customer_writes("first", message_id="SMahead")
    customer_writes("second", message_id="SMbehind")
    drain()

    assert "IntercomRejected" in failed_job(redis_client, "SMahead").meta["reason"]
    [conversation] = sandbox.conversations()
    assert conversation_bodies(conversation) == ["second"]
    behind = inbound_queue(redis_client).fetch_job(inbound_job_id(inbound_id("twilio", "SMbehind")))
    assert behind is not None and behind.get_status() == "finished"
    # Queued by the other message's job: not under that message's request id (its own is read
    # from its entry for its log lines, `workers.context.request_id_of`).
    ahead = failed_job(redis_client, "SMahead")
    assert behind.meta.get("request_id") != ahead.meta.get("request_id")


def test_a_customers_burst_is_delivered_in_order_by_one_job(customer_writes, sandbox, drain, redis_client):
    for n in (1, 2, 3):
        customer_writes(f"burst {n}", message_id=f"SMburst{n}")
    drain()

    [conversation] = sandbox.conversations()
    assert conversation_bodies(conversation) == ["burst 1", "burst 2", "burst 3"]
    finished = FinishedJobRegistry(queue=inbound_queue(redis_client)).get_job_ids()
    assert [job_id for job_id in finished if job_id.startswith("in-")] == [
        inbound_job_id(inbound_id("twilio", "SMburst1"))
    ]
    job = inbound_queue(redis_client).fetch_job(inbound_job_id(inbound_id("twilio", "SMburst1")))
    assert job.return_value()["drained"] == "2"
