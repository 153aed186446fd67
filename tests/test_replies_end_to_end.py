"""Two-way: an agent's reply in Intercom reaches the customer over the channel they wrote from.

The loop runs on real parts: a provider's signed webhook into the bridge, the Intercom sandbox,
an admin reply posted to the sandbox, its signed `conversation.admin.replied` webhook back to
the bridge, the worker sending through the provider's API stand-in, delivery reports back in.
"""

from __future__ import annotations

import hashlib
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from bridge.core import freshness
from bridge.core.settings import get_settings, reset_settings_cache
from bridge.dev.sandbox.notifications import sign
from bridge.dev.simulators import SIMULATORS, SimulatedMessage
from tests.helpers import conversation_bodies, twilio_status

CUSTOMER, BUSINESS = "+14155550123", "+14155550100"
ADMIN_ID = "991267101"
CLIENT_SECRET = "test-intercom-client-secret"
DAY = 86400


@pytest.fixture
def loop(providers_at_standin, bridge, sandbox):
    """The sandbox tells this test's bridge about replies, as Intercom's webhooks would."""
    sandbox.configure(webhook_url=f"{bridge.url}/intercom/webhooks", client_secret=CLIENT_SECRET)
    return providers_at_standin


def inbound(
    provider: str,
    bridge,
    http,
    drain,
    *,
    whatsapp: bool = False,
    text: str = "Hi there",
    message_id: str | None = None,
) -> dict:
    settings = get_settings()
    message = SimulatedMessage(
        sender=CUSTOMER, recipient=BUSINESS, text=text, whatsapp=whatsapp, message_id=message_id
    )
    assert SIMULATORS[provider](message, bridge.url, settings).send(http).status_code == 200
    drain()


def only_conversation(sandbox) -> dict:
    [conversation] = sandbox.conversations()
    return conversation


def admin_reply(sandbox, conversation_id: str, body: str, **extra: Any) -> None:
    response = sandbox.api(
        "POST",
        f"/conversations/{conversation_id}/reply",
        json={"type": "admin", "admin_id": ADMIN_ID, "message_type": "comment", "body": body, **extra},
    )
    assert response.status_code == 200, response.text


def notes(conversation: dict) -> list[str]:
    return [
        p["body"]
        for p in conversation["conversation_parts"]["conversation_parts"]
        if p["part_type"] == "note"
    ]


# Each provider and channel a customer can write in on.
CHANNELS = [
    ("twilio", False),
    ("twilio", True),
    ("whatsapp", False),
    ("messagebird", False),
    ("messagebird", True),
    ("vonage", False),
    ("vonage", True),
    ("textmagic", False),
    ("africastalking", False),
]


@pytest.mark.parametrize(
    ("provider", "whatsapp"), CHANNELS, ids=[f"{p}{'-whatsapp' if w else ''}" for p, w in CHANNELS]
)
def test_an_admin_reply_is_sent_once_to_the_customer_through_their_provider_from_their_number(
    provider, whatsapp, loop, bridge, sandbox, drain, http, redis_client
):
    from bridge.conversations.threads import ThreadStore

    inbound(provider, bridge, http, drain, whatsapp=whatsapp)
    conversation = only_conversation(sandbox)
    admin_reply(sandbox, conversation["id"], "Thanks, we are on it!")
    drain()

    [sent] = loop.state.sends
    thread = ThreadStore(redis_client).by_conversation(conversation["id"])
    assert (sent.provider, sent.text) == (provider, "Thanks, we are on it!")
    # Exactly the addresses the provider gave when the customer wrote in.
    assert (sent.to, sent.sender) == (thread.customer_address, thread.business_number)
    assert CUSTOMER.lstrip("+") in sent.to


def _notification(
    conversation: dict, topic: str, part: dict | None = None, created_at: int | None = None
) -> bytes:
    item = dict(conversation)
    item["conversation_parts"] = {
        "type": "conversation_part.list",
        "conversation_parts": [part] if part else [],
        "total_count": 1 if part else 0,
    }
    return json.dumps(
        {
            "type": "notification_event",
            "id": f"notif_{hashlib.md5(topic.encode()).hexdigest()}",
            "topic": topic,
            "created_at": created_at or int(time.time()),
            "data": {"type": "notification_event_data", "item": item},
        }
    ).encode()


def _post(http, bridge, body: bytes, signature: str | None = None):
    return http.post(
        f"{bridge.url}/intercom/webhooks",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-Hub-Signature": signature or sign(body, CLIENT_SECRET),
        },
    )


def _admin_part(part_id: str, body: str, attachments: list[str] | None = None) -> dict:
    return {
        "type": "conversation_part",
        "id": part_id,
        "part_type": "comment",
        "body": body,
        "created_at": int(time.time()),
        "author": {"type": "admin", "id": ADMIN_ID, "name": "Agent"},
        "attachments": [
            {"type": "upload", "url": url, "content_type": "image/png", "name": "a.png"}
            for url in attachments or []
        ],
    }


def test_the_same_webhook_delivered_twice_sends_once(providers_at_standin, bridge, sandbox, drain, http):
    inbound("twilio", bridge, http, drain)
    body = _notification(
        only_conversation(sandbox), "conversation.admin.replied", _admin_part("9001", "Once only")
    )
    assert _post(http, bridge, body).status_code == 200
    assert _post(http, bridge, body).status_code == 200
    drain()
    assert [s.text for s in providers_at_standin.state.sends] == ["Once only"]


def test_a_bot_reply_announced_under_two_topics_sends_once(loop, bridge, sandbox, drain, http):
    inbound("whatsapp", bridge, http, drain)
    response = sandbox._http.post(
        f"/_sandbox/conversations/{only_conversation(sandbox)['id']}/bot_reply", json={"body": "Fin here"}
    )
    assert response.status_code == 200
    drain()
    assert [s.text for s in loop.state.sends] == ["Fin here"]


def test_a_forged_intercom_webhook_gets_403_and_sends_nothing(
    providers_at_standin, bridge, sandbox, drain, http
):
    inbound("twilio", bridge, http, drain)
    body = _notification(
        only_conversation(sandbox), "conversation.admin.replied", _admin_part("9002", "forged")
    )
    assert _post(http, bridge, body, signature="sha1=" + "0" * 40).status_code == 403
    assert _post(http, bridge, body, signature=None).status_code == 200  # the genuine one
    forged_body = body.replace(b"forged", b"FORGED")
    assert _post(http, bridge, forged_body, signature=sign(body, CLIENT_SECRET)).status_code == 403
    drain()
    assert [s.text for s in providers_at_standin.state.sends] == ["forged"]


@pytest.mark.parametrize(
    "written_in",
    [-15 * DAY, 3600],
    ids=["15 days ago: replayed after the ledger forgot it", "an hour ahead of the bridge's clock"],
)
def test_a_reply_part_outside_the_window_is_acknowledged_and_sends_nothing(
    written_in, providers_at_standin, bridge, sandbox, drain, http, redis_client
):
    # A captured `conversation.admin.replied` webhook posted again after BRIDGE_RETENTION_DAYS
    # (14): the reply ledger no longer has the part, only its signed `created_at` tells.
    inbound("twilio", bridge, http, drain)
    written_at = int(time.time() + written_in)
    part = dict(_admin_part("9005", "Said once, long ago"), created_at=written_at)
    body = _notification(only_conversation(sandbox), "conversation.admin.replied", part, written_at)
    response = _post(http, bridge, body)
    drain()
    assert response.status_code == 200  # Intercom must not retry it
    assert providers_at_standin.state.sends == []
    assert list(redis_client.scan_iter("bridge:reply:*")) == []
    assert response.json()["stale"] == 1 and "queued" not in response.json()


def test_a_reply_part_written_13_days_ago_is_still_sent(providers_at_standin, bridge, sandbox, drain, http):
    inbound("twilio", bridge, http, drain)
    part = dict(_admin_part("9006", "Late but within the window"), created_at=int(time.time() - 13 * DAY))
    body = _notification(only_conversation(sandbox), "conversation.admin.replied", part)
    assert _post(http, bridge, body).json()["queued"] == 1
    drain()
    assert [s.text for s in providers_at_standin.state.sends] == ["Late but within the window"]


def test_the_reply_ledger_remembers_a_part_longer_than_any_copy_of_it_is_accepted(
    providers_at_standin, bridge, sandbox, drain, http, redis_client, settings
):
    # The invariant of `bridge.core.freshness`: a copy accepted later always meets the entry the first
    # one made (a duplicate), even one written at the edge of the clock skew allowed.
    inbound("twilio", bridge, http, drain)
    body = _notification(
        only_conversation(sandbox), "conversation.admin.replied", _admin_part("9007", "Remembered")
    )
    assert _post(http, bridge, body).json()["queued"] == 1
    remembered = redis_client.ttl("bridge:reply:9007")
    assert remembered > freshness.acceptance_window(settings) + freshness.CLOCK_SKEW_SECONDS


def test_duplicate_deliveries_arriving_together_queue_the_reply_once(
    providers_at_standin, bridge, sandbox, drain, http
):
    inbound("twilio", bridge, http, drain)
    body = _notification(
        only_conversation(sandbox), "conversation.admin.replied", _admin_part("9008", "Only once")
    )
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: _post(http, bridge, body), range(8)))
    drain()
    assert {answer.status_code for answer in answers} == {200}
    assert sum(answer.json().get("queued", 0) for answer in answers) == 1
    assert sum(answer.json().get("duplicates", 0) for answer in answers) == 7
    assert [s.text for s in providers_at_standin.state.sends] == ["Only once"]


def test_intercom_checks_the_url_with_head_and_notes_are_ignored(
    providers_at_standin, bridge, sandbox, drain, http
):
    assert http.head(f"{bridge.url}/intercom/webhooks").status_code == 200
    inbound("twilio", bridge, http, drain)
    note = dict(_admin_part("9003", "internal only"), part_type="note")
    response = _post(
        http, bridge, _notification(only_conversation(sandbox), "conversation.admin.noted", note)
    )
    assert response.status_code == 200 and response.json()["ignored"]
    ping = _post(
        http,
        bridge,
        json.dumps(
            {"type": "notification_event", "topic": "ping", "id": "n1", "data": {"item": {"type": "ping"}}}
        ).encode(),
    )
    assert ping.status_code == 200
    drain()
    assert providers_at_standin.state.sends == []


def test_a_reply_outside_whatsapps_24_hours_is_not_sent_and_a_note_says_why(
    loop, bridge, sandbox, drain, http
):
    _old_whatsapp_message(bridge, http, drain, hours_ago=25)
    conversation = only_conversation(sandbox)
    admin_reply(sandbox, conversation["id"], "Are you still there?")
    drain()

    assert loop.state.sends == []
    [note] = notes(sandbox.api("GET", f"/conversations/{conversation['id']}").json())
    assert "25 hours ago" in note and "24 hours" in note


def test_outside_the_window_the_configured_template_is_sent_instead(
    loop, bridge_env, monkeypatch, sandbox, redis_client, http
):
    monkeypatch.setenv("WHATSAPP_TEMPLATE", "we_are_here:en_US")
    reset_settings_cache()
    from bridge.app import create_app
    from bridge.runtime.serving import BackgroundServer
    from tests.conftest import run_workers_in_process

    with BackgroundServer(create_app(get_settings())) as server:
        sandbox.configure(webhook_url=f"{server.url}/intercom/webhooks", client_secret=CLIENT_SECRET)
        _old_whatsapp_message(server, http, lambda: run_workers_in_process(redis_client), hours_ago=25)
        conversation = only_conversation(sandbox)
        admin_reply(sandbox, conversation["id"], "Are you still there?")
        run_workers_in_process(redis_client)

    [sent] = loop.state.sends
    assert sent.template == "we_are_here" and sent.text == ""
    [note] = notes(sandbox.api("GET", f"/conversations/{conversation['id']}").json())
    assert "we_are_here" in note


def _old_whatsapp_message(bridge, http, drain, *, hours_ago: float) -> None:
    """A WhatsApp message the customer sent `hours_ago` (Meta's timestamp says when)."""
    from bridge.core.signing import hmac_hex

    settings = get_settings()
    sent_at = str(int(time.time() - hours_ago * 3600))
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "14155550100", "phone_number_id": BUSINESS},
        "contacts": [{"wa_id": CUSTOMER.lstrip("+"), "profile": {"name": "Ada"}}],
        "messages": [
            {
                "from": CUSTOMER.lstrip("+"),
                "id": f"wamid.old{sent_at}",
                "timestamp": sent_at,
                "type": "text",
                "text": {"body": "hello from yesterday"},
            }
        ],
    }
    body = json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}],
        }
    ).encode()
    signature = "sha256=" + hmac_hex(settings.secret("whatsapp_app_secret"), body, hashlib.sha256)
    response = http.post(
        f"{bridge.url}/webhooks/whatsapp",
        content=body,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature},
    )
    assert response.status_code == 200
    drain()


def test_a_failed_delivery_becomes_one_note_with_the_reason_and_delivered_or_read_none(
    loop, bridge, sandbox, drain, http
):
    inbound("twilio", bridge, http, drain)
    conversation = only_conversation(sandbox)
    admin_reply(sandbox, conversation["id"], "Your order shipped")
    drain()
    [sent] = loop.state.sends

    for status, error in (("delivered", None), ("read", None), ("failed", "21610"), ("failed", "21610")):
        twilio_status(bridge.url, http, sent.message_id, status, error, to=CUSTOMER, sender=BUSINESS)
    drain()

    [note] = notes(sandbox.api("GET", f"/conversations/{conversation['id']}").json())
    assert "21610" in note and "STOP" in note and "Your order shipped" in note


def test_a_long_sms_vonage_sends_only_in_part_goes_once_and_the_agent_is_told_the_missing_part(
    loop, bridge, sandbox, drain, http, redis_client
):
    from bridge.replies.ledger import ReplyLedger, ReplyStatus

    inbound("vonage", bridge, http, drain)
    conversation = only_conversation(sandbox)
    # Vonage takes part 1 of the 2-part SMS and throttles part 2 (the SDK's send_sms_partial_error.json).
    http.post(f"{loop.url}/_standin/faults/vonage", json={"statuses": [-1]}).raise_for_status()
    reply = " ".join(f"word{n}" for n in range(40))  # 269 GSM-7 characters: two SMS parts
    admin_reply(sandbox, conversation["id"], reply)
    drain()
    drain()  # a retry, had the job asked for one, would run here

    [sent] = loop.state.sends
    assert sent.text == reply[:153]
    assert [r["path"] for r in loop.state.requests if r["path"].startswith("/sms")] == ["/sms/json"]
    [note] = notes(sandbox.api("GET", f"/conversations/{conversation['id']}").json())
    assert "part 2 of 2" in note and "Throttled" in note and reply[:20] in note
    [part_id] = [key.decode().rsplit(":", 1)[-1] for key in redis_client.scan_iter("bridge:reply:*")]
    record = ReplyLedger(redis_client, get_settings()).get(part_id)
    assert record.status is ReplyStatus.PARTLY_SENT
    assert record.sent == {0: sent.message_id}


@pytest.mark.parametrize(("provider", "whatsapp"), [("twilio", False), ("twilio", True), ("whatsapp", False)])
def test_an_attachment_in_a_reply_reaches_an_mms_or_whatsapp_customer_as_media(
    provider, whatsapp, loop, bridge, sandbox, drain, http
):
    inbound(provider, bridge, http, drain, whatsapp=whatsapp)
    admin_reply(
        sandbox,
        only_conversation(sandbox)["id"],
        "Here is your invoice",
        attachment_urls=["https://files.example.com/invoice.png"],
    )
    drain()
    assert [url for sent in loop.state.sends for url in sent.media] == [
        "https://files.example.com/invoice.png"
    ]


def test_a_long_reply_is_split_within_the_providers_limit(loop, bridge, sandbox, drain, http):
    inbound("africastalking", bridge, http, drain)
    long_reply = " ".join(f"word{n}" for n in range(800))
    admin_reply(sandbox, only_conversation(sandbox)["id"], long_reply)
    drain()
    texts = [sent.text for sent in loop.state.sends]
    assert len(texts) > 1
    assert " ".join(texts) == long_reply


def test_html_from_older_api_versions_reaches_the_customer_as_text(
    providers_at_standin, bridge, sandbox, drain, http
):
    inbound("twilio", bridge, http, drain)
    body = _notification(
        only_conversation(sandbox),
        "conversation.admin.replied",
        _admin_part("9004", '<p>Hi <b>Ada</b>,</p><p>see <a href="https://x.io">this</a></p>'),
    )
    assert _post(http, bridge, body).status_code == 200
    drain()
    assert [s.text for s in providers_at_standin.state.sends] == ["Hi Ada,\n\nsee this (https://x.io)"]


# --- threading: continue, or open a new conversation after the buffer ---


@pytest.fixture
def one_hour_buffer(bridge_env, monkeypatch, providers_at_standin, sandbox, redis_client):
    from bridge.app import create_app
    from bridge.runtime.serving import BackgroundServer

    monkeypatch.setenv("BRIDGE_NEW_CONVERSATION_AFTER", "1h")
    reset_settings_cache()
    with BackgroundServer(create_app(get_settings())) as server:
        yield server


@pytest.mark.parametrize(("closed_minutes_ago", "conversations"), [(30, 1), (120, 2)])
def test_after_a_close_the_buffer_decides_continue_or_new(
    closed_minutes_ago, conversations, one_hour_buffer, sandbox, redis_client, http
):
    from tests.conftest import run_workers_in_process

    def drain() -> None:
        run_workers_in_process(redis_client)

    inbound("twilio", one_hour_buffer, http, drain, text="first")
    closed_at = int(time.time() - closed_minutes_ago * 60)
    body = _notification(only_conversation(sandbox), "conversation.admin.closed", created_at=closed_at)
    assert _post(http, one_hour_buffer, body).json()["state_changed"] is True
    inbound("twilio", one_hour_buffer, http, drain, text="second")

    assert len(sandbox.conversations()) == conversations
    assert [body for c in sandbox.conversations() for body in conversation_bodies(c)] == ["first", "second"]


def test_an_older_state_event_does_not_undo_a_newer_one(providers_at_standin, bridge, sandbox, drain, http):
    inbound("twilio", bridge, http, drain, text="first")
    conversation = only_conversation(sandbox)
    now = int(time.time())
    _post(http, bridge, _notification(conversation, "conversation.admin.opened", created_at=now))
    late = _post(
        http, bridge, _notification(conversation, "conversation.admin.closed", created_at=now - 10 * 86400)
    )
    assert "state_changed" not in late.json()  # older than the open: ignored
    inbound("twilio", bridge, http, drain, text="second")
    assert len(sandbox.conversations()) == 1


# --- read receipts: an agent's WhatsApp reply marks the customer's latest message read ---

# The customer's two messages, by provider, as each names them (Meta's wamid, Twilio's SM sid,
# Vonage's message_uuid): a reply marks the second, the latest, read.
CUSTOMER_MESSAGES = {
    "whatsapp": ("wamid.HBgLMTQxNTU1NTAxMjMVAgASGBQzQUFGRTk0", "wamid.HBgLMTQxNTU1NTAxMjMVAgASGBQzQjdDNjA1"),
    "twilio": ("SM" + "0a" * 16, "SM" + "1b" * 16),
    "vonage": ("aaaaaaaa-bbbb-4ccc-8ddd-000000000001", "aaaaaaaa-bbbb-4ccc-8ddd-000000000002"),
}
READ_PROVIDERS = list(CUSTOMER_MESSAGES)


def customer_wrote_twice(provider: str, bridge, sandbox, http, drain) -> str:
    """The customer's two WhatsApp messages through `provider`; the id of their conversation."""
    first, latest = CUSTOMER_MESSAGES[provider]
    inbound(provider, bridge, http, drain, whatsapp=True, text="Hello?", message_id=first)
    inbound(provider, bridge, http, drain, whatsapp=True, text="Is anyone there?", message_id=latest)
    return only_conversation(sandbox)["id"]


def first_request(standin, *, mentioning: str) -> int:
    """The position of the stand-in's first request whose path or body mentions `mentioning`."""
    return next(
        index
        for index, seen in enumerate(standin.state.requests)
        if mentioning in seen["path"] or mentioning in seen["body"]
    )


@pytest.mark.parametrize("provider", READ_PROVIDERS)
def test_an_agents_whatsapp_reply_marks_the_customers_latest_message_read_just_before_it_goes(
    provider, loop, bridge, sandbox, drain, http, redis_client
):
    from bridge.conversations.threads import ThreadStore

    conversation_id = customer_wrote_twice(provider, bridge, sandbox, http, drain)
    admin_reply(sandbox, conversation_id, "Yes, sorry for the wait!")
    drain()

    latest = CUSTOMER_MESSAGES[provider][1]
    [read] = loop.state.reads
    assert (read.provider, read.message_id) == (provider, latest)
    if provider == "whatsapp":  # through the phone-number id the customer wrote to
        thread = ThreadStore(redis_client).by_conversation(conversation_id)
        assert read.business_number == thread.business_number
        assert read.request == {"messaging_product": "whatsapp", "status": "read", "message_id": latest}
    [sent] = loop.state.sends
    assert sent.text == "Yes, sorry for the wait!"
    # First the receipt, then the reply (which dismisses Twilio's typing indicator).
    assert first_request(loop, mentioning=latest) < first_request(loop, mentioning="sorry")


@pytest.mark.parametrize("provider", READ_PROVIDERS)
def test_each_reply_marks_read_once_even_when_its_send_is_retried(
    provider, loop, bridge, sandbox, drain, http
):
    conversation_id = customer_wrote_twice(provider, bridge, sandbox, http, drain)
    # The send stays down past its quick retries: the job fails and is retried, then it goes.
    http.post(f"{loop.url}/_standin/faults/{provider}", json={"statuses": [503] * 4}).raise_for_status()
    admin_reply(sandbox, conversation_id, "Thanks for waiting")
    drain()
    admin_reply(sandbox, conversation_id, "Anything else?")
    drain()

    assert [sent.text for sent in loop.state.sends] == ["Thanks for waiting", "Anything else?"]
    assert [read.message_id for read in loop.state.reads] == [CUSTOMER_MESSAGES[provider][1]] * 2
    assert not loop.state.faults.get(provider)  # the first reply did fail before it went


def test_a_read_receipt_the_provider_refuses_does_not_stop_the_reply(
    loop, bridge, sandbox, drain, http, redis_client
):
    from bridge.infra import keys
    from bridge.replies.ledger import ReplyStatus

    conversation_id = customer_wrote_twice("whatsapp", bridge, sandbox, http, drain)
    http.post(f"{loop.url}/_standin/faults/whatsapp:read", json={"statuses": [500]}).raise_for_status()
    admin_reply(sandbox, conversation_id, "On it!")
    drain()

    [sent] = loop.state.sends
    assert sent.text == "On it!" and loop.state.reads == []
    assert not loop.state.faults.get("whatsapp:read")  # the receipt was asked for, once, and failed
    [entry] = [redis_client.hgetall(key) for key in redis_client.keys(keys.reply("*"))]
    assert entry[b"status"] == ReplyStatus.SENT.value.encode()
    assert b"read_receipt" in entry  # asked once: a replay of the reply does not ask again


@pytest.mark.parametrize(
    ("provider", "whatsapp"), [("twilio", False), ("vonage", False), ("messagebird", True)]
)
def test_no_read_receipt_for_sms_nor_through_a_provider_without_one(
    provider, whatsapp, loop, bridge, sandbox, drain, http
):
    inbound(provider, bridge, http, drain, whatsapp=whatsapp)
    admin_reply(sandbox, only_conversation(sandbox)["id"], "Thanks!")
    drain()

    [sent] = loop.state.sends
    assert sent.text == "Thanks!" and loop.state.reads == []
    assert not [r for r in loop.state.requests if "Indicators/Typing" in r["path"] or r["method"] == "PATCH"]


def test_read_receipts_can_be_turned_off(loop, bridge, sandbox, drain, http, monkeypatch):
    monkeypatch.setenv("BRIDGE_READ_RECEIPTS", "false")
    reset_settings_cache()
    conversation_id = customer_wrote_twice("whatsapp", bridge, sandbox, http, drain)
    admin_reply(sandbox, conversation_id, "Hello from the team")
    drain()

    assert [sent.text for sent in loop.state.sends] == ["Hello from the team"] and loop.state.reads == []
