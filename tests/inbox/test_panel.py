"""The inbox app's steps, called as the route calls them: each canvas says what it should, carries
what the agent chose in `stored_data`, never shows a full number, and a merge happens only on
Confirm (or on Merge anyway, after Intercom's own refusal). Against the sandbox and a real Redis.

The signed HTTP round trip and the schema of every canvas are tests/inbox/test_inbox_app.py's."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis

from bridge.conversations.threads import Thread, ThreadStore
from bridge.core.errors import MalformedPayload
from bridge.core.settings import Settings
from bridge.inbox.merges import MergeAudit
from bridge.inbox.panel import CANCEL, CANDIDATE_PREFIX, CONFIRM, FIND, OVERRIDE, InboxApp
from bridge.inbox.send_canvases import SEND_OPEN
from bridge.intercom.client import IntercomClient
from bridge.outreach.catalog import TemplateCatalog
from bridge.providers.registry import ADAPTERS
from tests.conversations.support import CUSTOMER as NUMBER
from tests.conversations.support import opened_thread
from tests.helpers import SandboxControl
from tests.inbox.support import buttons, texts

ADMIN = {"type": "admin", "id": "991267101", "name": "Sandbox Admin", "email": "admin@sandbox.test"}


@pytest.fixture
def app(redis_client: redis.Redis, settings: Settings) -> Iterator[InboxApp]:
    with IntercomClient.from_settings(settings) as intercom, httpx.Client() as http:
        catalog = TemplateCatalog(redis_client, settings, ADAPTERS, http)
        yield InboxApp(
            redis_client=redis_client,
            intercom=intercom,
            settings=settings,
            adapters=ADAPTERS,
            catalog=catalog,
        )


@pytest.fixture
def lead(sandbox: SandboxControl) -> dict[str, Any]:
    return sandbox.seed_contact(role="lead", phone=NUMBER, name="Ada (new phone)")


@pytest.fixture
def user(sandbox: SandboxControl) -> dict[str, Any]:
    """A user holding the lead's number: Intercom sees them as duplicates."""
    return sandbox.seed_contact(role="user", phone=NUMBER, name="Ada Lovelace", updated_at=1_700_000_000)


@pytest.fixture
def thread(redis_client: redis.Redis, lead: dict[str, Any], user: dict[str, Any]) -> Thread:
    """The conversation the lead's first SMS opened; the user also held the number then."""
    candidates = [
        {"id": lead["id"], "role": "lead", "name": lead["name"], "updated_at": 1_700_000_000},
        {"id": user["id"], "role": "user", "name": user["name"], "updated_at": 1_700_000_000},
    ]
    return opened_thread(redis_client, lead["id"], match_candidates=json.dumps(candidates))


def request(
    contact: dict[str, Any] | None,
    *,
    component_id: str | None = None,
    target: str | None = None,
    shown: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An initialize request (no `component_id`) or a submit, after the canvas `shown`."""
    payload: dict[str, Any] = {
        "workspace_id": "sandbox",
        "admin": ADMIN,
        "context": {"conversation_id": 101, "location": "conversation"},
        "contact": contact,
    }
    if component_id is not None:
        payload["component_id"] = component_id
        payload["input_values"] = {"target": target} if target is not None else {}
        payload["current_canvas"] = (shown or {}).get("canvas", {})
    return payload


def audited(redis_client: redis.Redis) -> list[str]:
    return [row["outcome"] for row in MergeAudit(redis_client).recent()]


# --- the first canvas ---


def test_outside_a_conversation_there_is_nothing_to_merge(app):
    shown = app.initialize(request(None))
    assert "Open a conversation with a customer" in texts(shown)
    assert buttons(shown) == {} and "stored_data" not in shown["canvas"]


def test_the_first_canvas_shows_the_contact_masked_its_channel_and_the_other_contacts_its_number_matched(
    app, lead, user, thread
):
    shown = app.initialize(request(lead))
    said = texts(shown)
    assert "Name: Ada (new phone)" in said and "Role: lead" in said
    assert "Channel: sms via twilio" in said
    assert NUMBER not in json.dumps(shown) and "Phone: +14155" in said
    assert buttons(shown) == {
        f"{CANDIDATE_PREFIX}{user['id']}": "Ada Lovelace (user, updated 2023-11-14)",  # not the lead itself
        FIND: "Find contact",
        SEND_OPEN: "Send SMS / WhatsApp",
    }
    assert shown["canvas"]["stored_data"] == {"from": lead["id"]}


def test_the_conversation_id_may_come_from_the_conversation_object(app, lead, thread):
    payload = request(lead)
    payload["context"] = {"location": "conversation"}
    payload["conversation"] = {"id": "101"}
    assert "Channel: sms via twilio" in texts(app.initialize(payload))


def test_a_field_of_the_wrong_type_is_refused_naming_it(app, lead):
    with pytest.raises(MalformedPayload, match=r"contact\.phone must be a string"):
        app.initialize(request(lead | {"phone": ["+1415"]}))


# --- finding the contact to merge into ---


def test_a_candidate_s_button_previews_the_merge_and_says_it_cannot_be_undone(app, lead, user, thread):
    first = app.initialize(request(lead))
    preview = app.submit(request(lead, component_id=f"{CANDIDATE_PREFIX}{user['id']}", shown=first))
    said = texts(preview)
    assert "Merge lead Ada (new phone) into user Ada Lovelace" in said and "This cannot be undone." in said
    assert "share no email or phone" not in said  # they share the number
    assert set(buttons(preview)) == {CONFIRM, CANCEL}
    assert preview["canvas"]["stored_data"] == {"from": lead["id"], "into": user["id"]}


def test_a_preview_warns_when_intercom_may_refuse(app, sandbox, lead, thread):
    stranger = sandbox.seed_contact(role="user", email="ada@example.com")
    preview = app.submit(request(lead, component_id=FIND, target="ada@example.com"))
    assert "They share no email or phone number" in texts(preview)
    assert preview["canvas"]["stored_data"] == {"from": lead["id"], "into": stranger["id"]}


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("nobody@example.com", "No contact found for “nobody@example.com”"),
        ("   ", "Enter the contact to merge into."),
    ],
)
def test_finding_nobody_says_what_to_type_and_is_audited(app, redis_client, lead, thread, typed, said):
    shown = app.submit(request(lead, component_id=FIND, target=typed))
    assert said in texts(shown)
    assert FIND in buttons(shown)  # the agent can try again
    assert audited(redis_client) == ["not_found"]


def test_a_merge_intercom_would_refuse_for_its_roles_is_refused_at_once_and_audited(
    app, sandbox, redis_client, lead, thread
):
    other_lead = sandbox.seed_contact(role="lead", email="other@example.com")
    shown = app.submit(request(lead, component_id=FIND, target=other_lead["id"]))
    assert "Intercom merges a lead only into a user" in texts(shown)
    assert CONFIRM not in buttons(shown)
    assert audited(redis_client) == ["refused_roles"]


# --- confirming ---


def test_nothing_is_merged_before_confirm_and_cancel_goes_back(
    app, sandbox, redis_client, lead, user, thread
):
    preview = app.submit(request(lead, component_id=f"{CANDIDATE_PREFIX}{user['id']}"))
    back = app.submit(request(lead, component_id=CANCEL, shown=preview))
    assert FIND in buttons(back) and "event" not in back
    assert sandbox.api("GET", f"/contacts/{lead['id']}").status_code == 200
    assert audited(redis_client) == []


def test_confirm_merges_the_contacts_the_canvas_stored_and_completes(
    app, sandbox, redis_client, lead, user, thread
):
    preview = app.submit(request(lead, component_id=f"{CANDIDATE_PREFIX}{user['id']}"))
    # Intercom sends the canvas back; the contact the panel now shows does not change the choice.
    done = app.submit(request(None, component_id=CONFIRM, shown=preview))
    assert done["event"] == {"type": "completed"}
    assert "Merged lead Ada (new phone) into user Ada Lovelace" in texts(done)
    assert sandbox.api("GET", f"/contacts/{lead['id']}").status_code == 410
    assert ThreadStore(redis_client).by_conversation("101").contact_id == user["id"]
    assert audited(redis_client) == ["merged"]


def test_intercom_s_refusal_asks_for_its_own_confirmation_before_merging_anyway(
    app, sandbox, redis_client, lead, thread
):
    stranger = sandbox.seed_contact(role="user", email="ada@example.com")
    preview = app.submit(request(lead, component_id=FIND, target="ada@example.com"))
    refused = app.submit(request(lead, component_id=CONFIRM, shown=preview))
    assert "Intercom refused the merge" in texts(refused) and "event" not in refused
    assert set(buttons(refused)) == {OVERRIDE, CANCEL}
    assert refused["canvas"]["stored_data"] == {"from": lead["id"], "into": stranger["id"]}
    assert sandbox.api("GET", f"/contacts/{lead['id']}").status_code == 200

    done = app.submit(request(lead, component_id=OVERRIDE, shown=refused))
    assert done["event"] == {"type": "completed"}
    assert audited(redis_client) == ["merged", "refused_not_duplicates"]


def test_without_a_contact_or_a_stored_choice_a_submit_merges_nothing(app, sandbox, redis_client):
    shown = app.submit(request(None, component_id=CONFIRM))
    assert "Open a conversation with a customer" in texts(shown)
    assert not [e for e in sandbox.requests() if e["path"] == "/contacts/merge"]
    assert audited(redis_client) == []


def test_intercom_out_of_reach_says_try_again_instead_of_failing(app, sandbox, lead, user, thread):
    sandbox.fault(503, times=None, path_prefix="/contacts")
    shown = app.submit(request(lead, component_id=f"{CANDIDATE_PREFIX}{user['id']}"))
    assert "Intercom could not be reached just now; try again in a moment." in texts(shown)
    assert buttons(shown) == {}
