"""Every request the bridge sends, and every answer the sandbox gives, against Intercom's own
OpenAPI description (2.16, ../shared/intercom-openapi).

Its two known defects (`format: uuid` contact ids, `integer` timestamps with `format: date-time`)
are dropped on loading (tests/intercom_openapi.py); nothing else is relaxed.
"""

from __future__ import annotations

import re
import time

import pytest
import redis

from bridge.contacts.lookup import build_lookup
from bridge.contacts.matching import ContactPriority
from bridge.contacts.resolution import IdentityMap
from bridge.contacts.sync import sync_contacts
from bridge.core.settings import reset_settings_cache
from bridge.intercom.client import IntercomClient
from bridge.intercom.models import ContactRef
from tests.helpers import signed_twilio
from tests.intercom_openapi import (
    conformance_problems,
    exchange_request,
    exchange_response,
    intercom_openapi,
    reason,
)

ADMIN_ID = "991267101"  # the sandbox's admin
SANDBOX_TEAM = "991267301"  # the sandbox's team


def _workload(bridge, settings, sandbox, drain, http, standin) -> None:
    """A bit of everything the bridge does against Intercom, plus the sandbox's error answers."""
    from bridge.dev.standins import StoredMedia

    now = int(time.time())
    standin.state.media["ME1"] = StoredMedia(b"\xff\xd8\xff a photo", "image/jpeg")
    standin.state.media["ME2"] = StoredMedia(b"\x89PNG\r\n\x1a\n a picture", "image/png")
    sandbox.seed_contact(
        role="user", phone="+14155550123", name="Ada", email="ada@example.com", updated_at=now - 10
    )
    sandbox.seed_contact(role="lead", phone="+1 415-555-0123", updated_at=now - 100)
    for text in ("known number", "and again"):
        signed_twilio(bridge.url, settings, sender="+14155550123", recipient="+14155550100", text=text).send(
            http
        )
        drain()
    signed_twilio(
        bridge.url,
        settings,
        sender="+31612345678",
        recipient="+14155550100",
        text="hoi",
        whatsapp=True,
        profile_name="Sanne",
    ).send(http)
    signed_twilio(
        bridge.url,
        settings,
        sender="+14155550177",
        recipient="+14155550100",
        text="pics",
        media=tuple(f"{standin.url}/2010-04-01/Accounts/AC1/Messages/MM1/Media/{m}" for m in ("ME1", "ME2")),
    ).send(http)
    sandbox.fault(429, times=1)
    drain()
    # The sandbox's other answers: merge, 410, 409, 404, admins, /me.
    users = [c for c in sandbox.contacts() if c["role"] == "user"]
    leads = [c for c in sandbox.contacts() if c["role"] == "lead"]
    sandbox.api(
        "POST",
        "/contacts/merge",
        json={"from": leads[0]["id"], "into": users[0]["id"], "skip_duplicate_validation": True},
    )
    sandbox.api("GET", f"/contacts/{leads[0]['id']}")
    sandbox.api("POST", "/contacts", json={"role": "user", "email": "ada@example.com"})
    sandbox.api("GET", "/contacts/000000000000000000000000")
    sandbox.api("PUT", f"/contacts/{users[0]['id']}", json={"name": "Ada Lovelace"})
    sandbox.api("GET", f"/conversations/{sandbox.conversations()[0]['id']}")
    sandbox.api("GET", "/admins")
    sandbox.api("GET", "/me")
    # `bridge contacts sync` pages through GET /contacts (cursor in the query); `lookup` only reads.
    sandbox.api("GET", "/contacts", params={"starting_after": "not-a-cursor"})
    with IntercomClient.from_settings(settings) as intercom:
        redis_client = redis.Redis.from_url(settings.redis_url)
        try:
            sync_contacts(
                redis_client=redis_client,
                intercom=intercom,
                default_region=settings.default_region,
                priority=ContactPriority.LATEST_UPDATED,
                per_page=2,
            )
            build_lookup(
                "+14155550123",
                region="US",
                identities=IdentityMap(redis_client),
                intercom=intercom,
                priority=ContactPriority.LATEST_UPDATED,
            )
        finally:
            redis_client.close()
        # The team writes first (issue 14): an admin's message, its conversation found by search, a reply.
        ada = ContactRef(id=users[0]["id"], role="user")
        message = intercom.create_admin_message(contact=ada, admin_id=ADMIN_ID, body="Your order shipped")
        intercom.conversation_for_message(message.message_id)
        intercom.reply_as_admin(
            message.conversation_id,
            admin_id=ADMIN_ID,
            body="Tracking attached",
            attachment_urls=["https://media.example.com/label.pdf"],
        )
        # Consent (issue 15): Ada opted out of the workspace's SMS subscription type, then back in.
        sms = intercom.sms_subscription_type()
        assert sms is not None
        intercom.set_subscription(ada.id, sms, opted_in=False)
        intercom.set_subscription(ada.id, sms, opted_in=True)
        subscriptions = "/contacts/000000000000000000000000/subscriptions"
        sandbox.api("POST", subscriptions, json={"id": sms.id, "consent_type": "opt_out"})
        sandbox.api("DELETE", f"/contacts/{ada.id}/subscriptions/{sms.id}")  # no longer attached
        # A conversation's context (issue 17): assigned to a team, the teams and teammates listed as
        # `bridge doctor` lists them for BRIDGE_ROUTES.
        intercom.assign_conversation(
            message.conversation_id, admin_id=ADMIN_ID, assignee_type="team", assignee_id=SANDBOX_TEAM
        )
        assert intercom.teams() and intercom.admins()
    conversation_id = sandbox.conversations()[0]["id"]
    sandbox.api("GET", f"/teams/{SANDBOX_TEAM}")
    sandbox.api("GET", f"/admins/{ADMIN_ID}")
    sandbox.api("GET", "/tags")
    # Its refusals: an attribute nobody defined, a tag that does not exist, a team that does not.
    sandbox.api("PUT", f"/conversations/{conversation_id}", json={"custom_attributes": {"undefined": "x"}})
    sandbox.api("POST", f"/conversations/{conversation_id}/tags", json={"id": "1", "admin_id": ADMIN_ID})
    assignment = {"message_type": "assignment", "type": "team", "admin_id": ADMIN_ID, "assignee_id": "1"}
    sandbox.api("POST", f"/conversations/{conversation_id}/parts", json=assignment)
    admin = {"type": "admin", "id": int(ADMIN_ID)}
    unknown = {"type": "lead", "id": "000000000000000000000000"}
    sandbox.api(
        "POST", "/messages", json={"message_type": "in_app", "from": admin, "to": unknown, "body": "x"}
    )
    blank = {
        "message_type": "in_app",
        "from": admin,
        "to": {"type": "user", "id": users[0]["id"]},
        "body": "",
    }
    sandbox.api("POST", "/messages", json=blank)  # a valid request Intercom refuses: "Body is required"


def test_every_exchange_conforms_to_intercoms_openapi(
    providers_at_standin, bridge, settings, sandbox, drain, http, monkeypatch
):
    # The business number's new conversations are assigned to the sandbox's admin (issue 17).
    monkeypatch.setenv("BRIDGE_ROUTES", f"+14155550100=admin:{ADMIN_ID}")
    reset_settings_cache()
    _workload(bridge, settings, sandbox, drain, http, providers_at_standin)
    exchanges = sandbox.requests()
    operations = {(e["method"], e["path"].split("/")[1], e["status"]) for e in exchanges}
    # The workload must really cover what the bridge does, and the error answers.
    for expected in [
        ("POST", "contacts", 200),
        ("POST", "conversations", 200),
        ("GET", "contacts", 410),
        ("POST", "contacts", 409),
        ("GET", "contacts", 404),
        ("GET", "me", 200),
        ("GET", "subscription_types", 200),
        ("POST", "messages", 200),
        ("POST", "messages", 404),
        ("POST", "messages", 400),
    ]:
        assert expected in operations, expected
    assert any(e["status"] == 429 for e in exchanges)
    for method, status in [("GET", 200), ("POST", 200), ("POST", 404)]:
        assert any(
            (e["method"], e["status"]) == (method, status) and e["path"].endswith("/subscriptions")
            for e in exchanges
        ), (method, status)
    assert [(e["method"], e["status"]) for e in exchanges if "/subscriptions/" in e["path"]] == [
        ("DELETE", 200),
        ("DELETE", 404),
    ]
    assert any(e["path"].endswith("/reply") for e in exchanges)
    assert any(len((e["request_body"] or {}).get("attachment_files") or []) == 2 for e in exchanges)
    assert any(e["path"] == "/conversations/search" and e["status"] == 200 for e in exchanges)
    # A conversation's context (issue 17): its attributes defined and set, its tag, its assignee,
    # the customer's own time on what they wrote.
    paths = {(e["method"], re.sub(r"/[0-9]+(?=/|$)", "/{id}", e["path"]), e["status"]) for e in exchanges}
    for expected in [
        ("GET", "/conversations/attributes", 200),
        ("POST", "/conversations/attributes", 200),
        ("PUT", "/conversations/{id}", 200),
        ("PUT", "/conversations/{id}", 400),
        ("POST", "/tags", 200),
        ("POST", "/conversations/{id}/tags", 200),
        ("POST", "/conversations/{id}/tags", 404),
        ("POST", "/conversations/{id}/parts", 200),
        ("POST", "/conversations/{id}/parts", 404),
        ("GET", "/teams", 200),
        ("GET", "/teams/{id}", 200),
        ("GET", "/admins/{id}", 200),
        ("GET", "/tags", 200),
    ]:
        assert expected in paths, expected
    routed = [e for e in exchanges if e["path"].endswith("/parts") and e["request_body"]["type"] == "admin"]
    assert routed and routed[0]["status"] == 200
    assert all(
        isinstance(e["request_body"].get("created_at"), int)
        for e in exchanges
        if e["status"] == 200 and (e["method"], e["path"]) == ("POST", "/conversations")
    )
    assert any(
        isinstance(e["request_body"].get("created_at"), int) and e["request_body"].get("type") == "user"
        for e in exchanges
        if e["path"].endswith("/reply")
    )
    assert any(
        (e["method"], e["path"], e["status"]) == ("GET", "/contacts", 200) and "starting_after" in e["query"]
        for e in exchanges
    )

    problems = conformance_problems(exchanges)
    assert problems == [], "\n".join(problems)


def test_the_bridge_always_sends_the_pinned_version_and_a_bearer_token(
    bridge, settings, sandbox, drain, http
):
    signed_twilio(bridge.url, settings, sender="+14155550123", recipient="+14155550100", text="hi").send(http)
    drain()
    exchanges = sandbox.requests()
    assert exchanges
    for exchange in exchanges:
        assert exchange["request_headers"]["intercom-version"] == "2.16"
        assert exchange["request_headers"]["authorization"].startswith("Bearer ")


def test_the_check_is_not_vacuous_a_wrong_request_and_answer_are_caught():
    wrong_request = {
        "method": "POST",
        "path": "/conversations",
        "request_headers": {"intercom-version": "2.16", "authorization": "Bearer t"},
        "request_body": {"body": "no sender"},
    }
    with pytest.raises(Exception) as caught:
        intercom_openapi().validate_request(exchange_request(wrong_request))
    assert "from" in reason(caught.value)
    wrong_answer = {
        **wrong_request,
        "request_body": {"from": {"type": "lead", "id": "a" * 24}, "body": "hi"},
        "status": 200,
        "response_headers": {},
        "response_body": {"type": "user_message", "id": "1"},
    }
    with pytest.raises(Exception) as caught:
        intercom_openapi().validate_response(exchange_request(wrong_answer), exchange_response(wrong_answer))
    assert "created_at" in reason(caught.value) or "conversation_id" in reason(caught.value)
