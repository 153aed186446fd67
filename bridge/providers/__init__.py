"""Provider adapters, by route name. A new provider is one module and one line here."""

from __future__ import annotations

from bridge.providers.africastalking.adapter import AfricasTalkingAdapter
from bridge.providers.base import Acknowledgement, ProviderAdapter, WebhookContent, WebhookRequest
from bridge.providers.messagebird import MessageBirdAdapter
from bridge.providers.textmagic.adapter import TextMagicAdapter
from bridge.providers.twilio.adapter import TwilioAdapter
from bridge.providers.vonage import VonageAdapter
from bridge.providers.whatsapp import WhatsAppAdapter

ADAPTERS: dict[str, ProviderAdapter] = {
    adapter.name: adapter
    for adapter in (
        TwilioAdapter(),
        WhatsAppAdapter(),
        MessageBirdAdapter(),
        VonageAdapter(),
        TextMagicAdapter(),
        AfricasTalkingAdapter(),
    )
}


def get_adapter(name: str) -> ProviderAdapter | None:
    """The adapter serving `/webhooks/{name}`, or None for an unknown provider."""
    return ADAPTERS.get(name)


__all__ = [
    "ADAPTERS",
    "Acknowledgement",
    "ProviderAdapter",
    "WebhookContent",
    "WebhookRequest",
    "get_adapter",
]
