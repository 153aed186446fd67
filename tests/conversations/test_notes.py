"""Internal notes in Intercom conversations, each said once: against the sandbox over HTTP and a
real Redis."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from bridge.conversations.notes import Notes
from bridge.core.errors import IntercomUnavailable
from bridge.infra import keys
from tests.helpers import SandboxControl

ADMIN_ID = "991267101"  # INTERCOM_ADMIN_ID in the tests' environment, the sandbox's only admin


@pytest.fixture
def conversation_id(sandbox: SandboxControl) -> str:
    """A conversation a customer opened in the sandbox."""
    lead = sandbox.seed_contact(role="lead", phone="+14155550123")
    opened = sandbox.api(
        "POST", "/conversations", json={"from": {"type": "lead", "id": lead["id"]}, "body": "Hi"}
    )
    opened.raise_for_status()
    return str(opened.json()["conversation_id"])


def notes_in(sandbox: SandboxControl, conversation_id: str) -> list[dict[str, Any]]:
    conversation = sandbox.api("GET", f"/conversations/{conversation_id}").json()
    return [p for p in conversation["conversation_parts"]["conversation_parts"] if p["part_type"] == "note"]


def note_posts(sandbox: SandboxControl) -> int:
    return sum(1 for e in sandbox.requests() if e["method"] == "POST" and e["path"].endswith("/reply"))


def test_a_note_is_posted_as_the_configured_admin(redis_client, intercom, settings, sandbox, conversation_id):
    notes = Notes(redis_client, intercom, settings)
    assert notes.post_once(conversation_id, "WhatsApp's 24-hour window has closed", once="window:p1")
    [note] = notes_in(sandbox, conversation_id)
    assert note["body"] == "WhatsApp's 24-hour window has closed"
    assert note["author"]["type"] == "admin" and note["author"]["id"] == ADMIN_ID


def test_a_note_with_the_same_once_key_is_not_posted_again(
    redis_client, intercom, settings, sandbox, conversation_id
):
    assert Notes(redis_client, intercom, settings).post_once(
        conversation_id, "Not delivered", once="rejected:p1:0"
    )
    # A retried job: another Notes, the same key.
    assert not Notes(redis_client, intercom, settings).post_once(
        conversation_id, "Not delivered", once="rejected:p1:0"
    )
    assert len(notes_in(sandbox, conversation_id)) == 1
    assert note_posts(sandbox) == 1  # the second one did not even ask Intercom


def test_notes_with_different_once_keys_are_each_posted(
    redis_client, intercom, settings, sandbox, conversation_id
):
    notes = Notes(redis_client, intercom, settings)
    assert notes.post_once(conversation_id, "Part 2 not delivered", once="partial:p1:0")
    assert notes.post_once(conversation_id, "Part 3 not delivered", once="partial:p1:1")
    assert [n["body"] for n in notes_in(sandbox, conversation_id)] == [
        "Part 2 not delivered",
        "Part 3 not delivered",
    ]


def test_a_note_is_remembered_for_the_retention_under_its_conversation(
    redis_client: redis.Redis, intercom, settings, conversation_id
):
    Notes(redis_client, intercom, settings).post_once(conversation_id, "Not delivered", once="rejected:p1:0")
    assert redis_client.get(keys.note("rejected:p1:0")) == conversation_id.encode()
    assert (
        settings.retention_days * 86400 - 5
        < redis_client.ttl(keys.note("rejected:p1:0"))
        <= (settings.retention_days * 86400)
    )


def test_a_note_intercom_did_not_take_is_not_remembered_and_is_posted_on_the_retry(
    redis_client, intercom, settings, sandbox, conversation_id
):
    notes = Notes(redis_client, intercom, settings)
    sandbox.fault(503, times=None, path_prefix=f"/conversations/{conversation_id}/reply")
    with pytest.raises(IntercomUnavailable):
        notes.post_once(conversation_id, "Not delivered", once="rejected:p1:0")
    assert not redis_client.exists(keys.note("rejected:p1:0"))
    sandbox.clear_faults()
    assert notes.post_once(conversation_id, "Not delivered", once="rejected:p1:0")
    assert len(notes_in(sandbox, conversation_id)) == 1


def test_without_a_configured_admin_the_token_s_admin_writes_asked_once(
    redis_client, intercom, settings, sandbox, conversation_id
):
    notes = Notes(redis_client, intercom, settings.model_copy(update={"intercom_admin_id": None}))
    notes.post_once(conversation_id, "one", once="a")
    notes.post_once(conversation_id, "two", once="b")
    assert [n["author"]["id"] for n in notes_in(sandbox, conversation_id)] == [ADMIN_ID, ADMIN_ID]
    assert sum(1 for e in sandbox.requests() if e["path"] == "/me") == 1
