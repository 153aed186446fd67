"""`bridge run --sandbox` writes first from numbers its accounts own: every default sender the
sandbox configures (`BRIDGE_DEFAULT_SENDERS`: `SANDBOX_BUSINESS_NUMBER` on Twilio,
`SANDBOX_PHONE_NUMBER_ID` on Meta) is in the number list the `bridge standins` process of that run
serves, on each channel the list can tell about, written as the adapter addresses it."""

from __future__ import annotations

import httpx

from bridge.core.settings import Settings
from bridge.dev.sandbox.credentials import SANDBOX_BUSINESS_NUMBER, SANDBOX_PHONE_NUMBER_ID
from bridge.model.messages import Channel
from bridge.model.senders import classify_sender
from bridge.providers.base import listed_sender
from bridge.providers.registry import ADAPTERS

CUSTOMER = classify_sender("+14155550123", country_code_included=True, default_region="US")


def test_a_sandbox_runs_default_senders_are_listed_by_its_standins(sandbox_run: dict[str, str]) -> None:
    settings = Settings(_env_file=None, **sandbox_run)  # type: ignore[arg-type]
    checked: dict[tuple[str, Channel], str] = {}
    with httpx.Client(timeout=10.0) as http:
        for key, number in settings.default_senders.items():
            provider, _, channel_name = key.partition(":")
            adapter = ADAPTERS[provider]
            channels = {Channel(channel_name)} if channel_name else adapter.channels
            listed = adapter.list_senders(settings, http)
            for channel in channels & adapter.sender_channels:
                business = adapter.outbound_address(CUSTOMER, number, channel).business_number
                assert listed_sender(listed, business, channel) is not None, (provider, channel, business)
                checked[provider, channel] = business
    assert checked == {
        ("twilio", Channel.SMS): SANDBOX_BUSINESS_NUMBER,
        ("whatsapp", Channel.WHATSAPP): SANDBOX_PHONE_NUMBER_ID,
    }
