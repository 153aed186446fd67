"""Every provider adapter, by route name: the one list of providers the bridge serves. A new
provider is one sub-package and one line here.

Apart from `bridge.providers`'s `__init__`, so that importing one adapter (or the interface in
`bridge.providers.base`) does not load all six.
"""

from __future__ import annotations

from bridge.providers.africastalking.adapter import AfricasTalkingAdapter
from bridge.providers.base import ProviderAdapter
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
