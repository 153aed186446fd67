"""The conversations that changed since a time, and one conversation with its parts: the reply
catch-up's calls, over HTTP against the sandbox, every exchange checked against Intercom's
OpenAPI description."""

from __future__ import annotations

import time

from bridge.intercom.client import CONVERSATION_SEARCH_PAGE_SIZE, UPDATED_SEARCH_MARGIN
from tests.intercom_openapi import conformance_problems


def open_conversations(sandbox, count: int) -> list[str]:
    lead = sandbox.seed_contact(role="lead", phone="+14155550123")
    return [
        sandbox.api(
            "POST", "/conversations", json={"from": {"type": "lead", "id": lead["id"]}, "body": f"#{n}"}
        ).json()["conversation_id"]
        for n in range(count)
    ]


def searches(sandbox) -> list[dict]:
    exchanges = sandbox.requests()
    assert conformance_problems(exchanges) == []
    return [e for e in exchanges if (e["method"], e["path"]) == ("POST", "/conversations/search")]


def test_every_conversation_changed_since_a_minute_ago_is_listed_across_pages(intercom, sandbox):
    opened = open_conversations(sandbox, CONVERSATION_SEARCH_PAGE_SIZE + 5)
    since = time.time() - 60
    listed = list(intercom.updated_conversations(since))
    assert sorted(stamp.id for stamp in listed) == sorted(opened)
    first, second = searches(sandbox)
    # Intercom matches a searched timestamp by its day: asked from the second midnight back.
    assert first["request_body"]["query"] == {
        "field": "updated_at",
        "operator": ">",
        "value": int(since) - UPDATED_SEARCH_MARGIN,
    }
    assert first["request_body"]["sort"] == {"field": "updated_at", "order": "descending"}
    cursor = first["response_body"]["pages"]["next"]["starting_after"]
    assert second["request_body"]["pagination"]["starting_after"] == cursor


def test_listing_stops_at_the_first_conversation_older_than_asked(intercom, sandbox):
    open_conversations(sandbox, CONVERSATION_SEARCH_PAGE_SIZE + 5)
    assert list(intercom.updated_conversations(time.time() + 5)) == []
    assert len(searches(sandbox)) == 1  # no second page asked for


def test_a_conversation_is_read_with_its_parts(intercom, sandbox):
    [conversation_id] = open_conversations(sandbox, 1)
    sandbox.agent_reply(conversation_id, "Hello from the team")
    conversation = intercom.get_conversation(conversation_id)
    parts = conversation["conversation_parts"]["conversation_parts"]
    assert [(p["part_type"], p["body"]) for p in parts] == [("comment", "Hello from the team")]
    assert conformance_problems(sandbox.requests()) == []
