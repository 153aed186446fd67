"""A change's `messages[]` as `InboundMessage`s: who sent each one (phone number, BSUID, or
both), the `contacts[]` entry that names them, and every reason it cannot be delivered."""

from __future__ import annotations

from bridge.core.errors import MalformedPayload
from bridge.core.json_payloads import JsonNode
from bridge.core.settings import Settings
from bridge.model.messages import Channel, InboundMessage
from bridge.model.senders import IdentityKind, SenderIdentity, classify_sender
from bridge.providers.base import WebhookRequest
from bridge.providers.whatsapp.content import read_content
from bridge.providers.whatsapp.errors import errors_problem


def read_messages(
    value: JsonNode, *, account: str | None, request: WebhookRequest, settings: Settings
) -> list[InboundMessage]:
    """The messages of one change's `value` (none for a change that only carries statuses)."""
    items = value.objects("messages")
    if not items:
        return []
    metadata = value.required_object("metadata")
    # Replies go out through /{phone-number-id}/messages: the id is the business number.
    business_number = metadata.required("phone_number_id")
    contacts = value.objects("contacts")
    return [
        _message(item, contacts, business_number, account, request, settings.default_region) for item in items
    ]


def _message(
    message: JsonNode,
    contacts: list[JsonNode],
    business_number: str,
    account: str | None,
    request: WebhookRequest,
    region: str,
) -> InboundMessage:
    provider_message_id = message.required("id")
    phone, user_id = message.text("from"), message.text("from_user_id")
    contact = _contact(contacts, phone, user_id)
    if contact is not None:
        phone = phone or contact.text("wa_id")
        user_id = user_id or contact.text("user_id")
    sender, aliases = _sender(message, phone, user_id, region)
    content = read_content(message)
    new_identity = None
    problems = [content.problem, errors_problem(message)]
    if content.new_id:
        new_identity = classify_sender(content.new_id, country_code_included=True, default_region=region)
        if new_identity.kind is IdentityKind.UNKNOWN:
            problems.append("the sender's new WhatsApp id is neither a phone number nor a user id")
    if message.text("group_id"):
        problems.insert(0, "group messages are not supported")
    if sender.kind is IdentityKind.UNKNOWN:
        problems.append("the sender is neither a phone number nor a WhatsApp user id")
    reasons = [problem for problem in problems if problem]
    return InboundMessage(
        provider="whatsapp",
        channel=Channel.WHATSAPP,
        provider_message_id=provider_message_id,
        sender=sender,
        business_number=business_number,
        text=content.text.replace("\x00", ""),
        media=content.media,
        profile_name=_profile_name(contact),
        # Meta's `timestamp` is unix seconds as a string; an unreadable one, of whatever type,
        # falls back to the receive time: a bad clock is no reason to refuse a batch of messages.
        received_at=message.time("timestamp", default=request.received_at),
        account=account,
        aliases=aliases,
        new_identity=new_identity,
        problem="; ".join(reasons) or None,
    )


def _contact(contacts: list[JsonNode], phone: str | None, user_id: str | None) -> JsonNode | None:
    """The sender's `contacts[]` entry, by wa_id or BSUID. Meta says a wa_id and the `from`
    number may differ, so a change's only contact is taken as the sender's when nothing matches."""
    for contact in contacts:
        if (phone and contact.text("wa_id") == phone) or (user_id and contact.text("user_id") == user_id):
            return contact
    return contacts[0] if len(contacts) == 1 else None


def _profile_name(contact: JsonNode | None) -> str | None:
    if contact is None:
        return None
    return contact.nested("profile", "name") or contact.nested("profile", "username")


def _sender(
    message: JsonNode, phone: str | None, user_id: str | None, region: str
) -> tuple[SenderIdentity, tuple[SenderIdentity, ...]]:
    """The phone number when known, its BSUID as an alias; the BSUID alone for users who hide
    their number behind a username (no `from`, only `from_user_id`; research/providers.md §2.2)."""
    if phone:
        sender = classify_sender(phone, country_code_included=True, default_region=region)
        alias = (
            classify_sender(user_id, country_code_included=True, default_region=region) if user_id else None
        )
        aliases = (alias,) if alias and alias.kind is IdentityKind.WHATSAPP_USER else ()
        return sender, aliases
    if user_id:
        return classify_sender(user_id, country_code_included=True, default_region=region), ()
    raise MalformedPayload(f"{message.at('from')} and {message.at('from_user_id')} are both missing")
