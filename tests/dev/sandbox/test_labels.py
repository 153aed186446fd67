"""The sandbox keeps a conversation's context as Intercom does: conversation attributes defined
first and checked when set, tags by name and id, teams and assignments, and the `created_at` a
conversation or a contact's reply was given."""

from __future__ import annotations

from typing import Any

ADMIN_ID = "991267101"  # the sandbox's admin


def new_conversation(sandbox, **extra: Any) -> dict[str, Any]:
    lead = sandbox.seed_contact(role="lead", phone="+14155550123")
    created = sandbox.api(
        "POST", "/conversations", json={"from": {"type": "lead", "id": lead["id"]}, "body": "hi", **extra}
    )
    assert created.status_code == 200, created.text
    return dict(sandbox.api("GET", f"/conversations/{created.json()['conversation_id']}").json())


def test_a_conversation_attribute_must_be_defined_and_of_its_type(sandbox):
    conversation = new_conversation(sandbox)
    path = f"/conversations/{conversation['id']}"
    undefined = sandbox.api("PUT", path, json={"custom_attributes": {"bridge_channel": "sms"}})
    assert undefined.status_code == 400
    assert "'bridge_channel' does not exist" in undefined.json()["errors"][0]["message"]

    defined = sandbox.api(
        "POST", "/conversations/attributes", json={"name": "bridge_channel", "data_type": "string"}
    )
    assert defined.status_code == 200 and defined.json()["type"] == "conversation_attribute"
    again = sandbox.api(
        "POST", "/conversations/attributes", json={"name": "bridge_channel", "data_type": "string"}
    )
    assert again.status_code == 422
    assert sandbox.api("PUT", path, json={"custom_attributes": {"bridge_channel": 3}}).status_code == 400
    updated = sandbox.api("PUT", path, json={"custom_attributes": {"bridge_channel": "sms"}})
    assert updated.status_code == 200
    assert updated.json()["custom_attributes"] == {"bridge_channel": "sms"}
    [listed] = sandbox.api("GET", "/conversations/attributes").json()["data"]
    assert listed["name"] == "bridge_channel"

    # Archived (Intercom's DELETE): no longer listed, its values refused, its name free again.
    assert sandbox.api("DELETE", f"/conversations/attributes/{listed['id']}").json()["archived"] is True
    assert sandbox.api("GET", "/conversations/attributes").json()["data"] == []
    assert sandbox.api("PUT", path, json={"custom_attributes": {"bridge_channel": "mms"}}).status_code == 400


def test_a_tag_is_found_by_name_in_any_case_and_applied_once_by_an_admin(sandbox):
    conversation = new_conversation(sandbox)
    created = sandbox.api("POST", "/tags", json={"name": "WhatsApp"}).json()
    assert sandbox.api("POST", "/tags", json={"name": "whatsapp"}).json()["id"] == created["id"]
    path = f"/conversations/{conversation['id']}/tags"

    assert sandbox.api("POST", path, json={"id": "999", "admin_id": ADMIN_ID}).status_code == 404
    assert sandbox.api("POST", path, json={"id": created["id"], "admin_id": "1"}).status_code == 404
    applied = sandbox.api("POST", path, json={"id": created["id"], "admin_id": ADMIN_ID}).json()
    assert applied["applied_by"] == {"type": "admin", "id": ADMIN_ID}
    sandbox.api("POST", path, json={"id": created["id"], "admin_id": ADMIN_ID})
    tags = sandbox.api("GET", f"/conversations/{conversation['id']}").json()["tags"]["tags"]
    assert [tag["name"] for tag in tags] == ["WhatsApp"]

    assert sandbox.api("DELETE", f"/tags/{created['id']}").status_code == 200
    assert sandbox.api("GET", f"/conversations/{conversation['id']}").json()["tags"]["tags"] == []


def test_a_conversation_is_assigned_to_an_existing_team_or_admin_only(sandbox):
    sandbox.configure(teams=[{"id": "501", "name": "Sales"}])
    conversation = new_conversation(sandbox)
    path = f"/conversations/{conversation['id']}/parts"
    assignment = {"message_type": "assignment", "admin_id": ADMIN_ID}

    missing = sandbox.api("POST", path, json={**assignment, "type": "team", "assignee_id": "502"})
    assert missing.status_code == 404 and missing.json()["errors"][0]["code"] == "team_not_found"
    assigned = sandbox.api("POST", path, json={**assignment, "type": "team", "assignee_id": "501"}).json()
    assert (assigned["team_assignee_id"], assigned["admin_assignee_id"]) == (501, 0)
    [part] = assigned["conversation_parts"]["conversation_parts"]
    assert part["part_type"] == "assignment" and part["assigned_to"] == {"type": "team", "id": "501"}
    both = sandbox.api("POST", path, json={**assignment, "type": "admin", "assignee_id": ADMIN_ID}).json()
    assert (both["team_assignee_id"], both["admin_assignee_id"]) == (501, int(ADMIN_ID))
    assert sandbox.api("GET", "/teams").json()["teams"][0]["name"] == "Sales"
    assert sandbox.api("GET", "/teams/502").status_code == 404
    assert sandbox.api("GET", f"/admins/{ADMIN_ID}").json()["name"] == "Sandbox Admin"


def test_created_at_dates_a_conversation_and_a_contact_reply_and_must_be_unix_seconds(sandbox):
    conversation = new_conversation(sandbox, created_at=1_700_000_000)
    assert conversation["created_at"] == 1_700_000_000
    contact_id = conversation["contacts"]["contacts"][0]["id"]
    reply = {"message_type": "comment", "type": "user", "intercom_user_id": contact_id, "body": "late"}
    path = f"/conversations/{conversation['id']}/reply"
    refused = sandbox.api("POST", path, json={**reply, "created_at": "2023-11-14T22:13:20Z"})
    assert refused.status_code == 400
    answered = sandbox.api("POST", path, json={**reply, "created_at": 1_700_000_060}).json()
    [part] = answered["conversation_parts"]["conversation_parts"]
    assert part["created_at"] == 1_700_000_060


def test_the_dashboard_shows_tags_assignee_attributes_and_parts_in_time_order(sandbox, http):
    sandbox.configure(teams=[{"id": "501", "name": "Sales & Support"}])
    conversation = new_conversation(sandbox)
    conversation_id, contact_id = conversation["id"], conversation["contacts"]["contacts"][0]["id"]
    sandbox.api("POST", "/conversations/attributes", json={"name": "bridge_channel", "data_type": "string"})
    sandbox.api(
        "PUT", f"/conversations/{conversation_id}", json={"custom_attributes": {"bridge_channel": "sms"}}
    )
    tag = sandbox.api("POST", "/tags", json={"name": "SMS"}).json()
    sandbox.api(
        "POST", f"/conversations/{conversation_id}/tags", json={"id": tag["id"], "admin_id": ADMIN_ID}
    )
    sandbox.api(
        "POST",
        f"/conversations/{conversation_id}/parts",
        json={"message_type": "assignment", "type": "team", "admin_id": ADMIN_ID, "assignee_id": "501"},
    )
    reply = {"message_type": "comment", "type": "user", "intercom_user_id": contact_id}
    sandbox.api("POST", f"/conversations/{conversation_id}/reply", json={**reply, "body": "written now"})
    earlier = conversation["created_at"] - 60
    sandbox.api(
        "POST",
        f"/conversations/{conversation_id}/reply",
        json={**reply, "body": "written before", "created_at": earlier},
    )

    page = http.get(sandbox.url).text
    assert "tags <b>SMS</b>" in page
    assert "assigned to team Sales &amp; Support" in page
    assert "bridge_channel=<code>sms</code>" in page
    assert page.index("written before") < page.index("written now")
