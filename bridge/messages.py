"""The one inbound message model every provider adapter produces.

Adapters turn a provider's webhook into `InboundMessage`s; nothing downstream knows which provider
a message came from except through `provider`, `channel` and the raw addresses kept here for
replies. The model is JSON-serializable so the ledger stores it and jobs read it back unchanged.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from bridge.identity import SenderIdentity


class Channel(StrEnum):
    SMS = "sms"
    WHATSAPP = "whatsapp"


class Media(BaseModel):
    """An attachment as the provider announced it."""

    model_config = ConfigDict(frozen=True)

    url: str
    content_type: str | None = None


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
    # Set when the message was accepted and stored but cannot be delivered as it is (an unreadable
    # sender, an unsupported message type). The job fails with this reason, visible to ops.
    problem: str | None = None

    def conversation_text(self) -> str:
        """The body for Intercom, which requires one even when the customer sent only media."""
        if self.text.strip():
            return self.text
        if self.media:
            count = len(self.media)
            return f"(sent {count} attachment{'s' if count > 1 else ''})"
        return "(empty message)"
