"""Inbound Twilio messages end to end: signed webhook -> bridge -> Redis -> worker -> Intercom sandbox.

Real parts throughout: the bridge served by uvicorn, Valkey over a socket, the sandbox over
HTTP, and the real RQ jobs.
"""

from __future__ import annotations

import concurrent.futures
import time

import httpx
from rq.registry import FailedJobRegistry

from bridge.infra.queueing import inbound_job_id, inbound_queue
from bridge.intake.ledger import InboundLedger, inbound_id
from tests.helpers import conversation_bodies, held_files, signed_twilio

CUSTOMER = "+14155550123"
BUSINESS = "+14155550100"


def test_sms_from_a_number_two_contacts_hold_goes_to_the_latest_updated(
    bridge, settings, sandbox, drain, http
):
    now = int(time.time())
    older = sandbox.seed_contact(
        role="user", phone=CUSTOMER, name="Old Ada", updated_at=now - 86400, created_at=now - 90 * 86400
    )
    newer = sandbox.seed_contact(
        role="lead", phone="+1 415-555-0123", name="New Ada", updated_at=now - 60, created_at=now - 30 * 86400
    )

    response = signed_twilio(
        bridge.url, settings, sender=CUSTOMER, recipient=BUSINESS, text="Hello there"
    ).send(http)
    assert response.status_code == 200
    drain()

    [conversation] = sandbox.conversations()
    assert conversation["contacts"]["contacts"][0]["id"] == newer["id"] != older["id"]
    assert conversation_bodies(conversation) == ["Hello there"]


def test_sms_from_an_unknown_number_creates_one_lead_in_e164_and_one_conversation(
    bridge, settings, sandbox, drain, http
):
    signed_twilio(bridge.url, settings, sender=CUSTOMER, recipient=BUSINESS, text="Hi").send(http)
    drain()

    [lead] = sandbox.contacts()
    assert lead["role"] == "lead"
    assert lead["phone"] == CUSTOMER
    [conversation] = sandbox.conversations()
    assert conversation["contacts"]["contacts"][0]["id"] == lead["id"]


def test_a_second_message_continues_the_same_conversation(bridge, settings, sandbox, drain, http):
    for text in ("first", "second"):
        signed_twilio(bridge.url, settings, sender=CUSTOMER, recipient=BUSINESS, text=text).send(http)
        drain()

    [conversation] = sandbox.conversations()
    assert conversation_bodies(conversation) == ["first", "second"]
    assert len(sandbox.contacts()) == 1


def test_twenty_concurrent_messages_from_a_new_number_make_one_lead_one_conversation_in_arrival_order(
    bridge, settings, sandbox, redis_client, worker_processes
):
    sandbox.configure(search_lag=300)  # search cannot see the new lead: only the identity map can
    requests = [
        signed_twilio(bridge.url, settings, sender=CUSTOMER, recipient=BUSINESS, text=f"message {n}")
        for n in range(20)
    ]
    with httpx.Client(timeout=10.0) as client, concurrent.futures.ThreadPoolExecutor(20) as pool:
        statuses = list(pool.map(lambda request: request.send(client).status_code, requests))
    assert statuses == [200] * 20

    worker_processes(3)

    assert len(sandbox.contacts()) == 1
    [conversation] = sandbox.conversations()
    ledger = InboundLedger(redis_client, settings)
    entries = [ledger.get(inbound_id("twilio", _sid(request))) for request in requests]
    arrival_order = [entry.message.text for entry in sorted(entries, key=lambda entry: entry.seq)]
    assert conversation_bodies(conversation) == arrival_order
    assert sorted(arrival_order) == sorted(f"message {n}" for n in range(20))


def test_a_contact_deleted_in_intercom_is_forgotten_and_the_next_message_makes_a_new_lead(
    bridge, settings, sandbox, drain, http, redis_client
):
    assert signed_twilio(bridge.url, settings, sender=CUSTOMER, recipient=BUSINESS, text="first").send(http)
    drain()
    [first] = sandbox.contacts()
    deleted = sandbox.api("DELETE", f"/contacts/{first['id']}")
    assert deleted.status_code == 200 and deleted.json()["deleted"] is True
    assert sandbox.conversations() == []  # deleted with their only contact

    assert signed_twilio(bridge.url, settings, sender=CUSTOMER, recipient=BUSINESS, text="second").send(http)
    drain()
    assert FailedJobRegistry(queue=inbound_queue(redis_client)).get_job_ids() == []
    [lead] = sandbox.contacts()
    assert lead["id"] != first["id"] and lead["phone"] == CUSTOMER
    [conversation] = sandbox.conversations()
    assert conversation_bodies(conversation) == ["second"]
    assert conversation["contacts"]["contacts"][0]["id"] == lead["id"]


def test_the_same_message_sid_posted_twice_is_one_message_in_intercom(bridge, settings, sandbox, drain, http):
    request = signed_twilio(bridge.url, settings, sender=CUSTOMER, recipient=BUSINESS, text="only once")
    assert request.send(http).status_code == 200
    assert request.send(http).status_code == 200
    drain()
    assert request.send(http).status_code == 200  # a late redelivery, after delivery
    drain()

    [conversation] = sandbox.conversations()
    assert conversation_bodies(conversation) == ["only once"]


def test_mms_with_two_media_carries_both_as_files_in_the_conversations_first_reply(
    providers_at_standin, bridge, settings, sandbox, drain, http
):
    """Intercom opens a conversation without files: the text opens it, both files follow in one reply."""
    from bridge.dev.standins import StoredMedia

    photos = {"ME1": b"\xff\xd8\xff first photo", "ME2": b"\xff\xd8\xff second photo"}
    for media_id, content in photos.items():
        providers_at_standin.state.media[media_id] = StoredMedia(content, "image/jpeg")
    media = tuple(
        f"{providers_at_standin.url}/2010-04-01/Accounts/AC1/Messages/MM1/Media/{m}" for m in photos
    )
    signed_twilio(bridge.url, settings, sender=CUSTOMER, recipient=BUSINESS, text="photos", media=media).send(
        http
    )
    drain()

    [create] = [r for r in sandbox.requests() if r["method"] == "POST" and r["path"] == "/conversations"]
    assert "attachment_urls" not in create["request_body"]
    [conversation] = sandbox.conversations()
    assert conversation_bodies(conversation) == [
        "photos",
        "(2 attachments: attachment-1.jpg, attachment-2.jpg)",
    ]
    assert held_files(conversation, http) == [
        ("attachment-1.jpg", "image/jpeg", photos["ME1"]),
        ("attachment-2.jpg", "image/jpeg", photos["ME2"]),
    ]


def test_whatsapp_through_twilio_names_the_lead_after_the_profile(bridge, settings, sandbox, drain, http):
    signed_twilio(
        bridge.url,
        settings,
        sender="+31612345678",
        recipient=BUSINESS,
        text="hoi",
        whatsapp=True,
        profile_name="Sanne de Vries",
    ).send(http)
    drain()

    [lead] = sandbox.contacts()
    assert lead["name"] == "Sanne de Vries"
    assert lead["phone"] == "+31612345678"


def test_a_429_from_intercom_is_waited_out_and_the_message_delivered_once(
    bridge, settings, sandbox, drain, http
):
    sandbox.fault(429, times=1, reset_in=1)
    signed_twilio(bridge.url, settings, sender=CUSTOMER, recipient=BUSINESS, text="patience").send(http)
    drain()

    [conversation] = sandbox.conversations()
    assert conversation_bodies(conversation) == ["patience"]
    assert [r["status"] for r in sandbox.requests()].count(429) == 1


def test_a_reply_intercom_applied_and_answered_500_is_in_the_conversation_once(
    bridge, settings, sandbox, drain, http, redis_client
):
    signed_twilio(bridge.url, settings, sender=CUSTOMER, recipient=BUSINESS, text="first").send(http)
    drain()
    [conversation] = sandbox.conversations()
    reply_path = f"/conversations/{conversation['id']}/reply"
    sandbox.fault(500, path_prefix=reply_path, after=True)
    request = signed_twilio(bridge.url, settings, sender=CUSTOMER, recipient=BUSINESS, text="second")
    request.send(http)
    drain()

    [conversation] = sandbox.conversations()
    assert conversation_bodies(conversation) == ["first", "second"]
    assert [r["status"] for r in sandbox.requests() if r["path"] == reply_path] == [500]
    entry = InboundLedger(redis_client, settings).get(inbound_id("twilio", _sid(request)))
    assert (entry.status.value, entry.conversation_id) == ("delivered", conversation["id"])


def test_intercom_failing_until_retries_run_out_leaves_the_job_failed_with_the_reason(
    bridge, settings, sandbox, drain, http, redis_client
):
    sandbox.fault(500, times=None)
    request = signed_twilio(bridge.url, settings, sender=CUSTOMER, recipient=BUSINESS, text="lost?")
    request.send(http)
    drain()

    job_id = inbound_job_id(inbound_id("twilio", _sid(request)))
    registry = FailedJobRegistry(queue=inbound_queue(redis_client))
    assert job_id in registry.get_job_ids()
    job = inbound_queue(redis_client).fetch_job(job_id)
    assert "Intercom answered 500" in job.meta["reason"]
    entry = InboundLedger(redis_client, settings).get(inbound_id("twilio", _sid(request)))
    assert entry.status.value == "failed"
    assert "500" in entry.error
    assert sandbox.conversations() == []


def _sid(request) -> str:
    from urllib.parse import parse_qs

    return parse_qs(request.body.decode())["MessageSid"][0]
