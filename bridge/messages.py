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

# Intercom accepts at most 10 attachment URLs on a message (research/intercom-api.md §3.1).
MAX_INTERCOM_ATTACHMENTS = 10


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

    def intercom_content(self) -> tuple[str, list[str]]:
        """The body and attachment URLs for Intercom.

        Intercom requires a body even when the customer sent only media, and takes at most 10
        attachment URLs; media past the tenth are linked in the body rather than dropped.
        """
        urls = [media.url for media in self.media]
        attached, linked = urls[:MAX_INTERCOM_ATTACHMENTS], urls[MAX_INTERCOM_ATTACHMENTS:]
        if self.text.strip():
            body = self.text
        elif urls:
            body = f"(sent {len(urls)} attachment{'s' if len(urls) > 1 else ''})"
        else:
            body = "(empty message)"
        if linked:
            body += "\n" + "\n".join(linked)
        return body, attached
