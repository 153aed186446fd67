"""Files handed to Intercom in a contact's reply: streamed from disk with an exact length, held by
Intercom (the sandbox, over HTTP) byte for byte, every request valid against the description."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import httpx
import pytest

from bridge.intercom.client import IntercomClient
from bridge.intercom.files import READ_BYTES, AttachmentFile, FileBody
from bridge.intercom.models import ContactRef
from tests.intercom_openapi import conformance_problems


def on_disk(tmp_path: Path, name: str, content: bytes, content_type: str = "image/png") -> AttachmentFile:
    path = tmp_path / f"{name}.bin"
    path.write_bytes(content)
    return AttachmentFile(path=path, name=name, content_type=content_type, size=len(content))


@pytest.fixture
def conversation(intercom, sandbox) -> tuple[ContactRef, str]:
    lead = ContactRef(id=sandbox.seed_contact(role="lead", phone="+14155550123")["id"], role="lead")
    return lead, intercom.create_conversation(contact=lead, body="hello", attachment_urls=[])


def held(sandbox, http) -> list[tuple[str, str, bytes]]:
    """Each file the sandbox holds on the conversation's replies: name, type, bytes it serves."""
    [conversation] = sandbox.conversations()
    return [
        (attachment["name"], attachment["content_type"], http.get(attachment["url"]).content)
        for part in conversation["conversation_parts"]["conversation_parts"]
        for attachment in part["attachments"]
    ]


def test_a_contacts_reply_hands_intercom_its_files_byte_for_byte(
    intercom, sandbox, http, tmp_path, conversation
):
    contact, conversation_id = conversation
    picture, document = os.urandom(200_001), os.urandom(3)
    intercom.reply_as_contact(
        conversation_id,
        contact_id=contact.id,
        body="two files",
        attachment_urls=[],
        attachment_files=[
            on_disk(tmp_path, "photo.jpg", picture, "image/jpeg"),
            on_disk(tmp_path, "note.pdf", document, "application/pdf"),
        ],
    )
    assert held(sandbox, http) == [
        ("photo.jpg", "image/jpeg", picture),
        ("note.pdf", "application/pdf", document),
    ]
    assert conformance_problems(sandbox.requests()) == []


def test_a_retried_attempt_sends_the_whole_file_again(intercom, sandbox, http, tmp_path, conversation):
    contact, conversation_id = conversation
    content = os.urandom(150_000)
    sandbox.fault(503, times=1, path_prefix=f"/conversations/{conversation_id}/reply")
    intercom.reply_as_contact(
        conversation_id,
        contact_id=contact.id,
        body="once",
        attachment_urls=[],
        attachment_files=[on_disk(tmp_path, "photo.png", content)],
    )
    assert held(sandbox, http) == [("photo.png", "image/png", content)]


def test_the_body_goes_with_an_exact_length_not_chunked(tmp_path):
    files = [
        on_disk(tmp_path, "a.png", os.urandom(5 * READ_BYTES + 7)),
        on_disk(tmp_path, 'quote".png', b"x"),
    ]
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"type": "conversation", "id": "1"})

    transport = httpx.MockTransport(answer)
    client = IntercomClient(httpx.Client(base_url="https://api.intercom.io", transport=transport))
    client.reply_as_contact("1", contact_id="c1", body="hi", attachment_urls=[], attachment_files=files)

    [request] = seen
    assert "transfer-encoding" not in request.headers
    assert request.headers["content-type"] == "application/json"
    assert int(request.headers["content-length"]) == len(request.content)
    body = json.loads(request.content)
    assert [(f["name"], base64.b64decode(f["data"])) for f in body["attachment_files"]] == [
        ("a.png", files[0].path.read_bytes()),
        ('quote".png', b"x"),
    ]
    assert {key: body[key] for key in ("type", "intercom_user_id", "body")} == {
        "type": "user",
        "intercom_user_id": "c1",
        "body": "hi",
    }


def test_the_body_is_made_a_piece_of_a_file_at_a_time(tmp_path):
    """Never more than one read of a file in memory, whatever its size."""
    content = os.urandom(20 * READ_BYTES + 1)
    body = FileBody({"body": "hi"}, [on_disk(tmp_path, "a.png", content)])
    pieces = list(body.chunks())
    assert max(len(piece) for piece in pieces) <= 4 * READ_BYTES // 3
    assert sum(len(piece) for piece in pieces) == body.length
    [file] = json.loads(b"".join(pieces))["attachment_files"]
    assert base64.b64decode(file["data"]) == content


def test_a_file_that_changes_while_it_is_sent_fails_the_request_rather_than_lie_about_its_length(tmp_path):
    file = on_disk(tmp_path, "a.png", b"12345")
    file.path.write_bytes(b"123456")
    with pytest.raises(OSError, match="changed while it was sent"):
        b"".join(FileBody({}, [file]).chunks())


def test_a_body_with_files_never_carries_urls_too(tmp_path):
    """Intercom drops the links of a reply that also carries files."""
    with pytest.raises(ValueError, match="no attachment_urls"):
        FileBody({"attachment_urls": ["https://example.com/a.png"]}, [on_disk(tmp_path, "a.png", b"x")])
