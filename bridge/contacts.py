"""Finding or creating the Intercom contact behind a sender.

Order: the bridge's identity map, then Intercom's search, then a new lead. The identity map is
written the moment a contact is found or created, because Intercom's search can take minutes to
show a new contact: search alone would create a second lead for the second message. The caller
holds the sender's lock, so two messages from one new number cannot both miss the map.
"""

from __future__ import annotations

import logging

from redis import Redis

from bridge import keys
from bridge.connection import read_hash
from bridge.errors import IntercomConflict
from bridge.identity import IdentityKind
from bridge.intercom.client import IntercomClient
from bridge.intercom.models import ContactRef
from bridge.logs import mask
from bridge.matching import MatchDecision, MatchRule, decide_from_search, phone_search_query
from bridge.messages import InboundMessage

log = logging.getLogger(__name__)


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
        self._redis.hset(
            keys.identity(identity_key), mapping={"contact_id": contact.id, "role": contact.role}
        )


def resolve_contact(
    *, message: InboundMessage, identities: IdentityMap, intercom: IntercomClient
) -> MatchDecision:
    """The contact `message` belongs to, creating a lead when nobody matches."""
    sender = message.sender
    known = identities.get(sender.key)
    if known is not None:
        return MatchDecision(contact_id=known.id, role=known.role, rule=MatchRule.IDENTITY_MAP)

    decision = None
    if sender.kind is IdentityKind.PHONE and sender.e164:
        decision = decide_from_search(intercom.search_contacts(phone_search_query([sender.e164])))
    if decision is None:
        decision = _create_lead(message, intercom)
    identities.set(sender.key, ContactRef(id=decision.contact_id, role=decision.role))
    log.info(
        "sender %s matched contact %s by %s (%d candidates)",
        mask(sender.key),
        decision.contact_id,
        decision.rule.value,
        len(decision.candidates),
    )
    return decision


def _create_lead(message: InboundMessage, intercom: IntercomClient) -> MatchDecision:
    fields: dict[str, object] = {"role": "lead"}
    if message.sender.e164:
        fields["phone"] = message.sender.e164
    name = message.profile_name or (None if message.sender.e164 else message.sender.raw)
    if name:
        fields["name"] = name
    try:
        contact = intercom.create_contact(fields)
    except IntercomConflict as conflict:
        if not conflict.existing_id:
            raise
        existing = intercom.get_contact(conflict.existing_id)
        return MatchDecision(contact_id=existing.id, role=existing.role, rule=MatchRule.CONFLICT)
    return MatchDecision(contact_id=contact.id, role=contact.role, rule=MatchRule.CREATED)
