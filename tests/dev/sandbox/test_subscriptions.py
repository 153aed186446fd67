"""The sandbox's subscription types: a workspace's consent records as Intercom 2.16 serves them, each
contact's choices in `/_sandbox/state` and on the dashboard, refusals as Intercom gives them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bridge.dev.sandbox import Workspace, create_sandbox_app
from bridge.runtime.serving import BackgroundServer
from tests.dev.sandbox.test_errors import intercom_error
from tests.helpers import SandboxControl
from tests.intercom_openapi import conformance_problems

UNKNOWN_CONTACT = "000000000000000000000000"


@pytest.fixture
def lead(sandbox) -> dict[str, Any]:
    return sandbox.seed_contact(role="lead", phone="+14155550123", name="Ada")


def opt_out(sandbox, contact_id: str, type_id: Any = "1002", consent_type: Any = "opt_out") -> httpx.Response:
    body = {"id": type_id, "consent_type": consent_type}
    return sandbox.api("POST", f"/contacts/{contact_id}/subscriptions", json=body)


def conforms(sandbox) -> None:
    assert conformance_problems(sandbox.requests()) == []


def test_a_workspace_starts_with_a_live_opt_out_type_for_sms_and_one_for_email(sandbox):
    listed = sandbox.api("GET", "/subscription_types").json()
    assert listed["type"] == "list"
    assert [(t["content_types"], t["consent_type"], t["state"]) for t in listed["data"]] == [
        (["email"], "opt_out", "live"),
        (["sms_message"], "opt_out", "live"),
    ]
    assert listed["data"][1]["default_translation"]["name"] == "SMS messages"
    assert sandbox.state()["subscription_types"] == listed["data"]
    conforms(sandbox)


def test_attaching_opts_the_contact_out_and_shows_in_state_and_listing(sandbox, lead):
    answer = opt_out(sandbox, lead["id"])
    assert answer.status_code == 200, answer.text
    assert answer.json()["id"] == "1002" and answer.json()["type"] == "subscription"
    [contact] = sandbox.contacts()
    assert contact["subscriptions"] == [
        {
            "id": "1002",
            "name": "SMS messages",
            "content_types": ["sms_message"],
            "consent_type": "opt_out",
            "choice": "opted_out",
        }
    ]
    listed = sandbox.api("GET", f"/contacts/{lead['id']}/subscriptions").json()
    assert [t["id"] for t in listed["data"]] == ["1002"]
    assert opt_out(sandbox, lead["id"]).status_code == 200  # again: still one attachment
    assert len(sandbox.contacts()[0]["subscriptions"]) == 1
    conforms(sandbox)


def test_removing_the_attachment_opts_the_contact_back_in(sandbox, lead):
    opt_out(sandbox, lead["id"])
    removed = sandbox.api("DELETE", f"/contacts/{lead['id']}/subscriptions/1002")
    assert removed.status_code == 200 and removed.json()["id"] == "1002"
    assert sandbox.contacts()[0]["subscriptions"] == []
    assert sandbox.api("GET", f"/contacts/{lead['id']}/subscriptions").json()["data"] == []
    conforms(sandbox)


def test_the_dashboard_shows_the_contacts_sms_choice(sandbox, lead, http):
    assert "SMS: opted out" not in http.get(f"{sandbox.url}/").text
    opt_out(sandbox, lead["id"])
    page = http.get(f"{sandbox.url}/").text
    assert "SMS: opted out" in page and "SMS messages" in page


def test_an_unknown_contact_is_not_found_as_intercom_answers(sandbox):
    assert intercom_error(opt_out(sandbox, UNKNOWN_CONTACT), 404, "not_found")["message"] == "User Not Found"
    for method, path in [
        ("GET", f"/contacts/{UNKNOWN_CONTACT}/subscriptions"),
        ("DELETE", f"/contacts/{UNKNOWN_CONTACT}/subscriptions/1002"),
    ]:
        assert intercom_error(sandbox.api(method, path), 404, "not_found")["message"] == "User Not Found"
    conforms(sandbox)


def test_an_unknown_subscription_type_is_not_found_as_intercom_answers(sandbox, lead):
    error = intercom_error(opt_out(sandbox, lead["id"], "invalid_id"), 404, "not_found")  # the description's
    assert error["message"] == "Resource Not Found"
    detach = sandbox.api("DELETE", f"/contacts/{lead['id']}/subscriptions/999")
    assert intercom_error(detach, 404, "not_found")["message"] == "Resource Not Found"
    conforms(sandbox)


def test_removing_an_attachment_the_contact_lacks_is_not_found(sandbox, lead):
    response = sandbox.api("DELETE", f"/contacts/{lead['id']}/subscriptions/1002")
    assert intercom_error(response, 404, "not_found")["message"] == "Resource Not Found"


def test_a_missing_field_or_a_consent_type_other_than_the_types_own_is_refused(sandbox, lead):
    path = f"/contacts/{lead['id']}/subscriptions"
    missing = sandbox.api("POST", path, json={"id": "1002"})
    assert intercom_error(missing, 400, "parameter_not_found")["field"] == "consent_type"
    for consent in ("opt_in", "unsubscribe"):
        error = intercom_error(opt_out(sandbox, lead["id"], consent_type=consent), 400, "parameter_invalid")
        assert error["field"] == "consent_type"
    assert sandbox.contacts()[0]["subscriptions"] == []


def test_a_merged_contact_answers_410_with_the_survivor(sandbox, lead):
    user = sandbox.seed_contact(role="user", phone="+14155550123", email="ada@example.com")
    sandbox.api("POST", "/contacts/merge", json={"from": lead["id"], "into": user["id"]})
    gone = opt_out(sandbox, lead["id"])
    intercom_error(gone, 410, "contact_merged")
    assert gone.headers["link"] == f'</contacts/{user["id"]}>; rel="canonical"'


def test_the_switch_leaves_the_workspace_without_an_sms_type_and_back(sandbox, lead):
    opt_out(sandbox, lead["id"])
    sandbox.configure(sms_subscription_type=False)
    assert [t["content_types"] for t in sandbox.state()["subscription_types"]] == [["email"]]
    assert sandbox.contacts()[0]["subscriptions"] == []  # the type went, and the choices with it
    assert intercom_error(opt_out(sandbox, lead["id"]), 404, "not_found")
    sandbox.configure(sms_subscription_type=True)
    assert [t["id"] for t in sandbox.api("GET", "/subscription_types").json()["data"]] == ["1001", "1002"]
    page = httpx.get(f"{sandbox.url}/").text
    assert "No subscription type covers SMS" not in page


def test_configured_types_replace_the_defaults_and_reset_restores_them(sandbox):
    sandbox.configure(
        subscription_types=[{"name": "Texts", "content_types": ["sms_message"], "consent_type": "opt_in"}]
    )
    [texts] = sandbox.api("GET", "/subscription_types").json()["data"]
    assert (texts["id"], texts["consent_type"], texts["default_translation"]["name"]) == (
        "1001",
        "opt_in",
        "Texts",
    )
    sandbox.reset()
    assert len(sandbox.state()["subscription_types"]) == 2
    conforms(sandbox)


def test_a_type_intercom_could_not_hold_is_refused_by_the_switch(sandbox):
    response = httpx.put(
        f"{sandbox.url}/_sandbox/config",
        json={"subscription_types": [{"name": "Push", "content_types": ["push"]}]},
    )
    assert intercom_error(response, 400, "parameter_invalid")
    assert len(sandbox.state()["subscription_types"]) == 2


@pytest.fixture(scope="module")
def sandbox_without_sms() -> Iterator[SandboxControl]:
    """A sandbox started for a workspace that never set up SMS consent (any token is accepted)."""
    with BackgroundServer(create_sandbox_app(Workspace(sms_subscription_type=False))) as server:
        control = SandboxControl(server.url)
        try:
            yield control
        finally:
            control.close()


def test_a_workspace_can_start_without_an_sms_type_and_resets_to_none(sandbox_without_sms, http):
    listed = sandbox_without_sms.api("GET", "/subscription_types").json()["data"]
    assert [t["content_types"] for t in listed] == [["email"]]
    sandbox_without_sms.reset()
    assert [t["content_types"] for t in sandbox_without_sms.state()["subscription_types"]] == [["email"]]
    assert "No subscription type covers SMS" in http.get(f"{sandbox_without_sms.url}/").text
