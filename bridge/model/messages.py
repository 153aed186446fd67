"""The one inbound message model every provider adapter produces, and the delivery-status model.

Adapters turn a provider's webhook into `InboundMessage`s (and `DeliveryStatus`es); nothing
downstream knows which provider a message came from except through `provider`, `channel` and the
raw addresses kept here for replies. The models are JSON-serializable so the ledger stores them
and jobs read them back unchanged.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from bridge.model.senders import SenderIdentity

# Intercom accepts at most 10 attachment URLs on a message (research/intercom-api.md §3.1).
MAX_INTERCOM_ATTACHMENTS = 10


class Channel(StrEnum):
    SMS = "sms"
    WHATSAPP = "whatsapp"


class Media(BaseModel):
    """An attachment as the provider announced it: a URL, or only the provider's media id
    (Meta sends an id the bridge must resolve with its access token)."""

    model_config = ConfigDict(frozen=True)

    url: str | None = None
    provider_id: str | None = None
    content_type: str | None = None
    filename: str | None = None

    @property
    def reference(self) -> str:
        """What identifies the media for people and logs: its URL, else the provider's id."""
        return self.url or f"{self.provider_id}"


class Fragment(BaseModel):
    """One part of a long SMS the provider delivered in pieces (Vonage's `concat-*`)."""

    model_config = ConfigDict(frozen=True)

    group: str  # the provider's reference shared by every part of the message
    index: int  # 1-based
    total: int


class InboundMessage(BaseModel):
    """A customer's message, as received by the bridge."""

    model_config = ConfigDict(frozen=True)

    provider: str
    channel: Channel
    provider_message_id: str
    sender: SenderIdentity
    # The number (or WhatsApp phone-number id) the customer wrote to, exactly as the provider gave
    # it: replies must leave from the same one.
    business_number: str
    text: str = ""
    media: tuple[Media, ...] = ()
    profile_name: str | None = None
    received_at: datetime
    # The provider account that received it (Twilio AccountSid, Meta WABA), for multi-account setups.
    account: str | None = None
    # Other ids the provider gave for the same sender (a WhatsApp user id beside the phone number):
    # all of them lead to the same contact from now on.
    aliases: tuple[SenderIdentity, ...] = ()
    # The sender now writes from this id (WhatsApp's `user_changed_number`).
    new_identity: SenderIdentity | None = None
    fragment: Fragment | None = None
    # A token a reply to this message must carry (Africa's Talking's `linkId` for premium SMS).
    reply_reference: str | None = None
    # Set when the message was accepted and stored but cannot be delivered as it is (an unreadable
    # sender, an unsupported message type). The job fails with this reason, visible to ops.
    problem: str | None = None
    # The provider's own reading of it as a consent keyword, when it reads them (Twilio's Advanced
    # Opt-Out `OptOutType`: STOP, START, HELP): it counts as the keyword, whatever the text says.
    consent_keyword: str | None = None
    # False when its webhook's signature did not verify and `BRIDGE_SIGNATURE_MODE=log-only` let
    # it through: anyone may have written it, so its media links are never fetched.
    verified: bool = True

    def intercom_content(
        self, media_urls: list[str] | None = None, *, files: int = 0
    ) -> tuple[str, list[str]]:
        """The body and attachment URLs for Intercom.

        `media_urls` are the URLs Intercom can fetch; by default the provider's. `files` counts
        the attachments handed to Intercom as files besides. Intercom requires a body even when
        the customer sent only media, and takes at most 10 attachment URLs: media past the tenth
        are linked in the body.
        """
        urls = media_urls if media_urls is not None else [m.url for m in self.media if m.url]
        attached, linked = urls[:MAX_INTERCOM_ATTACHMENTS], urls[MAX_INTERCOM_ATTACHMENTS:]
        count = len(urls) + files
        if self.text.strip():
            body = self.text
        elif count:
            body = f"(sent {count} attachment{'s' if count > 1 else ''})"
        else:
            body = "(empty message)"
        if linked:
            body += "\n" + "\n".join(linked)
        return body, attached


class DeliveryState(StrEnum):
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"


class DeliveryStatus(BaseModel):
    """A provider's report on a message the bridge sent: where it got to, and why it failed."""

    model_config = ConfigDict(frozen=True)

    provider: str
    provider_message_id: str  # the id the provider gave the outbound message when it was sent
    state: DeliveryState
    occurred_at: datetime
    recipient: str | None = None
    error_code: str | None = None
    error_message: str | None = None
