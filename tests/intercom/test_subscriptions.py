"""The client's subscription types, over HTTP against the sandbox, every exchange checked against
Intercom's OpenAPI description: the workspace's SMS type found (or not), a contact opted out of it
and back in as Intercom documents it (attach, then remove the attachment)."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.core.errors import IntercomGone, IntercomNotFound
from bridge.intercom.models import SubscriptionType
from tests.intercom_openapi import conformance_problems

SMS = SubscriptionType(
    id="1002", state="live", consent_type="opt_out", content_types=("sms_message",), name="SMS messages"
)
EMAIL = SubscriptionType(
    id="1001", state="live", consent_type="opt_out", content_types=("email",), name="Newsletters"
)


@pytest.fixture
def lead(sandbox) -> str:
    return str(sandbox.seed_contact(role="lead", phone="+14155550123")["id"])


def sent(sandbox) -> list[tuple[str, str, Any]]:
    """(method, path, body) of every request the client sent, once each exchange is checked
    against the description."""
    exchanges = sandbox.requests()
    assert conformance_problems(exchanges) == []
    return [(e["method"], e["path"], e["request_body"]) for e in exchanges]


def choices(sandbox, contact_id: str) -> list[dict[str, Any]]:
    [contact] = [c for c in sandbox.state()["contacts"] if c["id"] == contact_id]
    return list(contact["subscriptions"])


def test_subscription_types_lists_the_workspaces_types_with_their_default_names(intercom, sandbox):
    assert intercom.subscription_types() == [EMAIL, SMS]
    assert sent(sandbox) == [("GET", "/subscription_types", None)]


def test_the_sms_type_is_the_live_one_covering_sms_messages(intercom, sandbox):
    sandbox.configure(
        subscription_types=[
            {"id": "7", "name": "Old SMS", "content_types": ["sms_message"], "state": "archived"},
            {"id": "8", "name": "Draft SMS", "content_types": ["sms_message"], "state": "draft"},
            {"id": "9", "name": "Newsletters", "content_types": ["email"]},
            {
                "id": "10",
                "name": "Texts",
                "content_types": ["email", "sms_message"],
                "consent_type": "opt_in",
            },
        ]
    )
    found = intercom.sms_subscription_type()
    assert found == SubscriptionType(
        id="10", state="live", consent_type="opt_in", content_types=("email", "sms_message"), name="Texts"
    )
    assert sent(sandbox) == [("GET", "/subscription_types", None)]


def test_a_workspace_without_an_sms_type_has_none(intercom, sandbox):
    sandbox.configure(sms_subscription_type=False)
    assert intercom.sms_subscription_type() is None
    assert intercom.subscription_types() == [EMAIL]


def test_opting_out_attaches_the_contact_to_the_opt_out_type(intercom, sandbox, lead):
    intercom.set_subscription(lead, SMS, opted_in=False)
    assert choices(sandbox, lead) == [
        {
            "id": "1002",
            "name": "SMS messages",
            "content_types": ["sms_message"],
            "consent_type": "opt_out",
            "choice": "opted_out",
        }
    ]
    assert sent(sandbox) == [
        ("POST", f"/contacts/{lead}/subscriptions", {"id": "1002", "consent_type": "opt_out"})
    ]
    assert intercom.contact_subscriptions(lead) == [SMS]


def test_opting_back_in_removes_the_attachment_as_intercom_documents(intercom, sandbox, lead):
    intercom.set_subscription(lead, SMS, opted_in=False)
    intercom.set_subscription(lead, SMS, opted_in=True)
    assert choices(sandbox, lead) == []
    assert sent(sandbox)[1:] == [
        ("GET", f"/contacts/{lead}/subscriptions", None),
        ("DELETE", f"/contacts/{lead}/subscriptions/1002", None),
    ]
    assert intercom.contact_subscriptions(lead) == []


def test_both_directions_are_idempotent(intercom, sandbox, lead):
    intercom.set_subscription(lead, SMS, opted_in=True)  # never opted out: nothing to remove
    assert [request[0] for request in sent(sandbox)] == ["GET"]
    intercom.set_subscription(lead, SMS, opted_in=False)
    intercom.set_subscription(lead, SMS, opted_in=False)
    assert [c["choice"] for c in choices(sandbox, lead)] == ["opted_out"]


def test_an_opt_in_type_is_attached_to_opt_in_and_detached_to_opt_out(intercom, sandbox, lead):
    sandbox.configure(
        subscription_types=[
            {"id": "55", "name": "SMS", "content_types": ["sms_message"], "consent_type": "opt_in"}
        ]
    )
    sms = intercom.sms_subscription_type()
    assert sms is not None and sms.consent_type == "opt_in"
    intercom.set_subscription(lead, sms, opted_in=True)
    assert [c["choice"] for c in choices(sandbox, lead)] == ["opted_in"]
    intercom.set_subscription(lead, sms, opted_in=False)
    assert choices(sandbox, lead) == []
    assert [(method, path) for method, path, _ in sent(sandbox)][1:] == [
        ("POST", f"/contacts/{lead}/subscriptions"),
        ("GET", f"/contacts/{lead}/subscriptions"),
        ("DELETE", f"/contacts/{lead}/subscriptions/55"),
    ]
    assert sent(sandbox)[1][2] == {"id": "55", "consent_type": "opt_in"}


def test_an_unknown_contact_is_not_found(intercom, sandbox):
    with pytest.raises(IntercomNotFound) as caught:
        intercom.set_subscription("000000000000000000000000", SMS, opted_in=False)
    assert (caught.value.status, caught.value.message) == (404, "User Not Found")
    with pytest.raises(IntercomNotFound):
        intercom.set_subscription("000000000000000000000000", SMS, opted_in=True)
    sent(sandbox)


def test_a_type_the_workspace_no_longer_has_is_not_found(intercom, sandbox, lead):
    sandbox.configure(sms_subscription_type=False)
    with pytest.raises(IntercomNotFound) as caught:
        intercom.set_subscription(lead, SMS, opted_in=False)
    assert caught.value.message == "Resource Not Found"
    sent(sandbox)


def test_a_merged_contact_answers_gone_naming_the_survivor(intercom, sandbox, lead):
    user = sandbox.seed_contact(role="user", phone="+14155550123", email="ada@example.com")
    sandbox.api("POST", "/contacts/merge", json={"from": lead, "into": user["id"]})
    with pytest.raises(IntercomGone) as caught:
        intercom.set_subscription(lead, SMS, opted_in=False)
    assert caught.value.canonical_id == user["id"]


def test_a_consent_type_the_client_does_not_know_is_refused_before_any_request(intercom, sandbox, lead):
    odd = SubscriptionType(
        id="1002", state="live", consent_type="double_opt_in", content_types=("sms_message",)
    )
    with pytest.raises(ValueError, match="double_opt_in"):
        intercom.set_subscription(lead, odd, opted_in=False)
    assert sandbox.requests() == []
