"""Finding or creating the Intercom contact behind a sender.

Order: the bridge's identity map (the sender's id, the other ids the provider gave for it, then
the number's country variants), then Intercom's search, then a new lead. The identity map is
written the moment a contact is found or created, because Intercom's search can take minutes to
show a new contact: search alone would create a second lead for the second message. The caller
holds the sender's lane lock, so two messages from one new number cannot both miss the map.

Senders that are not phone numbers (a WhatsApp user id, a short code, an alphanumeric sender)
are found and created by a custom attribute, `bridge_identity` (e.g. `whatsapp_user:US.1349…`),
never forced into `phone`. Why not `external_id`: it is Intercom's `user_id`, the key the
customer's own product identifies *users* by (identity verification, CSV imports match on it
first); taking it for a lead would collide with that scheme and with merges into users. A custom
attribute is the bridge's own, searchable (`custom_attributes.bridge_identity`), and Intercom copies
it to the surviving user when a lead is merged.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from redis import Redis

from bridge.contacts.matching import (
    ContactPriority,
    MatchDecision,
    MatchRule,
    decide_from_search,
    phone_search_query,
)
from bridge.core import metrics
from bridge.core.errors import IntercomConflict
from bridge.core.logs import mask
from bridge.infra import keys
from bridge.infra.connection import read_hash
from bridge.intercom.client import IntercomClient
from bridge.intercom.models import Contact, ContactRef
from bridge.model.phones import to_e164
from bridge.model.senders import IdentityKind, SenderIdentity

log = logging.getLogger(__name__)

IDENTITY_ATTRIBUTE = "bridge_identity"
IDENTITY_ATTRIBUTE_DESCRIPTION = (
    "The sender id the SMS/WhatsApp bridge knows this contact by (not a phone number)."
)


class IdentityMap:
    """identity key -> the Intercom contact it belongs to (id and role)."""

    def __init__(self, redis_client: Redis) -> None:
        self._redis = redis_client

    def get(self, identity_key: str) -> ContactRef | None:
        data = read_hash(self._redis, keys.identity(identity_key))
        if "contact_id" not in data:
            return None
        return ContactRef(id=data["contact_id"], role=data.get("role", "lead"))

    def set(self, identity_key: str, contact: ContactRef) -> None:
        """Point `identity_key` at `contact`, keeping the contact's reverse index in step (a merge
        finds every identity of the merged-away contact through it)."""
        previous = self.get(identity_key)
        with self._redis.pipeline() as pipe:
            pipe.hset(keys.identity(identity_key), mapping={"contact_id": contact.id, "role": contact.role})
            if previous is not None and previous.id != contact.id:
                pipe.srem(keys.contact_identities(previous.id), identity_key)
            pipe.sadd(keys.contact_identities(contact.id), identity_key)
            pipe.execute()

    def identities_of(self, contact_id: str) -> list[str]:
        return sorted(
            item.decode() if isinstance(item, bytes) else str(item)
            for item in self._redis.smembers(keys.contact_identities(contact_id))
        )

    def move(self, from_id: str, to: ContactRef) -> list[str]:
        """Every identity of `from_id` now leads to `to` (after a merge); the keys moved."""
        moved = self.identities_of(from_id)
        for identity_key in moved:
            self.set(identity_key, to)
        return moved

    def forget_contact(self, contact_id: str) -> list[str]:
        """Forget every identity of `contact_id` (deleted in Intercom); the keys forgotten."""
        forgotten = self.identities_of(contact_id)
        for identity_key in forgotten:
            self.forget(identity_key)
        self._redis.delete(keys.contact_identities(contact_id))
        return forgotten

    def forget(self, identity_key: str) -> None:
        previous = self.get(identity_key)
        with self._redis.pipeline() as pipe:
            pipe.delete(keys.identity(identity_key))
            if previous is not None:
                pipe.srem(keys.contact_identities(previous.id), identity_key)
            pipe.execute()


def resolve_contact(
    *,
    sender: SenderIdentity,
    aliases: tuple[SenderIdentity, ...] = (),
    name: str | None = None,
    identities: IdentityMap,
    intercom: IntercomClient,
    default_region: str,
    priority: ContactPriority,
) -> MatchDecision:
    """The contact `sender` (also known as `aliases`) is, creating a lead named `name` when
    nobody matches: the same for a customer who writes and one the team writes to first.
    `priority` picks among several contacts holding it."""
    known: dict[str, ContactRef] = {}
    decision = decide_from_identity_map(sender, aliases, identities, known=known)
    if decision is None:
        if sender.kind is IdentityKind.PHONE and sender.e164:
            decision = _search_phone(sender, intercom, default_region, priority)
        else:
            decision = _search_external_identity(sender, intercom, priority)
    if decision is None:
        decision = _create_lead(sender, name, intercom)
    contact = ContactRef(id=decision.contact_id, role=decision.role)
    for identity in (sender, *aliases):
        # Read a moment ago and already this contact (a known sender, most messages): no write.
        if known.get(identity.key) != contact:
            identities.set(identity.key, contact)
    metrics.current().contact_match(decision.rule.value, variant=decision.variant is not None)
    log.info(
        "sender %s matched contact %s by %s%s (%d candidates)",
        mask(sender.key),
        decision.contact_id,
        decision.rule.value,
        f" via variant {mask(decision.variant)}" if decision.variant else "",
        len(decision.candidates),
    )
    return decision


def decide_from_identity_map(
    sender: SenderIdentity,
    aliases: tuple[SenderIdentity, ...],
    identities: IdentityMap,
    *,
    known: dict[str, ContactRef] | None = None,
) -> MatchDecision | None:
    """What the identity map alone decides: the sender's key, its aliases', then its variants'.
    `known` collects what the keys read held, so the caller need not read them again."""
    exact = [sender.key, *(alias.key for alias in aliases)]
    for key in (*exact, *sender.variant_keys):
        found = identities.get(key)
        if found is not None:
            if known is not None:
                known[key] = found
            variant = None if key in exact else key.removeprefix("phone:")
            return MatchDecision(
                contact_id=found.id, role=found.role, rule=MatchRule.IDENTITY_MAP, variant=variant
            )
    return None


def phone_search_numbers(sender: SenderIdentity) -> list[str]:
    """The E.164 numbers a phone sender is searched by: its own, then its variants'."""
    assert sender.e164 is not None
    return [sender.e164, *(key.removeprefix("phone:") for key in sender.variant_keys)]


def decide_phone_search(
    sender: SenderIdentity,
    candidates: Sequence[Contact],
    *,
    default_region: str,
    priority: ContactPriority = ContactPriority.LATEST_UPDATED,
) -> MatchDecision | None:
    """The decision a phone search's result leads to, naming the variant the winner is stored under."""
    assert sender.e164 is not None
    numbers = phone_search_numbers(sender)
    decision = decide_from_search(candidates, priority)
    if decision is None:
        return None
    winner = next(c for c in decision.candidates if c.id == decision.contact_id)
    stored = to_e164(winner.phone, region=default_region) if winner.phone else None
    if stored is not None and stored != sender.e164 and stored in numbers:
        return replace(decision, variant=stored)
    return decision


def identity_search_query(sender: SenderIdentity) -> dict[str, Any]:
    """The search for a sender that is not a phone number: its `bridge_identity` attribute."""
    return {"field": f"custom_attributes.{IDENTITY_ATTRIBUTE}", "operator": "=", "value": sender.key}


def decide_identity_search(
    candidates: Sequence[Contact], priority: ContactPriority = ContactPriority.LATEST_UPDATED
) -> MatchDecision | None:
    """The decision a `bridge_identity` search's result leads to (`chosen_by` says how, if several)."""
    decision = decide_from_search(candidates, priority)
    return replace(decision, rule=MatchRule.EXTERNAL_IDENTITY) if decision else None


def _search_phone(
    sender: SenderIdentity, intercom: IntercomClient, default_region: str, priority: ContactPriority
) -> MatchDecision | None:
    candidates = intercom.search_contacts(phone_search_query(phone_search_numbers(sender)))
    return decide_phone_search(sender, candidates, default_region=default_region, priority=priority)


def _search_external_identity(
    sender: SenderIdentity, intercom: IntercomClient, priority: ContactPriority
) -> MatchDecision | None:
    intercom.ensure_data_attribute(IDENTITY_ATTRIBUTE, description=IDENTITY_ATTRIBUTE_DESCRIPTION)
    return decide_identity_search(intercom.search_contacts(identity_search_query(sender)), priority)


def _create_lead(sender: SenderIdentity, name: str | None, intercom: IntercomClient) -> MatchDecision:
    fields: dict[str, object] = {"role": "lead"}
    if sender.e164:
        fields["phone"] = sender.e164
    else:
        fields["custom_attributes"] = {IDENTITY_ATTRIBUTE: sender.key}
    name = name or (None if sender.e164 else sender.bare)
    if name:
        fields["name"] = name
    try:
        contact: Contact = intercom.create_contact(fields)
    except IntercomConflict as conflict:
        if not conflict.existing_id:
            raise
        existing = intercom.get_contact(conflict.existing_id)
        return MatchDecision(contact_id=existing.id, role=existing.role, rule=MatchRule.CONFLICT)
    return MatchDecision(contact_id=contact.id, role=contact.role, rule=MatchRule.CREATED)
