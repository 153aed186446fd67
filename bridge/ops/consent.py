"""Consent for operators: what a customer chose, and setting it on their word.

`bridge consent show NUMBER` and `GET /admin/consent/{number}` print the customer's consent on
every business address and the audit trail; `bridge consent set NUMBER --from F (--opt-out |
--opt-in) --reason R` and `POST /admin/consent` record a choice the customer made by phone or
email, audited as the operator's, mirrored on their Intercom contact like a keyword.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis import Redis

from bridge.consent.keeper import ConsentKeeper
from bridge.consent.store import Consent, ConsentStore, Source, scope_of
from bridge.contacts.resolution import IdentityMap
from bridge.core.logs import mask_number
from bridge.core.settings import Settings
from bridge.intercom.client import IntercomClient
from bridge.model.messages import Channel
from bridge.model.senders import IdentityKind, SenderIdentity, classify_sender


class UnknownNumber(ValueError):
    """A number an operator typed that is no phone number the bridge can read."""


def customer_of(number: str, settings: Settings) -> SenderIdentity:
    """The customer `number` names, classified as their messages would be."""
    written = number.strip().removeprefix("whatsapp:")
    customer = classify_sender(written, country_code_included=False, default_region=settings.default_region)
    if customer.kind in (IdentityKind.UNKNOWN, IdentityKind.ALPHANUMERIC, IdentityKind.SHORT_CODE):
        raise UnknownNumber(f"{number!r} is not a phone number or WhatsApp user id the bridge can read")
    return customer


def consent_report(redis_client: Redis, number: str, settings: Settings) -> dict[str, Any]:
    """The customer's consent per business address and every change, oldest first; the customer masked."""
    customer = customer_of(number, settings)
    store = ConsentStore(redis_client)
    return {
        "customer": mask_number(customer.e164 or customer.bare),
        "consent": [_shown(consent) for consent in store.of_customer(customer.key)],
        "history": [_shown_entry(entry) for entry in store.history(customer.key)],
    }


@dataclass(frozen=True)
class ConsentChange:
    """What `set_consent` did: the change, or None when the customer's choice was already so."""

    scope: str
    changed: Consent | None

    def to_json(self) -> dict[str, Any]:
        return {"scope": self.scope, "changed": self.changed is not None}


def set_consent(
    redis_client: Redis,
    intercom: IntercomClient | None,
    settings: Settings,
    *,
    number: str,
    business: str,
    channel: Channel,
    opted_out: bool,
    reason: str,
    operator: str,
) -> ConsentChange:
    """Record the customer's choice for `business` on `channel`, as `operator` heard it; their
    Intercom contact (when the bridge knows it) follows on SMS."""
    if not reason.strip():
        raise ValueError("say why (--reason): the audit trail keeps it")
    customer = customer_of(number, settings)
    scope = scope_of(channel, business)
    known = IdentityMap(redis_client).get(customer.key)
    changed = ConsentKeeper(redis_client, intercom).change(
        scope,
        customer.key,
        opted_out=opted_out,
        source=Source.OPERATOR,
        reason=reason.strip(),
        by=operator,
        contact_id=known.id if known else None,
    )
    return ConsentChange(scope, changed)


def _shown(consent: Consent) -> dict[str, Any]:
    return _shown_entry(consent.to_json())


def _shown_entry(entry: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in entry.items() if key != "customer"}
