"""`POST /messages`: an admin writes to a contact first, as Intercom's admin-initiated messages do.

With `create_conversation_without_contact_reply: true` Intercom opens the conversation at once: its
source (the first part) is the admin's message, its `source.id` the message's id, and the answer is
a Message (`type: admin_message`) naming the conversation. Without that flag Intercom opens no
conversation until the contact answers in the Messenger, which the sandbox does not model: the
answer then has no `conversation_id` and the inbox shows nothing.

Intercom announces such a conversation as `conversation.admin.single.created`, never as
`conversation.admin.replied` (research/intercom-api.md §4.1): a bridge that took it for a reply would
send the message to the customer a second time.

Only in-app messages to one contact are modelled; email and WhatsApp messages (`subject`,
`template`, `components`) are refused with a reason.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from bridge.dev.sandbox.errors import ApiError
from bridge.dev.sandbox.state import Contact, Conversation, Workspace

OPENED_TOPIC = "conversation.admin.single.created"
# `in_app` is the description's enum; `inapp` the spelling of its answers and of its older clients.
IN_APP = frozenset({"in_app", "inapp"})


@dataclass(frozen=True)
class Sent:
    """What `POST /messages` did: the answer, and the conversation it opened (None without the flag)."""

    answer: dict[str, Any]
    conversation: Conversation | None


def send_admin_message(workspace: Workspace, fields: dict[str, Any]) -> Sent:
    """Check the request as Intercom does, then open the conversation (when asked) and answer."""
    kind = fields.get("message_type", "in_app")
    if not isinstance(kind, str) or kind not in IN_APP:
        raise ApiError(
            400,
            "parameter_invalid",
            f"the sandbox sends in_app messages only, not {kind!r}",
            field="message_type",
        )
    body = fields.get("body")
    if not isinstance(body, str) or not body.strip():
        raise ApiError(400, "parameter_invalid", "Body is required")  # Intercom's wording (2.16 examples)
    admin = _sender(workspace, fields.get("from"))
    contact = _recipient(workspace, fields.get("to"))
    conversation = None
    if fields.get("create_conversation_without_contact_reply") is True:
        conversation = workspace.open_admin_conversation(contact=contact, admin=admin, body=body)
    answer: dict[str, Any] = {
        "type": "admin_message",
        "id": conversation.source_id if conversation else workspace.message_id(),
        "created_at": conversation.created_at if conversation else int(time.time()),
        "body": body,
        "message_type": "inapp",
    }
    if conversation is not None and not workspace.messages_without_conversation_id:
        answer["conversation_id"] = conversation.id
    return Sent(answer=answer, conversation=conversation)


def _sender(workspace: Workspace, sender: Any) -> dict[str, Any]:
    """The admin writing; Intercom uses the default sender when `from` is left out. The description
    types its id as an integer; the ids Intercom shows are strings of digits: both are taken."""
    if sender is None:
        return workspace.admins[0]
    if not isinstance(sender, dict) or sender.get("type") != "admin" or not sender.get("id"):
        raise ApiError(400, "parameter_invalid", "from must be {type: admin, id}", field="from")
    return workspace.admin(str(sender["id"]))


def _recipient(workspace: Workspace, to: Any) -> Contact:
    """The one contact written to: a recipient object, or a list holding one."""
    if isinstance(to, list):
        if len(to) != 1:
            raise ApiError(
                400, "parameter_invalid", "the sandbox writes to one contact at a time", field="to"
            )
        to = to[0]
    if not isinstance(to, dict) or to.get("type") not in ("user", "lead") or not to.get("id"):
        raise ApiError(400, "parameter_invalid", "to must be {type: user|lead, id}", field="to")
    try:
        return workspace.contact(str(to["id"]))
    except ApiError as exc:  # unknown or merged away: Intercom answers as it does for a new conversation
        raise ApiError(404, "not_found", "User Not Found") from exc
