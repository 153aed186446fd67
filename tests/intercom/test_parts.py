"""Whether a reply the bridge may have posted is in its conversation: the contact's part with the
`created_at` it was given and the same text, however Intercom wraps the text. Shapes are Intercom
2.16's (`GET /conversations/{id}`, the description's "User reply" example)."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.intercom.parts import CLOCK_MARGIN_SECONDS, SentReply, body_digest, find_reply

CONTACT = "6762f0b21bb69f9f2193bb7c"
SENT_AT = 1_734_537_561
SINCE = 1_734_600_000.0


def conversation(*parts: dict[str, Any], source_body: str = "first") -> dict[str, Any]:
    return {
        "type": "conversation",
        "id": "499",
        "created_at": 1_734_500_000,
        "source": {
            "type": "conversation",
            "id": "1",
            "body": source_body,
            "author": {"type": "lead", "id": CONTACT},
        },
        "conversation_parts": {
            "type": "conversation_part.list",
            "conversation_parts": list(parts),
            "total_count": len(parts),
        },
    }


def part(
    body: str, *, part_id: str = "41", author: str = CONTACT, created_at: int = SENT_AT, kind: str = "comment"
):
    return {
        "type": "conversation_part",
        "id": part_id,
        "part_type": kind,
        "body": body,
        "created_at": created_at,
        "author": {"type": "lead", "id": author},
    }


def sent(body: str, *, created_at: int | None = SENT_AT) -> SentReply:
    return SentReply(CONTACT, body_digest(body), created_at, since=SINCE)


@pytest.mark.parametrize(
    ("posted", "answered"),
    [
        pytest.param("Thanks again :)", "Thanks again :)", id="as-sent"),
        pytest.param("Thanks again :)", "<p>Thanks again :)</p>", id="wrapped-in-a-paragraph"),
        pytest.param("one\ntwo", "<p>one</p>\n<p>two</p>", id="lines-as-paragraphs"),
        pytest.param("one\ntwo", "<p>one<br>two</p>", id="lines-as-breaks"),
        pytest.param("fish & chips < 5€", "<p>fish &amp; chips &lt; 5€</p>", id="escaped"),
        pytest.param(
            "I wrote <b>this</b>", "<p>I wrote &lt;b&gt;this&lt;/b&gt;</p>", id="literal-tags-escaped"
        ),
        pytest.param(
            "see https://shop.test/o?id=1",
            '<p>see <a href="https://shop.test/o?id=1">https://shop.test/o?id=1</a></p>',
            id="linked",
        ),
        pytest.param("a  b\u00a0 c", "<p>a&nbsp; b&nbsp; c</p>", id="spaces"),
    ],
)
def test_the_reply_is_found_however_intercom_wraps_its_text(posted, answered):
    found = conversation(part("an earlier one", part_id="40", created_at=SENT_AT - 60), part(answered))
    assert find_reply(found, sent(posted)) == "41"


def test_a_reply_that_reopened_the_conversation_is_found_as_the_open_part_it_became():
    # Intercom answers a contact's reply to a closed conversation as `part_type: open`.
    assert (
        find_reply(conversation(part("<p>Thanks again :)</p>", kind="open")), sent("Thanks again :)")) == "41"
    )


@pytest.mark.parametrize(
    "other",
    [
        pytest.param(part("Thanks again"), id="other-text"),
        pytest.param(part("Thanks again :)", author="5f0e1d2c3b4a596877665544"), id="other-author"),
        pytest.param(part("Thanks again :)", created_at=SENT_AT + 1), id="other-time"),
    ],
)
def test_a_part_that_differs_in_text_author_or_time_is_not_the_reply(other):
    assert find_reply(conversation(other), sent("Thanks again :)")) is None


def test_the_same_words_sent_earlier_are_not_taken_for_the_reply():
    earlier = part("ok", created_at=SENT_AT - 3600)
    assert find_reply(conversation(earlier), sent("ok")) is None


def test_without_a_time_of_its_own_a_reply_is_looked_for_among_parts_made_since_the_first_attempt():
    mine = part("ok", created_at=int(SINCE) + 2)
    before = part("ok", part_id="40", created_at=int(SINCE - CLOCK_MARGIN_SECONDS) - 1)
    assert find_reply(conversation(mine), sent("ok", created_at=None)) == "41"
    assert find_reply(conversation(before), sent("ok", created_at=None)) is None


def test_the_source_counts_as_a_part_at_the_conversations_time():
    opening = conversation(source_body="<p>hello</p>")
    assert find_reply(opening, SentReply(CONTACT, body_digest("hello"), 1_734_500_000, since=SINCE)) == "1"
