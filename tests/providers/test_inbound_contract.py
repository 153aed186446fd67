"""Every provider's incoming messages, held to one contract.

The inbound worker relies on the same things from each adapter's `parse`, whatever the payload:
the provider's documented message read into the message model, an empty text kept as an empty
message, NUL characters (which Redis and Intercom would choke on) stripped, a sender name (an
alphanumeric sender id) kept as a contact without a problem, a sender that cannot be read kept with
a problem rather than dropped, so the agent still sees the message, and any body at all either read
or refused as malformed, never another error. Each provider contributes
only its data (`Inbound`), taken from its documentation and the SDKs' samples; what only one
provider's payloads do is tested in its own `test_<provider>.py`.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest

from bridge.core.errors import MalformedPayload
from bridge.core.settings import Settings
from bridge.model.messages import Channel, InboundMessage
from bridge.model.senders import IdentityKind
from bridge.providers.africastalking.adapter import AfricasTalkingAdapter
from bridge.providers.base import ProviderAdapter, WebhookRequest
from bridge.providers.messagebird import MessageBirdAdapter
from bridge.providers.registry import ADAPTERS
from bridge.providers.textmagic.adapter import TextMagicAdapter
from bridge.providers.twilio.adapter import TwilioAdapter
from bridge.providers.vonage import VonageAdapter
from bridge.providers.whatsapp import WhatsAppAdapter
from tests.helpers import shared_file
from tests.providers.support import FORM, MULTIPART, NOW, callback, multipart_body

JSON = "application/json"
# What a message carries unless its provider's sample says otherwise.
PLAIN = {
    "media": (),
    "aliases": [],
    "profile_name": None,
    "account": None,
    "fragment": None,
    "problem": None,
}


@dataclass(frozen=True)
class Inbound:
    """One provider's incoming messages: a documented one, and how to write another."""

    adapter: ProviderAdapter
    url: str  # its webhook route
    region: str  # the default region the bridge reads national numbers in
    # The documented message, as each way the provider may post it carries it …
    samples: Mapping[str, Callable[[], WebhookRequest]]
    parsed: Mapping[str, object]  # … and what the bridge reads from it, over PLAIN
    message: Callable[[str, str], WebhookRequest]  # a message from a sender with a text
    names: bool = True  # senders may be names (alphanumeric sender ids), not only numbers
    seed: int = 20261123  # of the random bodies thrown at it (fixed, so a failure replays)
    settings: Settings = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "settings", Settings(_env_file=None, default_region=self.region))


def posted(url: str, body: bytes | str, content_type: str = FORM) -> WebhookRequest:
    return callback(url, body, query="", content_type=content_type)


def sample(url: str, name: str, content_type: str = FORM) -> Callable[[], WebhookRequest]:
    """A shared sample file posted to `url` (read in the test, which it skips when absent)."""
    return lambda: posted(url, shared_file("samples", name).read_bytes(), content_type)


# --- Twilio: the form of an incoming message (twilio.com/docs/messaging/guides/webhook-request) ---

TWILIO_URL = "https://bridge.example.com/webhooks/twilio"
TWILIO = Inbound(
    adapter=TwilioAdapter(),
    url=TWILIO_URL,
    region="US",
    samples={"sms": sample(TWILIO_URL, "twilio_sms_inbound.form")},
    parsed={
        "provider": "twilio",
        "channel": Channel.SMS,
        "id": "SMe287d7109a5a925f182f0e07fe5b223b",
        "sender": (IdentityKind.PHONE, "+14133881111", "+14133881111"),
        "business_number": "+12028831111",
        "text": "Msg",
        "account": "acctid",
        "received_at": NOW,  # the form carries no time
    },
    message=lambda sender, text: posted(
        TWILIO_URL, urlencode({"MessageSid": "SM3", "From": sender, "To": "+14155550100", "Body": text})
    ),
)

# --- TextMagic: the reply of textmagic.com/docs/api/receive-sms, in each callback format ---

TEXTMAGIC_URL = "https://bridge.example.com/webhooks/textmagic"
TEXTMAGIC_REPLY = {
    "id": 1782832,
    "sender": "447860021130",
    "receiver": "447624800500",
    "messageTime": "2012-11-28T18:38:28+0000",
    "text": "Test reply",
}
TEXTMAGIC = Inbound(
    adapter=TextMagicAdapter(),
    url=TEXTMAGIC_URL,
    region="US",
    samples={
        "multipart": lambda: posted(TEXTMAGIC_URL, multipart_body(TEXTMAGIC_REPLY), MULTIPART),
        "urlencoded": lambda: posted(TEXTMAGIC_URL, urlencode(TEXTMAGIC_REPLY)),
        "json": lambda: posted(TEXTMAGIC_URL, json.dumps(TEXTMAGIC_REPLY), JSON),
    },
    parsed={
        "provider": "textmagic",
        "channel": Channel.SMS,
        "id": "1782832",
        "sender": (IdentityKind.PHONE, "447860021130", "+447860021130"),
        "business_number": "447624800500",
        "text": "Test reply",
        "received_at": datetime(2012, 11, 28, 18, 38, 28, tzinfo=UTC),
    },
    message=lambda sender, text: posted(
        TEXTMAGIC_URL, urlencode(TEXTMAGIC_REPLY | {"sender": sender, "text": text})
    ),
)

# --- Africa's Talking: the incoming-message form its courier sample posts ---

AT_URL = "https://bridge.example.com/webhooks/africastalking"
AT_MESSAGE = {"from": "+254791541111", "to": "21512", "text": "Msg", "id": "ec9adc86-51d5-4bc8"}
AFRICASTALKING = Inbound(
    adapter=AfricasTalkingAdapter(),
    url=AT_URL,
    region="KE",
    samples={"sms": sample(AT_URL, "africastalking_sms_inbound_courier.form")},
    parsed={
        "provider": "africastalking",
        "channel": Channel.SMS,
        "id": "ec9adc86-51d5-4bc8-8eb0-d8ab0bb53dc3",
        "sender": (IdentityKind.PHONE, "+254791541111", "+254791541111"),
        "business_number": "21512",
        "text": "Msg",
        "received_at": datetime(2017, 5, 3, 6, 4, 45, tzinfo=UTC),
    },
    message=lambda sender, text: posted(AT_URL, urlencode(AT_MESSAGE | {"from": sender, "text": text})),
    seed=20170503,
)

# --- MessageBird: the classic SMS forward (courier's sample; the last of repeated fields wins) ---

MESSAGEBIRD_URL = "https://bridge.example.com/webhooks/messagebird"
FORWARD = {"id": "e8077d803532c0b5937c639b60216938", "recipient": "31970102030", "originator": "31612345678"}
MESSAGEBIRD = Inbound(
    adapter=MessageBirdAdapter(),
    url=MESSAGEBIRD_URL,
    region="US",
    samples={"sms": sample(MESSAGEBIRD_URL, "messagebird_sms_inbound_courier.form")},
    parsed={
        "provider": "messagebird",
        "channel": Channel.SMS,
        "id": "3b53c137369242138120d6b0b2122607",
        "sender": (IdentityKind.PHONE, "18885551515", "+18885551515"),
        "business_number": "18005551515",
        "text": "Test 3",
        "received_at": datetime(2023, 7, 27, 0, 49, 29, tzinfo=UTC),
    },
    message=lambda sender, text: posted(
        MESSAGEBIRD_URL, urlencode(FORWARD | {"originator": sender, "body": text})
    ),
)

# --- Vonage: the SMS API's inbound form (courier's sample) ---

VONAGE_URL = "https://bridge.example.com/webhooks/vonage"
VONAGE = Inbound(
    adapter=VonageAdapter(),
    url=VONAGE_URL,
    region="US",
    samples={"sms": sample(VONAGE_URL, "vonage_sms_inbound_courier.form")},
    parsed={
        "provider": "vonage",
        "channel": Channel.SMS,
        "id": "external1",
        "sender": (IdentityKind.PHONE, "2349067554729", "+2349067554729"),
        "business_number": "2020",
        "text": "Join",
        "received_at": NOW,  # the sample carries no message-timestamp
    },
    message=lambda sender, text: posted(
        VONAGE_URL, urlencode({"msisdn": sender, "to": "447700900000", "messageId": "1", "text": text})
    ),
)

# --- WhatsApp: Meta's Cloud API webhook (pywa's text fixture) ---

WHATSAPP_URL = "https://bridge.example.com/webhooks/whatsapp"


def whatsapp_text(sender: str, text: str) -> WebhookRequest:
    """One text from `sender`, as Meta's webhook reference shows a `messages` change."""
    item = {
        "from": sender,
        "id": "wamid.text",
        "timestamp": "1749416383",
        "type": "text",
        "text": {"body": text},
    }
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
        "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": "16505551234"}],
        "messages": [item],
    }
    entry = {"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]}
    return posted(WHATSAPP_URL, json.dumps({"object": "whatsapp_business_account", "entry": [entry]}), JSON)


WHATSAPP = Inbound(
    adapter=WhatsAppAdapter(),
    url=WHATSAPP_URL,
    region="US",
    samples={"text": sample(WHATSAPP_URL, "whatsapp_cloud_text.json", JSON)},
    parsed={
        "provider": "whatsapp",
        "channel": Channel.WHATSAPP,
        "id": "wamid.xyzxyz",
        "sender": (IdentityKind.PHONE, "972987654321", "+972987654321"),  # never region-prefixed twice
        "aliases": [(IdentityKind.WHATSAPP_USER, "US.13491208655302741918")],
        "business_number": "1122334455667",
        "account": "1234567890987654321",
        "profile_name": "Test Name",
        "text": "Body Text",
        "received_at": datetime.fromtimestamp(1697043223, UTC),
    },
    message=whatsapp_text,
    names=False,  # a WhatsApp sender is a number or a username's BSUID
)

PROVIDERS = [TWILIO, TEXTMAGIC, AFRICASTALKING, MESSAGEBIRD, VONAGE, WHATSAPP]
every_provider = pytest.mark.parametrize("inbound", PROVIDERS, ids=lambda inbound: inbound.adapter.name)
every_sample = pytest.mark.parametrize(
    ("inbound", "request_"),
    [
        pytest.param(
            inbound,
            request,
            id=inbound.adapter.name if len(inbound.samples) == 1 else f"{inbound.adapter.name}-{way}",
        )
        for inbound in PROVIDERS
        for way, request in inbound.samples.items()
    ],
)


def parse(inbound: Inbound, request: WebhookRequest) -> InboundMessage:
    [message] = inbound.adapter.parse(request, inbound.settings).messages
    return message


def read(message: InboundMessage) -> dict[str, Any]:
    """What the rest of the bridge uses of a message."""
    return {
        "provider": message.provider,
        "channel": message.channel,
        "id": message.provider_message_id,
        "sender": (message.sender.kind, message.sender.raw, message.sender.e164),
        "aliases": [(alias.kind, alias.raw) for alias in message.aliases],
        "business_number": message.business_number,
        "text": message.text,
        "media": message.media,
        "profile_name": message.profile_name,
        "account": message.account,
        "received_at": message.received_at,
        "fragment": message.fragment,
        "problem": message.problem,
    }


# --- the contract ---


def test_every_provider_is_held_to_the_contract() -> None:
    assert sorted(inbound.adapter.name for inbound in PROVIDERS) == sorted(ADAPTERS)


@every_sample
def test_the_documented_message_parses_to_the_message_model(
    inbound: Inbound, request_: Callable[[], WebhookRequest]
) -> None:
    assert read(parse(inbound, request_())) == PLAIN | inbound.parsed


@every_provider
def test_an_empty_text_is_an_empty_message(inbound: Inbound) -> None:
    assert parse(inbound, inbound.message("+14155550123", "")).text == ""


@every_provider
def test_nul_characters_are_stripped_from_the_text(inbound: Inbound) -> None:
    assert parse(inbound, inbound.message("+14155550123", "a\x00b")).text == "ab"


@pytest.mark.parametrize(
    "inbound", [inbound for inbound in PROVIDERS if inbound.names], ids=lambda inbound: inbound.adapter.name
)
def test_a_sender_name_is_a_contact_without_a_problem(inbound: Inbound) -> None:
    message = parse(inbound, inbound.message("MyShop", "hi"))
    assert (message.sender.kind, message.sender.raw) == (IdentityKind.ALPHANUMERIC, "MyShop")
    assert message.problem is None


@every_provider
def test_an_unreadable_sender_is_accepted_with_a_problem_not_dropped(inbound: Inbound) -> None:
    message = parse(inbound, inbound.message("#!?*", "hi"))
    assert message.sender.kind is IdentityKind.UNKNOWN
    assert message.problem and "sender" in message.problem


@pytest.mark.parametrize("content_type", [FORM, JSON, MULTIPART, "text/plain", ""])
@every_provider
def test_garbage_is_malformed_never_another_error(inbound: Inbound, content_type: str) -> None:
    rng = random.Random(inbound.seed)
    for _ in range(200):
        body = posted(inbound.url, rng.randbytes(rng.randrange(0, 300)), content_type)
        for read in (inbound.adapter.parse, inbound.adapter.parse_statuses):
            try:
                read(body, inbound.settings)
            except MalformedPayload:
                pass
