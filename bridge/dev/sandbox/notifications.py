"""The sandbox telling the bridge what happened, as Intercom's webhooks do.

An admin (or bot) reply, a note, a close/open/snooze, a conversation an admin's message opened
(`conversation.admin.single.created`) in the sandbox becomes a notification in Intercom's envelope,
signed with `X-Hub-Signature: sha1=<HMAC-SHA1(client secret, body)>` and posted to the configured
webhook URL, for the topics the app subscribed to (`Workspace.topics`; by default all of them). Like
Intercom, a reply notification carries the conversation with only the part that triggered it, and a
bot part is announced under both `conversation.admin.replied` and `conversation.operator.replied`.

Webhooks can be held (`Workspace.hold_webhooks`): each notification is made when its event happens,
as Intercom makes it, and kept instead of sent until `release`, which posts them in order. That is
a webhook the bridge never heard of in time (a restart, a deploy), then Intercom's retry arriving late.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from bridge.dev.sandbox.state import Conversation, Part, Workspace

STATE_TOPICS = {
    "close": "conversation.admin.closed",
    "open": "conversation.admin.opened",
    "snoozed": "conversation.admin.snoozed",
}


@dataclass
class Delivery:
    topic: str
    notification_id: str
    status: int | None = None
    error: str | None = None
    at: float = field(default_factory=time.time)


def topics_for_part(part: Part) -> list[str]:
    if part.part_type == "note":
        return ["conversation.admin.noted"]
    if part.author.get("type") == "bot":
        return ["conversation.operator.replied", "conversation.admin.replied"]
    return ["conversation.admin.replied"]


def envelope(
    workspace: Workspace, topic: str, conversation: Conversation, part: Part | None
) -> dict[str, Any]:
    item = conversation.to_json(workspace.contacts)
    parts = [part.to_json()] if part is not None else []
    item["conversation_parts"] = {
        "type": "conversation_part.list",
        "conversation_parts": parts,
        "total_count": len(parts),
    }
    now = int(time.time())
    return {
        "type": "notification_event",
        "app_id": "sandbox",
        "data": {"type": "notification_event_data", "item": item},
        "links": {},
        "id": f"notif_{uuid.uuid4()}",
        "topic": topic,
        "delivery_status": "pending",
        "delivery_attempts": 1,
        "delivered_at": 0,
        "first_sent_at": now,
        "created_at": now,
        "self": None,
    }


def sign(body: bytes, secret: str) -> str:
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


@dataclass(frozen=True)
class Held:
    """A notification made and not sent yet (`Workspace.hold_webhooks`)."""

    topic: str
    notification_id: str
    body: bytes


async def notify(
    workspace: Workspace, topic: str, conversation: Conversation, part: Part | None = None
) -> None:
    """Post the notification to the bridge (when a webhook URL and secret are configured and the
    app subscribed to the topic), or keep it while webhooks are held."""
    if not workspace.webhook_url or not workspace.client_secret:
        return
    if workspace.topics is not None and topic not in workspace.topics:
        return
    payload = envelope(workspace, topic, conversation, part)
    held = Held(topic, payload["id"], json.dumps(payload).encode())
    if workspace.hold_webhooks:
        workspace.held.append(held)
        return
    await _post(workspace, held)


async def release(workspace: Workspace) -> int:
    """Send every held notification, oldest first, as it was made; how many were sent."""
    held, workspace.held = workspace.held, []
    for notification in held:
        await _post(workspace, notification)
    return len(held)


async def _post(workspace: Workspace, notification: Held) -> None:
    if not workspace.webhook_url or not workspace.client_secret:
        return
    body = notification.body
    delivery = Delivery(topic=notification.topic, notification_id=notification.notification_id)
    workspace.deliveries.append(delivery)
    try:
        async with httpx.AsyncClient(timeout=10.0) as client:
            response = await client.post(
                workspace.webhook_url,
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "X-Hub-Signature": sign(body, workspace.client_secret),
                    "User-Agent": "Intercom-Webhooks-Sandbox",
                },
            )
        delivery.status = response.status_code
    except httpx.HTTPError as exc:
        delivery.error = type(exc).__name__
