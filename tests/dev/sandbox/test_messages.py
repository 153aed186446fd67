"""The sandbox's `POST /messages`: an admin writes first and Intercom opens the conversation at once;
the conversation search that finds it again by the message's id."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

ADMIN_ID = "991267101"  # the sandbox's admin
CLIENT_SECRET = "test-intercom-client-secret"
OPENED = "conversation.admin.single.created"
REPLIED = "conversation.admin.replied"


def admin_message(
    sandbox, contact: dict[str, Any], body: Any = "Your order shipped", **fields: Any
) -> httpx.Response:
    """`POST /messages` as the bridge sends it, any field overridden."""
    request = {
        "message_type": "in_app",
        "from": {"type": "admin", "id": int(ADMIN_ID)},
        "to": {"type": contact["role"], "id": contact["id"]},
        "body": body,
        "create_conversation_without_contact_reply": True,
    }
    return sandbox.api("POST", "/messages", json={**request, **fields})


def search(sandbox, field: str, value: Any) -> list[dict[str, Any]]:
    query = {"query": {"field": field, "operator": "=", "value": value}}
    response = sandbox.api("POST", "/conversations/search", json=query)
    assert response.status_code == 200, response.text
    assert response.json()["type"] == "conversation.list"
    return list(response.json()["conversations"])


@pytest.fixture
def lead(sandbox) -> dict[str, Any]:
    return sandbox.seed_contact(role="lead", phone="+14155550123")


@pytest.fixture
def webhooks(sandbox, bridge, request) -> Any:
    """The sandbox notifying this test's bridge; the topics it delivered, in order."""
    sandbox.configure(webhook_url=f"{bridge.url}/intercom/webhooks", client_secret=CLIENT_SECRET)
    request.addfinalizer(lambda: sandbox.configure(webhook_url="", client_secret="", topics=None))

    def delivered() -> list[str]:
        deliveries = httpx.get(f"{sandbox.url}/_sandbox/deliveries").json()
        assert all(delivery["status"] == 200 for delivery in deliveries), deliveries
        return [delivery["topic"] for delivery in deliveries]

    return delivered


def test_an_admin_message_opens_a_conversation_the_admin_wrote_first(sandbox, lead):
    answer = admin_message(sandbox, lead)
    assert answer.status_code == 200, answer.text
    message = answer.json()
    assert message["type"] == "admin_message" and message["message_type"] == "inapp"
    assert message["body"] == "Your order shipped" and isinstance(message["created_at"], int)
    conversation = sandbox.api("GET", f"/conversations/{message['conversation_id']}").json()
    assert conversation["source"]["id"] == message["id"]
    assert conversation["source"]["delivered_as"] == "admin_initiated"
    assert conversation["source"]["author"]["type"] == "admin"
    assert conversation["source"]["author"]["id"] == ADMIN_ID
    assert conversation["source"]["body"] == "Your order shipped"
    assert [c["id"] for c in conversation["contacts"]["contacts"]] == [lead["id"]]
    assert conversation["state"] == "open"


def test_the_customers_answer_and_an_agents_reply_from_the_dashboard_continue_it(sandbox, lead, http):
    conversation_id = admin_message(sandbox, lead).json()["conversation_id"]
    answer = {"message_type": "comment", "type": "user", "intercom_user_id": lead["id"], "body": "Thanks!"}
    assert sandbox.api("POST", f"/conversations/{conversation_id}/reply", json=answer).status_code == 200
    agent = http.post(
        f"{sandbox.url}/_sandbox/ui/conversations/{conversation_id}/reply", json={"body": "Welcome"}
    )
    assert agent.status_code == 200
    [conversation] = sandbox.conversations()
    parts = conversation["conversation_parts"]["conversation_parts"]
    assert [(p["author"]["type"], p["body"]) for p in parts] == [("lead", "Thanks!"), ("admin", "Welcome")]
    page = http.get(f"{sandbox.url}/").text
    assert "Your order shipped" in page and "Sandbox Admin" in page and "opened by the team" in page
    assert f"/_sandbox/ui/conversations/{conversation_id}/reply" in page


def test_the_answer_leaves_the_conversation_out_when_told_to(sandbox, lead):
    sandbox.configure(messages_without_conversation_id=True)
    message = admin_message(sandbox, lead).json()
    assert "conversation_id" not in message
    [conversation] = sandbox.conversations()  # opened all the same
    assert conversation["source"]["id"] == message["id"]


def test_without_create_conversation_without_contact_reply_no_conversation_opens(sandbox, lead):
    message = admin_message(sandbox, lead, create_conversation_without_contact_reply=False).json()
    assert message["type"] == "admin_message" and message["id"]
    assert "conversation_id" not in message
    assert sandbox.conversations() == []


@pytest.mark.parametrize(
    ("fields", "status", "error"),
    [
        ({"to": {"type": "lead", "id": "0" * 24}}, 404, {"code": "not_found", "message": "User Not Found"}),
        ({"body": None}, 400, {"code": "parameter_invalid", "message": "Body is required"}),
        ({"body": ""}, 400, {"code": "parameter_invalid", "message": "Body is required"}),
        (
            {"from": {"type": "admin", "id": 1}},
            404,
            {"code": "admin_not_found", "message": "Admin not found"},
        ),
    ],
)
def test_refusals_are_intercoms(sandbox, lead, fields, status, error):
    response = admin_message(sandbox, lead, **fields)
    assert response.status_code == status
    assert response.json()["type"] == "error.list"
    assert response.json()["errors"] == [error]
    assert sandbox.conversations() == []


def test_an_email_or_whatsapp_message_is_refused_with_the_reason(sandbox, lead):
    response = admin_message(sandbox, lead, message_type="email", subject="Hi", template="plain")
    assert response.status_code == 400
    assert "in_app" in response.json()["errors"][0]["message"]


def test_an_admin_message_is_announced_as_opened_never_as_a_reply(sandbox, lead, webhooks):
    conversation_id = admin_message(sandbox, lead).json()["conversation_id"]
    assert webhooks() == [OPENED]
    assert sandbox.agent_reply(conversation_id, "Anything else?").status_code == 200
    assert webhooks() == [OPENED, REPLIED]  # an admin's reply through the API is a reply


def test_only_the_topics_the_app_subscribed_to_are_delivered(sandbox, lead, webhooks):
    sandbox.configure(topics=[REPLIED])
    conversation_id = admin_message(sandbox, lead).json()["conversation_id"]
    sandbox.agent_reply(conversation_id, "Anything else?")
    assert webhooks() == [REPLIED]


def test_conversation_search_finds_a_conversation_by_its_messages_id_and_contact(sandbox, lead):
    other = sandbox.seed_contact(role="user", email="bob@example.com")
    message = admin_message(sandbox, lead).json()
    admin_message(sandbox, other)
    [found] = search(sandbox, "source.id", message["id"])
    assert found["id"] == message["conversation_id"]
    assert "conversation_parts" not in found  # a list item, as Intercom's search answers
    assert [c["id"] for c in search(sandbox, "contact_ids", lead["id"])] == [message["conversation_id"]]
    assert search(sandbox, "source.id", "1") == []


def test_conversation_search_lags_behind_writes(sandbox, lead):
    sandbox.configure(search_lag=60)
    message = admin_message(sandbox, lead).json()
    assert search(sandbox, "source.id", message["id"]) == []
    assert sandbox.api("GET", f"/conversations/{message['conversation_id']}").status_code == 200


def test_conversation_search_refuses_a_field_it_cannot_search(sandbox):
    query = {"query": {"field": "phone", "operator": "=", "value": "+14155550123"}}
    response = sandbox.api("POST", "/conversations/search", json=query)
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "parameter_invalid"
