"""Addressing a message the team writes first as a provider's webhooks would name both parties.

The thread a customer's answer lands in is keyed by the provider, the channel, the business
number exactly as the provider's webhook gives it, and the customer's identity
(`bridge.conversations.threads.thread_key`). So a first message must name the business the way
the inbound side will (`+12025550100` on Twilio SMS, `whatsapp:+1202…` on Twilio WhatsApp, digits
without `+` on Vonage, MessageBird and TextMagic, the phone-number id on Meta), and the customer
the way a reply addresses them: the inbound `sender.raw` each adapter stores. These helpers hold
the shapes the six adapters' `outbound_address` share; the inbound parsers are the reference.
"""

from __future__ import annotations

from collections.abc import Collection

from bridge.model.messages import Channel
from bridge.model.phones import international_digits_to_e164, strip_formatting
from bridge.model.senders import IdentityKind, SenderIdentity
from bridge.providers.base import refused


def check_channel(provider: str, channels: Collection[Channel], channel: Channel) -> None:
    """Refuse a channel the provider cannot write first on."""
    if channel not in channels:
        offered = " or ".join(sorted(str(item) for item in channels))
        raise refused(provider, f"{provider} sends {offered}, not {channel}")


def customer_address(provider: str, customer: SenderIdentity, channel: Channel, *, plus: bool) -> str:
    """The customer as the provider's inbound messages name them: a phone number in E.164, with
    its `+` or without (`plus`), a WhatsApp user id (BSUID) or a short code as written. Refuses
    what cannot receive a message on `channel`."""
    kind = customer.kind
    if kind is IdentityKind.PHONE and customer.e164:
        return customer.e164 if plus else customer.e164.removeprefix("+")
    if kind is IdentityKind.WHATSAPP_USER and channel is Channel.WHATSAPP:
        return customer.bare
    if kind is IdentityKind.SHORT_CODE and channel is Channel.SMS:
        return customer.bare
    reasons = {
        IdentityKind.WHATSAPP_USER: "a WhatsApp user id can be written to on WhatsApp only",
        IdentityKind.SHORT_CODE: "a short code has no WhatsApp",
        IdentityKind.ALPHANUMERIC: "an alphanumeric sender id cannot receive messages",
    }
    raise refused(
        provider,
        reasons.get(kind, "the customer's address is neither a phone number nor a WhatsApp user id"),
    )


def compact_number(business: str) -> str:
    """`+1 (202) 555-0100` -> `+12025550100`: a number without what people write around its
    digits; anything that is not a number (a short code stays, a sender name) as written."""
    compact = strip_formatting(business)
    return compact if compact.removeprefix("+").isdigit() else business.strip()


def e164_number(business: str) -> str:
    """A business number in E.164 with `+` (how Twilio names its numbers): digits written without
    `+` are read as international ones; a short code or a sender name stays as written."""
    compact = compact_number(business)
    if compact.isdigit():
        return international_digits_to_e164(compact) or compact
    return compact


def digits_number(business: str) -> str:
    """A business number as international digits without `+` (Vonage, MessageBird, TextMagic)."""
    return compact_number(business).removeprefix("+")
