"""The sandbox takes `attachment_files` where Intercom 2.16 does, keeps the bytes, serves them back
as data and shows them; it refuses what Intercom's description rules out."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.intercom_openapi import conformance_problems

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 3
PDF = b"%PDF-1.7\n" + b"\x00\xff" * 100


def encoded(content: bytes, name: str = "photo.png", content_type: str = "image/png") -> dict[str, str]:
    return {"content_type": content_type, "data": base64.b64encode(content).decode(), "name": name}


def open_conversation(sandbox) -> tuple[str, str]:
    """A lead and the conversation it opened: (contact id, conversation id)."""
    lead = sandbox.api("POST", "/contacts", json={"role": "lead", "phone": "+14155550123"}).json()
    opened = sandbox.api(
        "POST", "/conversations", json={"from": {"type": "lead", "id": lead["id"]}, "body": "hello"}
    )
    assert opened.status_code == 200, opened.text
    return lead["id"], opened.json()["conversation_id"]


def contact_reply(sandbox, contact_id: str, conversation_id: str, **fields: Any):
    body = {"message_type": "comment", "type": "user", "intercom_user_id": contact_id, "body": "files"}
    return sandbox.api("POST", f"/conversations/{conversation_id}/reply", json=body | fields)


def test_a_contacts_reply_keeps_its_files_and_serves_them_back_byte_for_byte(sandbox, http):
    contact_id, conversation_id = open_conversation(sandbox)
    files = [encoded(PNG), encoded(PDF, "invoice.pdf", "application/pdf")]
    answer = contact_reply(sandbox, contact_id, conversation_id, attachment_files=files)
    assert answer.status_code == 200, answer.text

    [part] = answer.json()["conversation_parts"]["conversation_parts"]
    attachments = part["attachments"]
    assert [(a["type"], a["name"], a["content_type"], a["filesize"]) for a in attachments] == [
        ("upload", "photo.png", "image/png", len(PNG)),
        ("upload", "invoice.pdf", "application/pdf", len(PDF)),
    ]
    for attachment, content in zip(attachments, (PNG, PDF), strict=True):
        served = http.get(attachment["url"])
        assert served.status_code == 200
        assert served.content == content
        assert served.headers["content-type"] == attachment["content_type"]
        assert served.headers["content-security-policy"] == "default-src 'none'; sandbox"
        assert served.headers["x-content-type-options"] == "nosniff"
    [kept] = sandbox.conversations()[0]["conversation_parts"]["conversation_parts"]
    assert kept["attachments"] == attachments
    assert conformance_problems(sandbox.requests()) == []


def test_the_dashboard_shows_each_file_by_name_and_a_picture_as_a_thumbnail(sandbox, http):
    contact_id, conversation_id = open_conversation(sandbox)
    files = [encoded(PNG), encoded(PDF, "a.pdf")]
    contact_reply(sandbox, contact_id, conversation_id, attachment_files=files)
    [part] = sandbox.conversations()[0]["conversation_parts"]["conversation_parts"]
    page = http.get(f"{sandbox.url}/").text
    assert f'<img class="file" src="{part["attachments"][0]["url"]}"' in page
    assert f"[photo.png, {len(PNG):,} bytes]" in page and f"[a.pdf, {len(PDF):,} bytes]" in page


def test_an_html_file_is_served_as_a_download_never_inline(sandbox, http):
    contact_id, conversation_id = open_conversation(sandbox)
    page = encoded(b"<script>alert(1)</script>", "page.html", "text/html")
    contact_reply(sandbox, contact_id, conversation_id, attachment_files=[page])
    [attachment] = sandbox.conversations()[0]["conversation_parts"]["conversation_parts"][0]["attachments"]
    served = http.get(attachment["url"])
    assert served.headers["content-disposition"] == "attachment"
    assert served.headers["content-security-policy"] == "default-src 'none'; sandbox"


def test_an_admins_reply_takes_files_too_and_they_win_over_urls(sandbox):
    _, conversation_id = open_conversation(sandbox)
    answer = sandbox.api(
        "POST",
        f"/conversations/{conversation_id}/reply",
        json={
            "type": "admin",
            "admin_id": "991267101",
            "message_type": "comment",
            "body": "Your label",
            "attachment_urls": ["https://media.example.com/ignored.png"],
            "attachment_files": [encoded(PDF, "label.pdf", "application/pdf")],
        },
    )
    assert answer.status_code == 200, answer.text
    [part] = answer.json()["conversation_parts"]["conversation_parts"]
    assert [a["name"] for a in part["attachments"]] == ["label.pdf"]
    assert conformance_problems(sandbox.requests()) == []


def test_the_recorded_request_names_the_files_length_not_their_bytes(sandbox):
    contact_id, conversation_id = open_conversation(sandbox)
    contact_reply(sandbox, contact_id, conversation_id, attachment_files=[encoded(PNG)])
    [reply] = [r for r in sandbox.requests() if r["path"].endswith("/reply")]
    [file] = reply["request_body"]["attachment_files"]
    assert file == {
        "content_type": "image/png",
        "name": "photo.png",
        "data": f"({len(base64.b64encode(PNG))} base64 characters)",
    }


NOT_BASE64 = base64.b64encode(PNG).decode()


@pytest.mark.parametrize(
    ("files", "message"),
    [
        pytest.param("photo.png", "attachment_files must be a list", id="not-a-list"),
        pytest.param(["photo.png"], "attachment_files must be a list", id="not-objects"),
        pytest.param([encoded(PNG)] * 11, "at most 10 files", id="eleven"),
        pytest.param(
            [{"content_type": "image/png", "data": NOT_BASE64}], "[0].name is required", id="no-name"
        ),
        pytest.param([encoded(PNG, content_type="")], "[0].content_type is required", id="empty-type"),
        pytest.param([{"content_type": "image/png", "name": "a.png"}], "[0].data is required", id="no-data"),
        pytest.param([encoded(PNG) | {"data": 12}], "[0].data is required", id="data-not-a-string"),
        pytest.param(
            [encoded(PNG), encoded(PNG) | {"data": NOT_BASE64[:64] + "\n" + NOT_BASE64[64:]}],
            "[1].data is not base64",
            id="line-break",
        ),
        pytest.param([encoded(PNG) | {"data": "not base64!"}], "[0].data is not base64", id="not-base64"),
        pytest.param([encoded(PNG) | {"data": "QUJD="}], "[0].data is not base64", id="bad-padding"),
        pytest.param([encoded(PNG) | {"data": "-_-_"}], "[0].data is not base64", id="url-alphabet"),
    ],
)
def test_files_intercom_would_refuse_are_refused_and_nothing_is_kept(sandbox, files, message):
    contact_id, conversation_id = open_conversation(sandbox)
    answer = contact_reply(sandbox, contact_id, conversation_id, attachment_files=files)
    assert answer.status_code == 400
    [error] = answer.json()["errors"]
    assert error["code"] == "parameter_invalid" and error["field"] == "attachment_files"
    assert message in error["message"]
    assert sandbox.conversations()[0]["conversation_parts"]["conversation_parts"] == []


def test_a_file_over_the_size_limit_is_refused(sandbox):
    contact_id, conversation_id = open_conversation(sandbox)
    sandbox.configure(attachment_max_bytes=len(PNG) - 1)
    refused = contact_reply(sandbox, contact_id, conversation_id, attachment_files=[encoded(PNG)])
    assert refused.status_code == 400
    [error] = refused.json()["errors"]
    assert error["message"] == f"attachment_files[0] is larger than {len(PNG) - 1} bytes"
    sandbox.configure(attachment_max_bytes=len(PNG))
    taken = contact_reply(sandbox, contact_id, conversation_id, attachment_files=[encoded(PNG)])
    assert taken.status_code == 200


def test_opening_a_conversation_takes_no_files(sandbox):
    """POST /conversations documents attachment_urls only: files go in a reply."""
    lead = sandbox.api("POST", "/contacts", json={"role": "lead", "phone": "+14155550123"}).json()
    refused = sandbox.api(
        "POST",
        "/conversations",
        json={"from": {"type": "lead", "id": lead["id"]}, "body": "hi", "attachment_files": [encoded(PNG)]},
    )
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["field"] == "attachment_files"
    assert sandbox.conversations() == []
