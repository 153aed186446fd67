"""The inbound job's failure semantics: what retries, what does not, and what ops can read."""

from __future__ import annotations

from urllib.parse import urlencode

from rq.exceptions import AbandonedJobError
from rq.registry import FailedJobRegistry
from twilio.request_validator import RequestValidator

from bridge.infra.queueing import inbound_job_id, inbound_queue
from bridge.intake.ledger import InboundLedger, inbound_id
from tests.helpers import conversation_bodies, read_stored_webhooks, signed_twilio
from workers.failures import record_failure

CUSTOMER, BUSINESS = "+14155550123", "+14155550100"


def failed_job(redis_client, sid: str):
    job_id = inbound_job_id(inbound_id("twilio", sid))
    assert job_id in FailedJobRegistry(queue=inbound_queue(redis_client)).get_job_ids()
    return inbound_queue(redis_client).fetch_job(job_id)


def test_a_permanent_intercom_error_fails_at_once_without_retrying(
    bridge, settings, sandbox, drain, http, redis_client
):
    sandbox.fault(400, times=None, path_prefix="/contacts/search")
    signed_twilio(
        bridge.url, settings, sender=CUSTOMER, recipient=BUSINESS, text="hi", message_id="SMperm"
    ).send(http)
    drain()

    job = failed_job(redis_client, "SMperm")
    assert "IntercomRejected: Intercom answered 400" in job.meta["reason"]
    searches = [r for r in sandbox.requests() if r["path"] == "/contacts/search"]
    assert len(searches) == 1  # neither the client nor RQ tried again


def test_a_retryable_failure_is_retried_by_the_job_and_then_delivered(bridge, settings, sandbox, drain, http):
    # The client tries 4 times per job attempt; 5 failures need a second job attempt.
    sandbox.fault(503, times=5, path_prefix="/contacts/search")
    signed_twilio(bridge.url, settings, sender=CUSTOMER, recipient=BUSINESS, text="eventually").send(http)
    drain()

    [conversation] = sandbox.conversations()
    assert conversation_bodies(conversation) == ["eventually"]


def test_an_unreadable_sender_is_kept_failed_with_the_reason_and_sends_nothing(
    bridge, settings, sandbox, drain, http, redis_client
):
    url = f"{bridge.url}/webhooks/twilio"
    params = {"MessageSid": "SModd", "From": "#!?*", "To": BUSINESS, "Body": "who am I"}
    signature = RequestValidator(settings.secret("twilio_auth_token")).compute_signature(url, params)
    response = http.post(
        url,
        content=urlencode(params),
        headers={"X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200  # accepted and recorded, never a silent drop or a 500
    drain()

    job = failed_job(redis_client, "SModd")
    assert "UnprocessableMessage" in job.meta["reason"] and "sender" in job.meta["reason"]
    entry = InboundLedger(redis_client, settings).get(inbound_id("twilio", "SModd"))
    assert entry.status.value == "failed" and entry.message.text == "who am I"
    assert sandbox.requests() == []


def test_a_failed_message_does_not_hold_up_the_senders_later_ones(bridge, settings, sandbox, drain, http):
    sandbox.fault(500, times=None, path_prefix="/contacts/search")
    signed_twilio(bridge.url, settings, sender=CUSTOMER, recipient=BUSINESS, text="first").send(http)
    drain()
    sandbox.clear_faults()
    signed_twilio(bridge.url, settings, sender=CUSTOMER, recipient=BUSINESS, text="second").send(http)
    drain()

    [conversation] = sandbox.conversations()
    assert conversation_bodies(conversation) == ["second"]


def test_failure_reasons_never_carry_the_full_phone_number(
    bridge, settings, sandbox, drain, http, redis_client
):
    sandbox.fault(400, times=None, path_prefix="/contacts/search")
    signed_twilio(
        bridge.url, settings, sender=CUSTOMER, recipient=BUSINESS, text="hi", message_id="SMmask"
    ).send(http)
    drain()
    assert CUSTOMER not in failed_job(redis_client, "SMmask").meta["reason"]


def test_a_failure_recorded_after_a_later_job_delivered_the_message_posts_nothing_again(
    bridge, settings, sandbox, drain, http, redis_client
):
    # A worker dies in the first message's job. The sender's next job delivers both (the lane
    # delivers earlier messages first); RQ then finds the dead worker's job abandoned, records
    # its failure and retries it. That failure must not undo "delivered".
    for sid, text in (("SMfirst", "first"), ("SMsecond", "second")):
        message = signed_twilio(
            bridge.url, settings, sender=CUSTOMER, recipient=BUSINESS, text=text, message_id=sid
        )
        assert message.send(http).status_code == 200
    read_stored_webhooks(redis_client, settings)  # the reader's work: the two delivery jobs are queued
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
