"""Which contact a stored contact id stands for now, after merges.

A lead merged into a user (from the inbox app, or in Intercom itself) is gone: Intercom answers
its id with 410 and a `Link` to the survivor (API 2.16; up to three hops), or 404 on older
versions. The bridge keeps an alias lead -> user for merges it made; for the others it asks
Intercom once, remembers the alias, and moves the lead's identities and threads to the survivor.
"""

from __future__ import annotations

import logging

from redis import Redis

from bridge.contacts.resolution import IdentityMap
from bridge.conversations.threads import ThreadStore
from bridge.core.errors import IntercomGone, IntercomNotFound
from bridge.infra import keys
from bridge.intercom.client import IntercomClient
from bridge.intercom.models import ContactRef

MAX_HOPS = 4

log = logging.getLogger(__name__)


def follow_alias(redis_client: Redis, contact: ContactRef) -> ContactRef:
    """`contact`, or the user it was merged into, by the bridge's aliases (no Intercom call)."""
    current = contact
    for _ in range(MAX_HOPS):
        target = redis_client.get(keys.alias(current.id))
        if target is None:
            return current
        current = ContactRef(id=target.decode() if isinstance(target, bytes) else str(target), role="user")
    return current


def canonical(redis_client: Redis, intercom: IntercomClient, contact: ContactRef) -> ContactRef | None:
    """The live contact `contact` became (itself when alive), rerouting the bridge's records to it;
    None when it was deleted outright."""
    current = follow_alias(redis_client, contact)
    try:
        live = intercom.get_contact(current.id)
    except IntercomGone as gone:
        if not gone.canonical_id:
            return None
        survivor = ContactRef(id=gone.canonical_id, role="user")
        reroute(redis_client, current.id, survivor)
        return survivor
    except IntercomNotFound:
        return None
    if current.id != contact.id:
        reroute(redis_client, contact.id, live.ref)
    return live.ref


def forget_deleted(redis_client: Redis, contact_id: str) -> None:
    """`contact_id` was deleted in Intercom (no survivor): its numbers and threads lead nowhere,
    so the next message from them is matched afresh (search, else a new lead)."""
    identities = IdentityMap(redis_client).forget_contact(contact_id)
    threads = ThreadStore(redis_client).forget_contact(contact_id)
    log.warning(
        "contact %s was deleted in Intercom: forgot its %d identities and %d conversations",
        contact_id,
        len(identities),
        len(threads),
    )


def reroute(redis_client: Redis, old_id: str, survivor: ContactRef) -> None:
    """Everything the bridge keeps about `old_id` now points at `survivor`."""
    redis_client.set(keys.alias(old_id), survivor.id)
    IdentityMap(redis_client).move(old_id, survivor)
    ThreadStore(redis_client).move(old_id, survivor.id)
