"""The inbox app: "Merge with existing user/lead", driven as Intercom's inbox drives it.

Requests are Canvas Kit initialize/submit payloads signed with X-Body-Signature; every canvas the
bridge answers is validated against Intercom's Canvas Kit schemas (../shared/intercom-openapi).
Merges run against the sandbox, which merges as Intercom 2.16 does.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from typing import Any

import pytest

from tests.helpers import conversation_bodies, signed_twilio
from tests.inbox.support import ADMIN, BUSINESS, LEAD_NUMBER, buttons, texts

USER_NUMBER = "+14155550999"


def audit(http, bridge) -> list[dict[str, Any]]:
    response = http.get(f"{bridge.url}/admin/merges", headers={"Authorization": "Bearer test-admin-token"})
    assert response.status_code == 200
    return list(response.json()["merges"])


# --- signatures ---


@pytest.mark.parametrize("path", ["initialize", "submit"])
def test_unsigned_or_forged_requests_get_403(path, bridge, http):
    body = json.dumps({"workspace_id": "x"}).encode()
    assert http.post(f"{bridge.url}/intercom/inbox-app/{path}", content=body).status_code == 403
    forged = hmac.new(b"not-the-secret", body, hashlib.sha256).hexdigest()
    response = http.post(
        f"{bridge.url}/intercom/inbox-app/{path}", content=body, headers={"X-Body-Signature": forged}
    )
    assert response.status_code == 403


# --- the first canvas ---


def test_the_first_canvas_shows_the_contact_masked_and_a_field_to_find_another(inbox):
    app = inbox()
    said = texts(app.canvas)
    assert "lead" in said and "sms via twilio" in said
    assert "+14155" in said and LEAD_NUMBER not in said  # the phone, masked
    assert "find" in buttons(app.canvas)
    assert app.canvas["canvas"]["stored_data"] == {"from": app.contact["id"]}


# --- lead into user, the whole way ---


def test_a_lead_merged_into_a_user_takes_its_number_conversation_and_replies_along(
    inbox, sandbox, bridge, settings, http, drain, providers_at_standin
):
    user = sandbox.seed_contact(
        role="user",
        name="Ada Lovelace",
        email="ada@example.com",
        phone=USER_NUMBER,
        updated_at=int(time.time()) - 86400,
    )
    app = inbox()
    lead_id = app.contact["id"]

    preview = app.click("find", target="ada@example.com")
    assert "Merge lead" in texts(preview) and "This cannot be undone." in texts(preview)
    assert set(buttons(preview)) == {"confirm", "cancel"}
    refused = app.click("confirm")  # they share no email or phone: Intercom 2.16 refuses
    assert "share no email or phone" in texts(refused)
    assert "merge_anyway" in buttons(refused)
    done = app.click("merge_anyway")  # its own, explicit confirmation
    assert done["event"] == {"type": "completed"}
    assert "Merged" in texts(done)

    assert sandbox.api("GET", f"/contacts/{lead_id}").status_code == 410  # the lead is gone
    assert signed_twilio(bridge.url, settings, sender=LEAD_NUMBER, recipient=BUSINESS, text="still me").send(
        http
    )
    drain()
    [conversation] = [c for c in sandbox.conversations() if c["id"] == app.conversation["id"]]
    assert conversation["contacts"]["contacts"][0]["id"] == user["id"]
    assert conversation_bodies(conversation)[-1] == "still me"
    assert len(sandbox.conversations()) == 1

    sandbox.api(
        "POST",
        f"/conversations/{conversation['id']}/reply",
        json={"type": "admin", "admin_id": ADMIN["id"], "message_type": "comment", "body": "Welcome back"},
    )
    drain()
    assert [(s.to, s.text) for s in providers_at_standin.state.sends] == [(LEAD_NUMBER, "Welcome back")]

    outcomes = [(row["from_id"], row["into_id"], row["outcome"]) for row in audit(http, bridge)]
    assert outcomes[:2] == [(lead_id, user["id"], "merged"), (lead_id, user["id"], "refused_not_duplicates")]
    merged = audit(http, bridge)[0]
    assert merged["admin"]["id"] == ADMIN["id"] and merged["override"] is True
    assert merged["from_snapshot"]["role"] == "lead" and merged["into_snapshot"]["email"] == "ada@example.com"


def test_a_lead_and_user_sharing_the_number_merge_with_one_confirmation(inbox, sandbox, bridge, http):
    app = inbox()
    user = sandbox.seed_contact(role="user", name="Ada", email="ada@example.com", phone=LEAD_NUMBER)
    app.click("find", target=user["id"])
    done = app.click("confirm")
    assert "Merged" in texts(done)
    assert audit(http, bridge)[0]["outcome"] == "merged"


# --- refusals: a clear message, nothing merged, the attempt audited ---


def test_a_user_cannot_be_merged_into_a_user(inbox, sandbox, bridge, http):
    app = inbox()
    sandbox.api("PUT", f"/contacts/{app.contact['id']}", json={"role": "user"})
    other = sandbox.seed_contact(role="user", name="Grace", email="grace@example.com")
    answer = app.click("find", target=other["id"])
    assert "merges only a lead into a user" in texts(answer)
    assert "confirm" not in buttons(answer)
    assert sandbox.api("GET", f"/contacts/{app.contact['id']}").status_code == 200  # nothing merged
    assert audit(http, bridge)[0]["outcome"] == "refused_roles"


def test_a_contact_cannot_be_merged_into_itself(inbox, sandbox, bridge, http):
    app = inbox()
    answer = app.click("find", target=app.contact["id"])
    assert "this contact itself" in texts(answer)
    assert audit(http, bridge)[0]["outcome"] == "refused_same_contact"


def test_an_unknown_contact_is_named_and_the_agent_told_what_to_enter(inbox, sandbox, bridge, http):
    app = inbox()
    answer = app.click("find", target="000000000000000000000000")
    assert "No contact found" in texts(answer) and "profile URL" in texts(answer)
    assert audit(http, bridge)[0]["outcome"] == "not_found"
    assert len(sandbox.contacts()) == 1


def test_cancel_goes_back_without_merging(inbox, sandbox):
    app = inbox()
    user = sandbox.seed_contact(role="user", name="Ada", email="ada@example.com", phone=LEAD_NUMBER)
    app.click("find", target=user["id"])
    back = app.click("cancel")
    assert "find" in buttons(back)
    assert len(sandbox.contacts()) == 2
    assert sandbox.api("GET", f"/contacts/{app.contact['id']}").status_code == 200


def test_while_intercom_is_rate_limited_the_agent_is_told_to_try_again_instead_of_waiting(
    inbox, sandbox, bridge, settings, redis_client, http
):
    """A worker may wait out a 429 window; an agent looking at the app should not: Intercom
    gives a canvas request a few seconds. With every process paused for 10 s, the app answers at
    once that Intercom is busy (a worker would have waited the 10 s), and nothing is merged."""
    from bridge.infra.rate_budget import CallBudget

    app = inbox()
    user = sandbox.seed_contact(role="user", name="Ada", email="ada@example.com", phone=LEAD_NUMBER)
    budget = CallBudget.from_settings(settings, redis_client)
    assert budget is not None
    budget.pause(10.0)
    answer = app.click("find", target=user["id"])
    assert "try again in a moment" in texts(answer)
    assert "Confirm" not in texts(answer)
    assert len(sandbox.contacts()) == 2 and audit(http, bridge) == []


# --- ambiguity shown to agents ---


def test_a_number_two_contacts_hold_gives_exactly_one_note_naming_the_other_and_candidate_buttons(
    inbox, sandbox, bridge, settings, http, drain
):
    now = int(time.time())
    older = sandbox.seed_contact(role="user", name="Old Ada", phone=LEAD_NUMBER, updated_at=now - 86400)
    newer = sandbox.seed_contact(role="lead", name="New Ada", phone="+1 415-555-0123", updated_at=now - 60)
    app = inbox(text="first")
    assert signed_twilio(bridge.url, settings, sender=LEAD_NUMBER, recipient=BUSINESS, text="second").send(
        http
    )
    drain()

    conversation = sandbox.api("GET", f"/conversations/{app.conversation['id']}").json()
    assert conversation["contacts"]["contacts"][0]["id"] == newer["id"]
    notes = [
        p["body"]
        for p in conversation["conversation_parts"]["conversation_parts"]
        if p["part_type"] == "note"
    ]
    assert len(notes) == 1
    assert (
        older["id"] in notes[0]
        and "Old Ada" in notes[0]
        and newer["id"] not in notes[0].split("the others:")[1]
    )
    assert f"candidate:{older['id']}" in buttons(app.canvas)


# --- routing survives merges made outside the bridge ---


def test_a_lead_merged_in_intercom_itself_is_followed_through_its_link(
    inbox, sandbox, bridge, settings, http, drain
):
    app = inbox(text="hello")
    lead_id = app.contact["id"]
    user = sandbox.seed_contact(role="user", name="Ada", email="ada@example.com", phone=LEAD_NUMBER)
    merged = sandbox.api("POST", "/contacts/merge", json={"from": lead_id, "into": user["id"]})
    assert merged.status_code == 200  # an agent merged them in Intercom: the bridge was not told

    assert signed_twilio(bridge.url, settings, sender=LEAD_NUMBER, recipient=BUSINESS, text="again").send(
        http
    )
    drain()
    [conversation] = sandbox.conversations()
    assert conversation_bodies(conversation) == ["hello", "again"]
    assert conversation["contacts"]["contacts"][0]["id"] == user["id"]


def test_the_cli_lists_merges(inbox, sandbox, bridge, http, bridge_env):
    import os
    import subprocess
    import sys

    app = inbox()
    app.click("find", target="nobody@example.com")
    result = subprocess.run(
        [sys.executable, "-m", "bridge", "merges", "list"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "not_found" in result.stdout and app.contact["id"] in result.stdout


def test_the_admin_api_needs_the_token(bridge, http):
    assert http.get(f"{bridge.url}/admin/merges").status_code == 401
    assert (
        http.get(f"{bridge.url}/admin/merges", headers={"Authorization": "Bearer wrong"}).status_code == 401
    )
    assert (
        http.get(
            f"{bridge.url}/admin/merges", headers={"Authorization": "Bearer test-admin-token"}
        ).status_code
        == 200
    )


# --- requests that are not what Intercom sends (found by fuzzing: each was a 500) ---


def test_fields_of_the_wrong_type_get_400_naming_them(inbox):
    app = inbox()
    refused = [
        (
            "initialize",
            app._payload(contact={**app.contact, "phone": ["+1"]}),
            "contact.phone must be a string",
        ),
        ("initialize", app._payload(context=[app.conversation["id"]]), "context must be an object"),
        ("submit", app._payload(component_id="find", current_canvas="x"), "current_canvas must be an object"),
        ("submit", app._payload(input_values={"target": {}}), "input_values.target must be a string"),
    ]
    for path, payload, reason in refused:
        response = app.post(path, payload)
        assert (response.status_code, response.json()) == (400, {"detail": reason})


def test_a_target_that_is_no_contact_id_finds_nobody_and_never_becomes_a_url(inbox, sandbox):
    app = inbox()
    before = len(sandbox.requests())
    for target in ("\x0e", "000000000000000000000000\n", "../admins"):
        assert "No contact found" in texts(app.click("find", target=target))
    called = {request["path"] for request in sandbox.requests()[before:]}
    assert all(path == "/contacts/search" or re.fullmatch(r"/contacts/[0-9a-f]{24}", path) for path in called)
