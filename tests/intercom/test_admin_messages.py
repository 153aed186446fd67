"""The team writes first: the client's admin messages and admin replies, over HTTP against the
sandbox, every exchange checked against Intercom's OpenAPI description."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.core.errors import ConversationPending, RetryableError
from bridge.intercom.models import AdminMessage, ContactRef
from tests.intercom_openapi import conformance_problems

ADMIN_ID = "991267101"  # the sandbox's admin


@pytest.fixture
def lead(sandbox) -> ContactRef:
    return ContactRef(id=sandbox.seed_contact(role="lead", phone="+14155550123")["id"], role="lead")


def sent(sandbox, method: str, path: str) -> list[dict[str, Any]]:
    """What the client sent to `method path`, and checks every exchange against the description."""
    exchanges = sandbox.requests()
    assert conformance_problems(exchanges) == []
    return [e for e in exchanges if (e["method"], e["path"]) == (method, path)]


def test_an_admin_message_opens_a_conversation_the_admin_wrote_first(intercom, sandbox, lead):
    message = intercom.create_admin_message(contact=lead, admin_id=ADMIN_ID, body="Your order shipped")
    [conversation] = sandbox.conversations()
    assert message == AdminMessage(
        message_id=conversation["source"]["id"], conversation_id=conversation["id"]
    )
    assert conversation["source"]["author"]["type"] == "admin"
    assert conversation["source"]["author"]["id"] == ADMIN_ID
    assert conversation["source"]["body"] == "Your order shipped"
    assert [c["id"] for c in conversation["contacts"]["contacts"]] == [lead.id]
    [request] = sent(sandbox, "POST", "/messages")
    assert request["request_body"] == {
        "message_type": "in_app",
        "from": {"type": "admin", "id": int(ADMIN_ID)},
        "to": {"type": "lead", "id": lead.id},
        "body": "Your order shipped",
        "create_conversation_without_contact_reply": True,
    }
    assert sent(sandbox, "POST", "/conversations/search") == []  # the answer named the conversation


def test_an_answer_without_its_conversation_is_completed_by_search(intercom, sandbox, lead):
    sandbox.configure(messages_without_conversation_id=True)
    message = intercom.create_admin_message(contact=lead, admin_id=ADMIN_ID, body="Your order shipped")
    [conversation] = sandbox.conversations()
    assert message.conversation_id == conversation["id"]
    [search] = sent(sandbox, "POST", "/conversations/search")
    assert search["request_body"]["query"] == {
        "field": "source.id",
        "operator": "=",
        "value": message.message_id,
    }


def test_while_search_does_not_show_it_the_message_is_pending_retryably_and_named(intercom, sandbox, lead):
    sandbox.configure(messages_without_conversation_id=True, search_lag=60)
    with pytest.raises(ConversationPending) as caught:
        intercom.create_admin_message(contact=lead, admin_id=ADMIN_ID, body="Your order shipped")
    assert isinstance(caught.value, RetryableError)
    [conversation] = sandbox.conversations()
    assert caught.value.message_id == conversation["source"]["id"]
    assert len(sent(sandbox, "POST", "/messages")) == 1  # written once: a retry looks it up by that id
    assert intercom.conversation_for_message(caught.value.message_id) is None


def test_reply_as_admin_returns_the_id_of_the_part_it_created(intercom, sandbox, lead):
    message = intercom.create_admin_message(contact=lead, admin_id=ADMIN_ID, body="Your order shipped")
    intercom.reply_as_contact(
        message.conversation_id, contact_id=lead.id, body="Where is it?", attachment_urls=()
    )
    part_id = intercom.reply_as_admin(
        message.conversation_id,
        admin_id=ADMIN_ID,
        body="Here is the label",
        attachment_urls=["https://media.example.com/label.pdf"],
    )
    [conversation] = sandbox.conversations()
    parts = conversation["conversation_parts"]["conversation_parts"]
    assert [p["body"] for p in parts] == ["Where is it?", "Here is the label"]
    assert part_id == parts[-1]["id"]
    assert parts[-1]["author"]["id"] == ADMIN_ID
    assert [a["url"] for a in parts[-1]["attachments"]] == ["https://media.example.com/label.pdf"]
    [reply] = sent(sandbox, "POST", f"/conversations/{message.conversation_id}/reply")[1:]
    assert reply["request_body"] == {
        "message_type": "comment",
        "type": "admin",
        "admin_id": ADMIN_ID,
        "body": "Here is the label",
        "attachment_urls": ["https://media.example.com/label.pdf"],
    }
