"""Intercom's webhook notifications: what the bridge reads from them.

Envelope (research/intercom-api.md §4.2): `{type: "notification_event", id: "notif_…", topic,
created_at, data: {item: <conversation>}}`, signed with `X-Hub-Signature: sha1=<hex HMAC-SHA1 of
the raw body>` keyed by the app's client secret. A reply notification carries the conversation
with only the part(s) that triggered it; bot (Fin) replies arrive both as
`conversation.admin.replied` and `conversation.operator.replied`, so parts are deduplicated by id,
not by topic. Bodies are plain text from API 2.15 on, HTML before: they are converted when sent.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from bridge.core.errors import MalformedPayload
from bridge.core.json_payloads import JsonNode
from bridge.core.signing import verify_hmac_header
from bridge.intercom.models import ConversationState

SIGNATURE_HEADER = "X-Hub-Signature"

# Topics whose parts are replies to send to the customer.
REPLY_TOPICS = frozenset({"conversation.admin.replied", "conversation.operator.replied"})
# Topics that move a conversation's state (for "continue or open a new one").
STATE_TOPICS: dict[str, ConversationState] = {
    "conversation.admin.closed": ConversationState.CLOSED,
    "conversation.admin.opened": ConversationState.OPEN,
    "conversation.admin.snoozed": ConversationState.SNOOZED,
    "conversation.admin.unsnoozed": ConversationState.OPEN,
}
# What a customer should receive: comments and quick replies by teammates or bots (never notes,
# and never the customer's own messages, which the bridge itself posted).
REPLY_PART_TYPES = frozenset({"comment", "quick_reply"})
REPLY_AUTHORS = frozenset({"admin", "bot"})


@dataclass(frozen=True)
class Attachment:
    url: str
    content_type: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class ReplyPart:
    part_id: str
    conversation_id: str
    body: str
    author_type: str
    author_id: str
    attachments: tuple[Attachment, ...]
    # When the agent wrote it (unix seconds): the part's own time, else the notification's, 0.0
    # when neither says. Signed with the body, it bounds how late a copy may be acted on
    # (`bridge.core.freshness`); a part with no time is therefore never sent.
    created_at: float


@dataclass(frozen=True)
class Notification:
    id: str
    topic: str
    created_at: float
    conversation_id: str | None
    parts: tuple[ReplyPart, ...]  # the reply parts, for reply topics
    # The contact a contact topic is about (`contact.deleted` carries only its ids).
    contact_id: str | None = None


def verify(body: bytes, signature: str | None, *, secret: str) -> None:
    """Raise `SignatureInvalid` unless `X-Hub-Signature` is `sha1=` + HMAC-SHA1(secret, body)."""
    verify_hmac_header(
        signature, header=SIGNATURE_HEADER, secret=secret, body=body, digest=hashlib.sha1, prefix="sha1="
    )


def parse(body: bytes) -> Notification:
    root = JsonNode.parse(body)
    topic = root.required("topic")
    created_at = _seconds(root.text("created_at"))
    item = (root.object("data") or JsonNode({}, "data")).object("item")
    conversation_id = contact_id = None
    parts: tuple[ReplyPart, ...] = ()
    if item is not None and item.text("type") == "conversation":
        conversation_id = item.required("id")
        if topic in REPLY_TOPICS:
            parts = tuple(_reply_parts(item, conversation_id, created_at))
    if item is not None and item.text("type") == "contact":
        contact_id = item.required("id")
    return Notification(
        id=root.text("id") or "",
        topic=topic,
        created_at=created_at,
        conversation_id=conversation_id,
        parts=parts,
        contact_id=contact_id,
    )


def conversation_reply_parts(conversation: dict[str, Any]) -> tuple[ReplyPart, ...]:
    """The reply parts of a conversation as `GET /conversations/{id}` answers it (its 500 newest
    parts), chosen as a notification's are: what the reply catch-up (`bridge.replies.catchup`) may
    send. A part without its own time gets none (0.0): it is never sent."""
    node = JsonNode(conversation, "conversation")
    return tuple(_reply_parts(node, node.required("id"), 0.0))


def _reply_parts(conversation: JsonNode, conversation_id: str, default_time: float) -> list[ReplyPart]:
    container = conversation.object("conversation_parts")
    parts = []
    for part in container.objects("conversation_parts") if container else []:
        author = part.object("author")
        author_type = author.text("type") if author else None
        if part.text("part_type") not in REPLY_PART_TYPES or author_type not in REPLY_AUTHORS:
            continue
        attachments = tuple(
            Attachment(url=a.required("url"), content_type=a.text("content_type"), name=a.text("name"))
            for a in part.objects("attachments")
        )
        parts.append(
            ReplyPart(
                part_id=part.required("id"),
                conversation_id=conversation_id,
                body=part.text("body") or "",
                author_type=str(author_type),
                author_id=(author.text("id") if author else None) or "",
                attachments=attachments,
                created_at=_seconds(part.text("created_at")) or default_time,
            )
        )
    return parts


def _seconds(value: str | None) -> float:
    try:
        return float(value) if value else 0.0
    except ValueError as exc:
        raise MalformedPayload(f"{value!r} is not a unix time") from exc
