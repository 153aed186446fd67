"""Whether a customer's reply Intercom may have applied is in its conversation.

Intercom has no idempotency key, so a reply whose outcome is unknown (the answer lost to a
timeout, a 5xx, a worker killed mid-call) is looked for before it is posted again: a part the
contact wrote, with the `created_at` the bridge gave it and the same text.

The text is compared, not the bytes: the REST API answers a part's body as HTML
(`<p>Thanks again :)</p>` for "Thanks again :)", 2.16 description, replyConversation's "User
reply" example), links may come back as anchors, and a reply that reopened a closed conversation
comes back as `part_type: open`, not `comment`. So a body counts by its visible words, spaces
collapsed, either as it reads as HTML or as it was written (a customer's literal `<b>` comes back
escaped). Only a digest of that is kept on the ledger (`body_digest`): never the text itself twice.

Attachments are not compared: Intercom re-hosts and may rename them, and a reply that carries
only files says which in its body (`bridge.conversations.handover.files_line`).
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

# Tags that end a line where HTML is read as text; any other tag is removed with nothing in its place.
_BREAKING_TAG = re.compile(r"</?(?:p|div|br|li|ul|ol|blockquote|pre|h[1-6]|tr|td)\b[^<>]*>", re.IGNORECASE)
_ANY_TAG = re.compile(r"<[^<>]*>")
# When the bridge gave no `created_at` (`bridge.conversations.customer_time`: a wrong clock), the
# part carries Intercom's time: anything from a little before the first attempt, clocks differing.
CLOCK_MARGIN_SECONDS = 120


@dataclass(frozen=True)
class SentReply:
    """What identifies a reply the bridge posted as `contact_id`: the digest of its body, the
    `created_at` it gave (None: Intercom's own time) and when it first tried (unix seconds)."""

    contact_id: str
    digest: str
    created_at: int | None
    since: float


def body_digest(body: str) -> str:
    """The digest of a body as it reads, whatever Intercom wraps it in."""
    return _digest(_collapsed(body))


def find_reply(conversation: Mapping[str, Any], sent: SentReply) -> str | None:
    """The id of the part of `conversation` (as `GET /conversations/{id}` or a reply answers it)
    that is `sent`, or None when it is not there."""
    for part in _parts(conversation):
        author = part.get("author") or {}
        if str(author.get("id")) != sent.contact_id or not _at(part.get("created_at"), sent):
            continue
        body = part.get("body")
        if isinstance(body, str) and sent.digest in _digests(body):
            return str(part.get("id") or "")
    return None


def _parts(conversation: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Every part, newest first, then the conversation's source (the opening message, which
    carries the conversation's `created_at`). Intercom orders parts by the `created_at` they were
    given, so a late message's part need not be near the end: all of them are read (at most the 500
    one answer holds, in memory already)."""
    parts = (conversation.get("conversation_parts") or {}).get("conversation_parts") or []
    for part in reversed(parts):
        if isinstance(part, Mapping):
            yield part
    source = conversation.get("source")
    if isinstance(source, Mapping):
        yield {**source, "created_at": conversation.get("created_at")}


def _at(created_at: Any, sent: SentReply) -> bool:
    if isinstance(created_at, bool) or not isinstance(created_at, int | float):
        return False
    if sent.created_at is not None:
        return int(created_at) == sent.created_at
    return created_at >= sent.since - CLOCK_MARGIN_SECONDS


def _digests(body: str) -> set[str]:
    """The digests `body` may match: read as HTML, as escaped text, and as written."""
    as_html = html.unescape(_ANY_TAG.sub("", _BREAKING_TAG.sub(" ", body)))
    return {_digest(_collapsed(text)) for text in (as_html, html.unescape(body), body)}


def _collapsed(text: str) -> str:
    return " ".join(text.split())


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]
