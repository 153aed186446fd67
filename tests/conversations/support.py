"""A conversation the bridge opened for the tests' customer, for tests of whatever reads threads
(replies, merges, the inbox app, replay plans) to start from without delivering a message first."""

from __future__ import annotations

from typing import Any

import redis

from bridge.contacts.resolution import IdentityMap
from bridge.conversations.attachments import AttachmentResolver
from bridge.conversations.delivery import Deliverer
from bridge.conversations.media import media_store
from bridge.conversations.threads import Thread, ThreadStore
from bridge.core.settings import Settings
from bridge.intercom.client import IntercomClient
from bridge.intercom.models import ContactRef
from bridge.providers.registry import ADAPTERS

# The numbers `tests.helpers.inbound_sms` writes from and to: its message goes on in this thread.
CUSTOMER, BUSINESS = "+14155550123", "+14155550100"


def opened_thread(
    redis_client: redis.Redis,
    contact_id: str,
    *,
    conversation_id: str = "101",
    channel: str = "sms",
    customer: str = CUSTOMER,
    labelled_at: float = 1_700_000_000.0,
    **fields: Any,
) -> Thread:
    """The thread the customer's first Twilio message opened in `conversation_id`, saved; labelled
    (`bridge.conversations.labels`), as the bridge labels every conversation it opens."""
    thread = Thread(
        key=f"twilio:{channel}:{BUSINESS}:phone:{customer}",
        conversation_id=conversation_id,
        contact_id=contact_id,
        provider="twilio",
        channel=channel,
        business_number=BUSINESS,
        customer_address=customer,
        labelled_at=labelled_at,
        **fields,
    )
    ThreadStore(redis_client).save(thread)
    return thread


def known_conversation(sandbox: Any, redis_client: redis.Redis) -> dict[str, Any]:
    """The customer's open conversation in the sandbox (a lead with the customer's number), which
    the bridge opened and remembers (identity map, thread): its `id` and `contact_id`."""
    lead = sandbox.seed_contact(role="lead", phone=CUSTOMER)
    opened = sandbox.api(
        "POST", "/conversations", json={"from": {"type": "lead", "id": lead["id"]}, "body": "first"}
    )
    conversation_id = str(opened.json()["conversation_id"])
    IdentityMap(redis_client).set(f"phone:{CUSTOMER}", ContactRef(lead["id"], "lead"))
    opened_thread(redis_client, lead["id"], conversation_id=conversation_id)
    return {"id": conversation_id, "contact_id": lead["id"]}


def deliverer(
    redis_client: redis.Redis, settings: Settings, intercom: IntercomClient, media: Any
) -> Deliverer:
    """A delivery job's deliverer on these clients (`media`: the httpx client fetching media)."""
    attachments = AttachmentResolver(
        settings=settings, store=media_store(settings.data_dir, 14), adapters=ADAPTERS, http=media
    )
    return Deliverer(redis_client=redis_client, intercom=intercom, attachments=attachments, settings=settings)
