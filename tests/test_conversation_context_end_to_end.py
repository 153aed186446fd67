"""Conversations that carry their context (issue 17), on real parts: the bridge's web app, Valkey,
the Intercom sandbox over HTTP, the providers' stand-ins and the in-process worker.

A bridged conversation says its channel, provider and business number (conversation attributes
and a channel tag) for two calls when it opens and none when it continues; a routed business
number's conversations are assigned to its team; a message reaches Intercom at the customer's
own time, and says so when it arrives late.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest
from rq.registry import FailedJobRegistry

from bridge.core.settings import reset_settings_cache
from bridge.infra import keys
from bridge.infra.queueing import inbound_queue
from tests.helpers import conversation_bodies, post_message, signed_meta, signed_twilio

CUSTOMER, BUSINESS = "+14155550123", "+14155550100"
PHONE_NUMBER_ID = "106540352242922"  # the business, as Meta names it
ADMIN_ID = "991267101"  # INTERCOM_ADMIN_ID in the tests' environment: the sandbox's admin
SMS_LABELS = {
    "bridge_channel": "sms",
    "bridge_provider": "twilio",
    "bridge_business_number": BUSINESS,
}


def text(bridge, settings, http, drain, body: str, *, sender: str = CUSTOMER, to: str = BUSINESS) -> None:
    response = signed_twilio(bridge.url, settings, sender=sender, recipient=to, text=body).send(http)
    assert response.status_code == 200
    drain()


def calls_since(sandbox, seen: int) -> list[tuple[str, str]]:
    """The Intercom calls made after the first `seen`: method and path."""
    return [(r["method"], r["path"]) for r in sandbox.requests()[seen:]]


def conversation_of(sandbox, sender: str = CUSTOMER) -> dict[str, Any]:
    [found] = [c for c in sandbox.conversations() if _phone(sandbox, c) == sender]
    return found


def tag_names(conversation: dict[str, Any]) -> list[str]:
    return [tag["name"] for tag in conversation["tags"]["tags"]]


def _phone(sandbox, conversation: dict[str, Any]) -> str:
    contact_id = conversation["contacts"]["contacts"][0]["id"]
    return str(next(c["phone"] for c in sandbox.contacts() if c["id"] == contact_id))


def test_a_new_conversation_carries_its_attributes_and_tag_and_a_continued_message_costs_nothing(
    bridge, settings, sandbox, drain, http
):
    text(bridge, settings, http, drain, "first")

    conversation = conversation_of(sandbox)
    assert conversation["custom_attributes"] == SMS_LABELS
    assert tag_names(conversation) == ["SMS"]
    assert conversation["tags"]["tags"][0]["applied_by"] == {"type": "admin", "id": ADMIN_ID}
    path = f"/conversations/{conversation['id']}"
    labelling = [call for call in calls_since(sandbox, 0) if call[1] in (path, f"{path}/tags")]
    assert labelling == [("PUT", path), ("POST", f"{path}/tags")]

    seen = len(sandbox.requests())
    text(bridge, settings, http, drain, "second")
    assert calls_since(sandbox, seen) == [("POST", f"{path}/reply")]  # not one call more

    # Another customer's new conversation: the definitions are known, two calls more than the open.
    seen = len(sandbox.requests())
    text(bridge, settings, http, drain, "hello", sender="+14155550177")
    other = conversation_of(sandbox, "+14155550177")
    after_open = calls_since(sandbox, seen)
    after_open = after_open[after_open.index(("POST", "/conversations")) + 1 :]
    assert after_open == [
        ("PUT", f"/conversations/{other['id']}"),
        ("POST", f"/conversations/{other['id']}/tags"),
    ]
    assert other["custom_attributes"] == SMS_LABELS and tag_names(other) == ["SMS"]


def test_an_sms_with_media_is_labelled_mms_and_tagged_sms(
    providers_at_standin, bridge, settings, sandbox, drain, http
):
    from bridge.dev.standins import StoredMedia

    providers_at_standin.state.media["ME1"] = StoredMedia(b"\xff\xd8\xff a photo", "image/jpeg")
    media = (f"{providers_at_standin.url}/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",)
    signed_twilio(bridge.url, settings, sender=CUSTOMER, recipient=BUSINESS, text="look", media=media).send(
        http
    )
    drain()

    conversation = conversation_of(sandbox)
    assert conversation["custom_attributes"]["bridge_channel"] == "mms"
    assert tag_names(conversation) == ["SMS"]


def test_a_whatsapp_conversation_names_its_phone_number_id_and_is_tagged_whatsapp(
    bridge, settings, sandbox, drain, http
):
    request = signed_meta(
        bridge.url,
        settings,
        sent_at=time.time(),
        sender="+31612345678",
        recipient=PHONE_NUMBER_ID,
        text="hoi",
    )
    assert request.send(http).status_code == 200
    drain()

    [conversation] = sandbox.conversations()
    assert conversation["custom_attributes"] == {
        "bridge_channel": "whatsapp",
        "bridge_provider": "whatsapp",
        "bridge_business_number": PHONE_NUMBER_ID,
    }
    assert tag_names(conversation) == ["WhatsApp"]


def test_a_conversation_opened_before_the_labels_gets_them_once_when_it_continues(
    bridge, settings, sandbox, drain, http, redis_client
):
    text(bridge, settings, http, drain, "from last year")
    # As the previous version left its thread: nothing says the conversation was labelled.
    [thread_key] = [k for k in redis_client.scan_iter(keys.thread("*"))]
    redis_client.hdel(thread_key, "labelled_at")
    path = f"/conversations/{conversation_of(sandbox)['id']}"

    seen = len(sandbox.requests())
    text(bridge, settings, http, drain, "still there?")
    assert calls_since(sandbox, seen) == [("POST", f"{path}/reply"), ("PUT", path), ("POST", f"{path}/tags")]
    assert float(redis_client.hget(thread_key, "labelled_at")) > 0

    seen = len(sandbox.requests())
    text(bridge, settings, http, drain, "hello?")
    assert calls_since(sandbox, seen) == [("POST", f"{path}/reply")]


@pytest.fixture
def routed(bridge_env, sandbox, monkeypatch) -> None:
    """`BRIDGE_ROUTES` sends the business number's conversations to the Sales team (501)."""
    sandbox.configure(teams=[{"id": "501", "name": "Sales"}])
    monkeypatch.setenv("BRIDGE_ROUTES", f"{BUSINESS}=team:501")
    reset_settings_cache()


def test_a_routed_numbers_new_conversation_is_assigned_to_its_team_and_others_left_to_intercom(
    routed, bridge, settings, sandbox, drain, http
):
    text(bridge, settings, http, drain, "I want to buy")
    conversation = conversation_of(sandbox)
    assert (conversation["team_assignee_id"], conversation["admin_assignee_id"]) == (501, 0)
    [assignment] = [
        r["request_body"]
        for r in sandbox.requests()
        if r["path"] == f"/conversations/{conversation['id']}/parts"
    ]
    assert assignment == {
        "message_type": "assignment",
        "type": "team",
        "admin_id": ADMIN_ID,
        "assignee_id": "501",
    }

    text(bridge, settings, http, drain, "the blue one")  # a continued conversation is not assigned again
    # Another business number, not in BRIDGE_ROUTES: Intercom's own assignment has it.
    text(bridge, settings, http, drain, "support please", sender="+14155550177", to="+14155550199")
    assert sum(r["path"].endswith("/parts") for r in sandbox.requests()) == 1
    assert conversation_of(sandbox, "+14155550177")["team_assignee_id"] == 0


def test_a_late_whatsapp_message_reaches_intercom_at_the_customers_time_saying_it_is_late(
    bridge, settings, sandbox, drain, http
):
    now = time.time()
    sent = int(now - 2 * 3600 - 10 * 60)  # Meta retried for two hours while the bridge was down
    late = signed_meta(
        bridge.url, settings, sent_at=sent, sender="+31612345678", recipient=PHONE_NUMBER_ID, text="hola"
    )
    assert late.send(http).status_code == 200
    drain()

    [create] = [r for r in sandbox.requests() if (r["method"], r["path"]) == ("POST", "/conversations")]
    assert create["request_body"]["created_at"] == sent
    [conversation] = sandbox.conversations()
    assert conversation["created_at"] == sent
    sent_clock = datetime.fromtimestamp(sent, UTC).strftime("%H:%M")
    [body] = conversation_bodies(conversation)
    assert body.startswith(f"hola\n(sent {sent_clock}, received ")
    assert body.endswith(" UTC)")

    # Another, on time: the customer's time too, and no line.
    on_time = signed_meta(
        bridge.url,
        settings,
        sent_at=time.time(),
        sender="+31612345678",
        recipient=PHONE_NUMBER_ID,
        text="¿hola?",
    )
    assert on_time.send(http).status_code == 200
    drain()
    [reply] = [r for r in sandbox.requests() if r["path"].endswith("/reply")]
    assert abs(reply["request_body"]["created_at"] - time.time()) < 60
    assert conversation_bodies(sandbox.conversations()[0])[1] == "¿hola?"


def test_intercom_unavailable_while_tagging_retries_the_job_without_posting_the_message_twice(
    bridge, settings, sandbox, drain, http, redis_client
):
    sandbox.fault(503, times=4, path_prefix="/tags")  # every quick retry of the job's first attempt
    text(bridge, settings, http, drain, "only once")

    conversation = conversation_of(sandbox)
    assert conversation_bodies(conversation) == ["only once"]
    assert tag_names(conversation) == ["SMS"] and conversation["custom_attributes"] == SMS_LABELS
    assert FailedJobRegistry(queue=inbound_queue(redis_client)).get_job_ids() == []


def test_a_tag_intercom_refuses_costs_neither_the_message_nor_a_call_on_the_next(
    bridge, settings, sandbox, drain, http
):
    sandbox.fault(403, times=None, path_prefix="/tags")  # a token without the permission, say
    text(bridge, settings, http, drain, "hi")
    conversation = conversation_of(sandbox)
    assert conversation_bodies(conversation) == ["hi"]
    assert conversation["custom_attributes"] == SMS_LABELS and tag_names(conversation) == []

    seen = len(sandbox.requests())
    text(bridge, settings, http, drain, "again")
    assert calls_since(sandbox, seen) == [("POST", f"/conversations/{conversation['id']}/reply")]


def test_an_attribute_archived_and_a_tag_deleted_in_intercom_are_defined_again(
    bridge, settings, sandbox, drain, http
):
    text(bridge, settings, http, drain, "first")
    [channel] = [
        a
        for a in sandbox.api("GET", "/conversations/attributes").json()["data"]
        if a["name"] == "bridge_channel"
    ]
    assert sandbox.api("DELETE", f"/conversations/attributes/{channel['id']}").status_code == 200
    [tag] = sandbox.api("GET", "/tags").json()["data"]
    assert sandbox.api("DELETE", f"/tags/{tag['id']}").status_code == 200

    text(bridge, settings, http, drain, "hello", sender="+14155550177")
    other = conversation_of(sandbox, "+14155550177")
    assert other["custom_attributes"] == SMS_LABELS
    assert tag_names(other) == ["SMS"] and other["tags"]["tags"][0]["id"] != tag["id"]


def test_a_conversation_the_team_opens_carries_its_attributes_and_tag(
    providers_at_standin, bridge, sandbox, drain, http
):
    body = {"to": CUSTOMER, "provider": "twilio", "from": BUSINESS, "text": "Your order shipped"}
    assert post_message(http, bridge.url, body).status_code == 202
    drain()

    [conversation] = sandbox.conversations()
    assert conversation["source"]["author"]["type"] == "admin"
    assert conversation["custom_attributes"] == SMS_LABELS
    assert tag_names(conversation) == ["SMS"]
    assert conversation["team_assignee_id"] == 0  # the team's own: not routed
