"""Listing the business addresses an account sends from: Twilio's phone numbers and short codes,
Meta's phone numbers, Vonage's and TextMagic's numbers.

Against the stand-ins over HTTP, each account's numbers come back whole, across pages, each
written as the adapter's `outbound_address` names the business (so a message's `from` is checked
by comparing strings) with the channels it sends on; a list whose pages never end is given up on
after `MAX_PAGES`; a number the stand-in's account no longer has is not listed; a missing
credential is named before any request and a wrong one is refused in the provider's own code.
Where a provider cannot tell (Twilio's and Vonage's WhatsApp senders, MessageBird, Africa's
Talking) it says so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from bridge.core.errors import ConfigurationError, ProviderRejected
from bridge.core.settings import Settings
from bridge.dev.sandbox.credentials import SANDBOX_BUSINESS_NUMBER, SANDBOX_PHONE_NUMBER_ID
from bridge.model.messages import Channel
from bridge.model.senders import classify_sender
from bridge.providers.base import BusinessAddress, listed_sender
from bridge.providers.listing import MAX_PAGES
from bridge.providers.registry import ADAPTERS

SMS, WHATSAPP = frozenset({Channel.SMS}), frozenset({Channel.WHATSAPP})
NONE: frozenset[Channel] = frozenset()
CUSTOMER = classify_sender("+16505551234", country_code_included=True, default_region="US")


@dataclass(frozen=True)
class Lister:
    """One provider's number list at the stand-in, and what the bridge makes of it."""

    provider: str
    lists: tuple[str, ...]  # the `StandInState` fields its API lists, in the order it reads them
    path: str  # the end of its list's path, to count the requests made
    listed: Mapping[str, frozenset[Channel]]  # the stand-in account's addresses, as listed
    credentials: Mapping[str, str]  # the settings a list needs, with their variables
    secret: str  # the setting a wrong value of which the API refuses …
    refused: str  # … with this code
    number: Callable[[int], tuple[dict[str, Any], str]]  # another number: its entry, its address


def twilio_number(n: int) -> tuple[dict[str, Any], str]:
    number = f"+1312555{n:04d}"
    return {"phone_number": number, "friendly_name": f"Line {n}", "capabilities": {"sms": True}}, number


def meta_number(n: int) -> tuple[dict[str, Any], str]:
    number_id = f"1065403523{n:05d}"
    return {"id": number_id, "display_phone_number": f"+1 555-01{n:02d}", "verified_name": "Shop"}, number_id


def vonage_number(n: int) -> tuple[dict[str, Any], str]:
    msisdn = f"4477009{n:05d}"
    return {"country": "GB", "msisdn": msisdn, "type": "mobile-lvn", "features": ["SMS"]}, msisdn


def textmagic_number(n: int) -> tuple[dict[str, Any], str]:
    phone = f"4475559{n:05d}"
    return {"id": 900 + n, "phone": phone, "status": "A"}, phone


SANDBOX_DIGITS = SANDBOX_BUSINESS_NUMBER.removeprefix("+")
TWILIO = Lister(
    provider="twilio",
    lists=("twilio_numbers", "twilio_short_codes"),
    path=".json",
    listed={
        SANDBOX_BUSINESS_NUMBER: SMS,
        "+12025550100": SMS,
        "+14155550111": SMS,
        "+14155550199": SMS,
        "+14155550190": NONE,  # a number for calls only
        "894546": SMS,  # a short code
    },
    credentials={"twilio_account_sid": "TWILIO_ACCOUNT_SID", "twilio_auth_token": "TWILIO_AUTH_TOKEN"},
    secret="twilio_auth_token",
    refused="20003",
    number=twilio_number,
)
META = Lister(
    provider="whatsapp",
    lists=("whatsapp_phone_numbers",),
    path="/phone_numbers",
    listed={SANDBOX_PHONE_NUMBER_ID: WHATSAPP},
    credentials={
        "whatsapp_business_account_id": "WHATSAPP_BUSINESS_ACCOUNT_ID",
        "whatsapp_access_token": "WHATSAPP_ACCESS_TOKEN",
    },
    secret="whatsapp_access_token",
    refused="190",
    number=meta_number,
)
VONAGE = Lister(
    provider="vonage",
    lists=("vonage_numbers",),
    path="/account/numbers",
    listed={"447700900000": SMS, SANDBOX_DIGITS: SMS, "14155550111": SMS, "442079460000": NONE},
    credentials={"vonage_api_key": "VONAGE_API_KEY", "vonage_api_secret": "VONAGE_API_SECRET"},
    secret="vonage_api_secret",
    refused="401",
    number=vonage_number,
)
TEXTMAGIC = Lister(
    provider="textmagic",
    lists=("textmagic_numbers",),
    path="/api/v2/numbers",
    listed={"447624800500": SMS, SANDBOX_DIGITS: SMS},
    credentials={"textmagic_username": "TEXTMAGIC_USERNAME", "textmagic_api_key": "TEXTMAGIC_API_KEY"},
    secret="textmagic_api_key",
    refused="401",
    number=textmagic_number,
)
LISTERS = [TWILIO, META, VONAGE, TEXTMAGIC]
every_lister = pytest.mark.parametrize("lister", LISTERS, ids=lambda lister: lister.provider)


@pytest.fixture
def listing_settings(standin_settings: Settings) -> Settings:
    """The stand-ins' settings, with the WhatsApp Business Account whose numbers Meta lists."""
    return standin_settings.model_copy(update={"whatsapp_business_account_id": "102290129340398"})


def listed(provider: str, settings: Settings) -> list[BusinessAddress]:
    with httpx.Client(timeout=10.0) as http:
        return ADAPTERS[provider].list_senders(settings, http)


def list_requests(standin: Any, lister: Lister) -> int:
    return len([request for request in standin.state.requests if request["path"].endswith(lister.path)])


@every_lister
def test_every_number_is_listed_across_pages(
    lister: Lister, listing_settings: Settings, providers_at_standin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = providers_at_standin.state
    monkeypatch.setattr(state, "page_size", 1)
    entry, address = lister.number(1)
    getattr(state, lister.lists[0]).append(entry)

    found = listed(lister.provider, listing_settings)

    expected = {**lister.listed, address: ADAPTERS[lister.provider].sender_channels}
    assert {item.address: item.channels for item in found} == expected
    assert {item.provider for item in found} == {lister.provider}
    assert list_requests(providers_at_standin, lister) == len(found)  # one a page


@every_lister
def test_a_list_whose_pages_never_end_is_given_up_on(
    lister: Lister, listing_settings: Settings, providers_at_standin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = providers_at_standin.state
    monkeypatch.setattr(state, "page_size", 1)
    monkeypatch.setattr(state, lister.lists[0], [lister.number(n)[0] for n in range(MAX_PAGES + 1)])
    with pytest.raises(ProviderRejected, match=f"past {MAX_PAGES} pages"):
        listed(lister.provider, listing_settings)
    assert list_requests(providers_at_standin, lister) == MAX_PAGES


@pytest.mark.parametrize(
    ("provider", "written", "channel"),
    [
        ("twilio", "+1 (415) 555-0100", Channel.SMS),
        ("twilio", "894546", Channel.SMS),
        ("whatsapp", f" {SANDBOX_PHONE_NUMBER_ID} ", Channel.WHATSAPP),
        ("vonage", "+44 7700 900000", Channel.SMS),
        ("vonage", "14155550100", Channel.SMS),
        ("textmagic", "+44 7624 800500", Channel.SMS),
    ],
)
def test_a_listed_address_is_written_as_outbound_address_names_the_business(
    provider: str, written: str, channel: Channel, listing_settings: Settings, providers_at_standin: Any
) -> None:
    adapter = ADAPTERS[provider]
    business = adapter.outbound_address(CUSTOMER, written, channel).business_number
    assert channel in adapter.sender_channels
    found = listed_sender(listed(provider, listing_settings), business, channel)
    assert found is not None and found.address == business


def test_twilio_can_tell_its_sms_numbers_but_not_its_whatsapp_senders(
    listing_settings: Settings, providers_at_standin: Any
) -> None:
    twilio = ADAPTERS["twilio"]
    assert twilio.sender_channels == SMS
    numbers = listed("twilio", listing_settings)
    whatsapp = twilio.outbound_address(CUSTOMER, SANDBOX_BUSINESS_NUMBER, Channel.WHATSAPP).business_number
    assert whatsapp == f"whatsapp:{SANDBOX_BUSINESS_NUMBER}"
    assert listed_sender(numbers, whatsapp, Channel.WHATSAPP) is None  # not listed: WhatsApp is not covered
    # Owned, but for calls only: listed without a channel, so no SMS leaves from it.
    assert listed_sender(numbers, "+14155550190", Channel.SMS) is None
    [calls] = [item for item in numbers if item.address == "+14155550190"]
    assert calls.label == "Front desk (calls only)"


def test_metas_numbers_carry_their_verified_name(
    listing_settings: Settings, providers_at_standin: Any
) -> None:
    [number] = listed("whatsapp", listing_settings)
    assert (number.address, number.label) == (SANDBOX_PHONE_NUMBER_ID, "Stand-in Support")


@every_lister
def test_a_number_the_account_no_longer_has_is_not_listed(
    lister: Lister, listing_settings: Settings, providers_at_standin: Any
) -> None:
    owned, channels = next((address, channels) for address, channels in lister.listed.items() if channels)
    [channel] = channels
    numbers = getattr(providers_at_standin.state, lister.lists[0])
    before = listed(lister.provider, listing_settings)
    assert listed_sender(before, owned, channel) is not None
    numbers.pop(0)  # each list's first number is the first address listed
    assert listed_sender(listed(lister.provider, listing_settings), owned, channel) is None


@pytest.mark.parametrize(
    ("lister", "field", "variable"),
    [pytest.param(lister, f, v, id=v) for lister in LISTERS for f, v in lister.credentials.items()],
)
def test_a_missing_setting_is_named_before_any_request(
    lister: Lister, field: str, variable: str, listing_settings: Settings, providers_at_standin: Any
) -> None:
    with pytest.raises(ConfigurationError, match=variable):
        listed(lister.provider, listing_settings.model_copy(update={field: None}))
    assert list_requests(providers_at_standin, lister) == 0


@every_lister
def test_wrong_credentials_are_refused_in_the_providers_own_code(
    lister: Lister, listing_settings: Settings, providers_at_standin: Any
) -> None:
    wrong = listing_settings.model_copy(update={lister.secret: SecretStr("not-the-secret")})
    with pytest.raises(ProviderRejected) as refused:
        listed(lister.provider, wrong)
    assert (refused.value.code, refused.value.status) == (lister.refused, 401)
    assert "not-the-secret" not in str(refused.value)


def test_metas_standin_lists_only_its_business_accounts_numbers(
    listing_settings: Settings, providers_at_standin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(providers_at_standin.state, "whatsapp_business_account_id", "999999999999999")
    with pytest.raises(ProviderRejected) as refused:
        listed("whatsapp", listing_settings)
    assert (refused.value.code, refused.value.status) == ("100", 400)


@pytest.mark.parametrize("provider", ["messagebird", "africastalking"])
def test_a_provider_without_a_number_list_says_so(provider: str) -> None:
    assert ADAPTERS[provider].sender_channels == NONE
    with httpx.Client() as http, pytest.raises(ProviderRejected, match="cannot list the numbers"):
        ADAPTERS[provider].list_senders(Settings(_env_file=None), http)


def test_a_business_address_survives_a_cache_as_json() -> None:
    address = BusinessAddress(provider="vonage", address="447700900000", channels=SMS, label="Support")
    assert BusinessAddress.from_json(address.to_json()) == address
    assert address.to_json()["channels"] == ["sms"]
