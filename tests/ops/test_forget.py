"""Forgetting a person, on a real Redis, where the number hides: beside another customer in one
webhook, under a WhatsApp user id, in a merge's audit, in what RQ kept of another job, in a
webhook not read yet. (The whole history, end to end: tests/test_forget_end_to_end.py.)"""

from __future__ import annotations

import redis
from rq.job import Job
from rq.results import Result
from rq.serializers import JSONSerializer

from bridge.contacts.resolution import IdentityMap
from bridge.core.settings import Settings
from bridge.inbox.merges import MergeAttempt, MergeAudit
from bridge.infra import keys
from bridge.infra.queueing import INBOUND_JOB, inbound_queue
from bridge.intake.ledger import InboundLedger, RawPayload, inbound_id
from bridge.intake.raw import RawWebhookStore
from bridge.intercom.models import ContactRef
from bridge.model.senders import classify_sender
from bridge.ops.forget import Forgetter
from tests.helpers import inbound_sms
from tests.intake.test_raw import arrive

NUMBER = "+525587143926"
OTHER = "+14155550123"
BSUID = "MX.9b1c2d3e4f5a6b7c8d"


def sender(raw: str):
    return classify_sender(raw, country_code_included=True, default_region="US")


def payload(*numbers: str) -> RawPayload:
    body = "&".join(f"From=%2B{number.lstrip('+')}" for number in numbers)
    return RawPayload(content_type="application/x-www-form-urlencoded", body=body, path="/webhooks/twilio")


def forget(redis_client: redis.Redis, settings: Settings) -> dict[str, int]:
    return dict(Forgetter(redis_client, settings).number(sender(NUMBER)).removed)


def mentioned(redis_client: redis.Redis) -> list[str]:
    """The keys whose name or value still writes the number's digits (strings and hashes)."""
    found = []
    for key in redis_client.scan_iter():
        kind = redis_client.type(key)
        values = [redis_client.get(key) or b""] if kind == b"string" else []
        if kind == b"hash":
            values = [*redis_client.hgetall(key).values()]
        if b"5587143926" in key or any(b"5587143926" in value for value in values):
            found.append(key.decode())
    return found


def test_another_customer_in_the_same_webhook_keeps_their_message_and_loses_only_the_payload(
    redis_client, settings
):
    ledger = InboundLedger(redis_client, settings)
    both = payload(NUMBER, OTHER)  # a provider batching two customers' messages in one request
    ledger.accept(inbound_sms(provider_message_id="SM1", sender=sender(NUMBER)), both)
    ledger.accept(inbound_sms(provider_message_id="SM2", sender=sender(OTHER)), both)

    forget(redis_client, settings)

    assert ledger.get(inbound_id("twilio", "SM1")) is None
    kept = ledger.get(inbound_id("twilio", "SM2"))
    assert kept is not None and kept.message.sender.e164 == OTHER and kept.raw is None
    assert mentioned(redis_client) == []


def test_the_whatsapp_user_id_the_numbers_messages_named_and_its_own_messages_go_too(redis_client, settings):
    ledger = InboundLedger(redis_client, settings)
    user = classify_sender(BSUID, country_code_included=True, default_region="US")
    with_alias = inbound_sms(
        provider_message_id="W1", channel="whatsapp", sender=sender(NUMBER), aliases=(user,)
    )
    ledger.accept(with_alias, payload(NUMBER))
    ledger.accept(inbound_sms(provider_message_id="W2", channel="whatsapp", sender=user), payload())
    identities = IdentityMap(redis_client)
    for key in (f"phone:{NUMBER}", user.key):
        identities.set(key, ContactRef("c1", "lead"))

    removed = forget(redis_client, settings)

    assert removed["inbound messages"] == 2 and removed["identity map entries"] == 2
    assert identities.identities_of("c1") == [] and not redis_client.exists(keys.identity(user.key))


def test_a_merge_audit_row_loses_the_forgotten_contacts_snapshot_and_keeps_the_other(redis_client, settings):
    audit = MergeAudit(redis_client)
    lead = {"id": "lead1", "role": "lead", "phone": NUMBER, "name": "Ana"}
    user = {"id": "user1", "role": "user", "phone": None, "email": "bo@example.com"}
    audit.record(
        MergeAttempt(
            at=1.0,
            admin={"id": "9"},
            from_id="lead1",
            into_id="user1",
            outcome="merged",
            message="Merged",
            from_snapshot=lead,
            into_snapshot=user,
            rerouted={"identities": [f"phone:{NUMBER}"], "threads": []},
        )
    )
    audit.record(
        MergeAttempt(at=2.0, admin={"id": "9"}, from_id="x", into_id="y", outcome="not_found", message="-")
    )

    assert forget(redis_client, settings)["merge audit entries redacted"] == 1

    newest, redacted = audit.recent()
    assert newest["from_id"] == "x"  # untouched, still in order
    assert redacted["from_snapshot"] == {"id": "lead1", "forgotten": True}
    assert redacted["into_snapshot"] == user and redacted["rerouted"]["identities"] == ["(forgotten)"]


def test_another_jobs_stored_traceback_naming_the_number_goes_and_the_job_stays_replayable(
    redis_client, settings
):
    queue = inbound_queue(redis_client)
    job = INBOUND_JOB.enqueue(queue, "twilio-other", settings=settings)
    Result.create_failure(
        job, ttl=600, exc_string=f"ProviderRejected: 21211 '{NUMBER}' is not a valid number"
    )

    assert forget(redis_client, settings)["jobs' tracebacks and results"] == 1

    kept = Job.fetch(job.id, connection=redis_client, serializer=JSONSerializer)
    assert kept.kwargs == {"inbound_id": "twilio-other"} and kept.latest_result() is None


def test_a_webhook_from_the_number_not_read_yet_is_dropped_and_still_dedupes_its_retry(
    redis_client, settings
):
    store = RawWebhookStore(redis_client, settings)
    arrive(redis_client, store, payload(NUMBER))
    arrive(redis_client, store, payload(OTHER))
    assert len(store.pending()) == 2

    assert forget(redis_client, settings)["stored webhooks emptied"] == 1

    [left] = store.pending()
    assert store.get(left).raw.body == payload(OTHER).body
    assert arrive(redis_client, store, payload(NUMBER)) == 0  # the provider's retry: a duplicate
    assert mentioned(redis_client) == []


def test_a_number_the_bridge_never_saw_forgets_nothing_and_says_so(redis_client, settings):
    IdentityMap(redis_client).set(f"phone:{OTHER}", ContactRef("c2", "lead"))
    report = Forgetter(redis_client, settings).number(sender(NUMBER))
    assert report.to_json()["removed"] == {} and report.kept_hashed == []
    assert IdentityMap(redis_client).get(f"phone:{OTHER}") == ContactRef("c2", "lead")


def test_a_sender_name_is_forgotten_by_its_messages_sender_never_by_the_word_in_others_text(
    redis_client, settings
):
    """An alphanumeric sender (`INFO`) a deleted contact had: its own messages go; another
    customer's payload that happens to say INFO is theirs."""
    ledger = InboundLedger(redis_client, settings)
    info = classify_sender("INFO", country_code_included=True, default_region="US")
    ledger.accept(inbound_sms(provider_message_id="A1", sender=info), payload())
    other = RawPayload(
        content_type="text/plain", body=f"From={OTHER}&Body=INFO please", path="/webhooks/twilio"
    )
    ledger.accept(inbound_sms(provider_message_id="A2", sender=sender(OTHER), text="INFO please"), other)

    Forgetter(redis_client, settings).identities([info.key])

    assert ledger.get(inbound_id("twilio", "A1")) is None
    kept = ledger.get(inbound_id("twilio", "A2"))
    assert kept is not None and kept.raw is not None and "INFO" in kept.raw.body
