"""A message the team writes first, addressed so that the customer's answer continues its thread.

For every provider and channel it can write first on: the customer (a number as a person types
it) and the business number (as an operator configures it) go through `outbound_address`; the
customer then answers, as the provider's simulator posts it, and the adapter parses that answer.
Both sides must name the same thread (`thread_key`), the first message must address the customer
exactly as the answer's raw sender says replies go, and the stand-in must take the send so
addressed. Refusals say why, before any request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from bridge.conversations.threads import thread_key
from bridge.core.errors import ProviderRejected
from bridge.core.settings import Settings
from bridge.dev.simulators import SIMULATORS, SimulatedMessage
from bridge.model.messages import Channel, InboundMessage
from bridge.model.outgoing import OutboundMessage
from bridge.model.senders import SenderIdentity, classify_sender
from bridge.providers.base import OutboundAddress
from bridge.providers.registry import ADAPTERS
from tests.providers.support import received, send_over_http

BRIDGE_URL = "http://127.0.0.1:8000"
# Meta's phone-number id, and a MessageBird Conversations channel (32 hex digits).
PHONE_NUMBER_ID = "106540352242922"


@dataclass(frozen=True)
class Case:
    """One provider's channel: how the team writes the customer and the business, and the
    customer's answer as its simulator posts it (numbers in E.164, as the simulators take them)."""

    id: str
    provider: str
    channel: Channel
    written: str  # the customer's number as a person types it (US deployment)
    business: str  # the business number as an operator configures it
    answer: SimulatedMessage  # the customer's answer, to the business number


def answer(sender: str, recipient: str, *, whatsapp: bool = False) -> SimulatedMessage:
    return SimulatedMessage(sender=sender, recipient=recipient, text="Yes, thanks", whatsapp=whatsapp)


CASES = [
    Case(
        "twilio-sms",
        "twilio",
        Channel.SMS,
        "(415) 555-0100",
        "+1 202-555-0100",
        answer("+14155550100", "+12025550100"),
    ),
    Case(
        "twilio-whatsapp",
        "twilio",
        Channel.WHATSAPP,
        "+44 7700 900123",
        "whatsapp:+12025550100",
        answer("+447700900123", "+12025550100", whatsapp=True),
    ),
    Case(
        "twilio-whatsapp-bare-from",
        "twilio",
        Channel.WHATSAPP,
        "+447700900123",
        "+1 (202) 555-0100",
        answer("+447700900123", "+12025550100", whatsapp=True),
    ),
    Case(
        "whatsapp",
        "whatsapp",
        Channel.WHATSAPP,
        "+1 650-555-1234",
        PHONE_NUMBER_ID,
        answer("+16505551234", PHONE_NUMBER_ID, whatsapp=True),
    ),
    Case(
        "vonage-sms",
        "vonage",
        Channel.SMS,
        "+44 7700 900001",
        "+44 7700 900000",
        answer("+447700900001", "+447700900000"),
    ),
    Case(
        "vonage-whatsapp",
        "vonage",
        Channel.WHATSAPP,
        "+447700900001",
        "447700900000",
        answer("+447700900001", "+447700900000", whatsapp=True),
    ),
    Case(
        "messagebird-sms",
        "messagebird",
        Channel.SMS,
        "+31 6 12345678",
        "+31 97 010 2030",
        answer("+31612345678", "+31970102030"),
    ),
    Case(
        "messagebird-whatsapp",
        "messagebird",
        Channel.WHATSAPP,
        "+31612345678",
        "",  # the Conversations channel the simulator names for the number: read from the answer
        answer("+31612345678", "+31970102030", whatsapp=True),
    ),
    Case(
        "textmagic",
        "textmagic",
        Channel.SMS,
        "+44 7860 021130",
        "+44 7624 800500",
        answer("+447860021130", "+447624800500"),
    ),
    Case(
        "africastalking",
        "africastalking",
        Channel.SMS,
        "+254 791 541111",
        "21512",
        answer("+254791541111", "21512"),
    ),
]
every_case = pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)


def customer(written: str, settings: Settings) -> SenderIdentity:
    """The customer as the message API reads a number someone typed (`bridge.outreach`)."""
    return classify_sender(written, country_code_included=False, default_region=settings.default_region)


def answered(case: Case, settings: Settings) -> InboundMessage:
    """The customer's answer, as the adapter parses the simulator's request."""
    request = received(SIMULATORS[case.provider](case.answer, BRIDGE_URL, settings))
    [message] = ADAPTERS[case.provider].parse(request, settings).messages
    return message


def addressed(case: Case, settings: Settings) -> tuple[SenderIdentity, OutboundAddress, InboundMessage]:
    inbound = answered(case, settings)
    business = case.business or inbound.business_number
    who = customer(case.written, settings)
    return who, ADAPTERS[case.provider].outbound_address(who, business, case.channel), inbound


def test_every_provider_and_channel_is_covered() -> None:
    covered = {(case.provider, case.channel) for case in CASES}
    assert covered == {(name, channel) for name, adapter in ADAPTERS.items() for channel in adapter.channels}


@every_case
def test_the_answer_continues_the_first_messages_thread(case: Case, settings: Settings) -> None:
    who, address, inbound = addressed(case, settings)
    first = inbound.model_copy(update={"sender": who, "business_number": address.business_number})
    assert thread_key(first) == thread_key(inbound)
    assert (address.business_number, who.key) == (inbound.business_number, inbound.sender.key)


@every_case
def test_the_customer_is_addressed_as_replies_to_the_answer_are(case: Case, settings: Settings) -> None:
    _, address, inbound = addressed(case, settings)
    assert address.customer == inbound.sender.raw


@every_case
def test_the_standin_takes_the_first_message_so_addressed(
    case: Case, providers_at_standin: Any, standin_settings: Settings
) -> None:
    _, address, _ = addressed(case, standin_settings)
    message = OutboundMessage(
        channel=case.channel, to=address.customer, sender=address.business_number, text="Your order shipped"
    )
    message_id = send_over_http(ADAPTERS[case.provider], message, standin_settings)
    [sent] = providers_at_standin.state.sends
    assert (sent.message_id, sent.to, sent.sender) == (message_id, address.customer, address.business_number)


# --- refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "written", "business", "channel", "reason"),
    [
        ("whatsapp", "+16505551234", PHONE_NUMBER_ID, Channel.SMS, "sends whatsapp, not sms"),
        ("textmagic", "+447860021130", "447624800500", Channel.WHATSAPP, "sends sms, not whatsapp"),
        ("africastalking", "+254791541111", "21512", Channel.WHATSAPP, "sends sms, not whatsapp"),
        ("whatsapp", "+16505551234", "+1 202 555 0100", Channel.WHATSAPP, "phone-number id"),
        ("messagebird", "+31612345678", "31970102030", Channel.WHATSAPP, "Conversations channel"),
        (
            "messagebird",
            "+31612345678",
            "5f3e2a1b-9c8d-4e7f-a6b5-c4d3e2f1a0b9",
            Channel.SMS,
            "Bird channel",
        ),
        ("twilio", "US.13491208655302741918", "+12025550100", Channel.SMS, "on WhatsApp only"),
        ("vonage", "ACME", "447700900000", Channel.SMS, "alphanumeric sender id cannot receive"),
        ("twilio", "2020", "whatsapp:+12025550100", Channel.WHATSAPP, "short code has no WhatsApp"),
    ],
)
def test_what_cannot_be_written_to_is_refused_with_the_reason(
    provider: str, written: str, business: str, channel: Channel, reason: str
) -> None:
    settings = Settings(_env_file=None)
    with pytest.raises(ProviderRejected, match=reason):
        ADAPTERS[provider].outbound_address(customer(written, settings), business, channel)
