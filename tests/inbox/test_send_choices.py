"""What the send panel offers and decides: the numbers an agent writes from, whom a message goes
to, template variables prefilled from the contact, one idempotency key per preview, and the
next step after a refusal. Pure functions, table-driven."""

from __future__ import annotations

import pytest

from bridge.conversations.threads import Thread
from bridge.core.settings import Settings
from bridge.inbox.send_choices import (
    ContactFacts,
    Route,
    idempotency_key,
    next_step,
    prefill,
    recipient,
    routes,
    variable_names,
)
from bridge.model.messages import Channel
from bridge.model.outgoing import placeholders
from bridge.outreach.requests import MessageRequest, Refusal
from bridge.providers.base import TemplateInfo, TemplateStatus
from bridge.providers.registry import ADAPTERS

BUSINESS, CUSTOMER = "+14155550100", "+14155550123"


def thread(
    provider: str = "twilio", channel: str = "sms", business: str = BUSINESS, customer: str = CUSTOMER
):
    return Thread(
        key=f"{provider}:{channel}:{business}:phone:{customer}",
        conversation_id="101",
        contact_id="c1",
        provider=provider,
        channel=channel,
        business_number=business,
        customer_address=customer,
    )


@pytest.fixture
def writing(settings: Settings) -> Settings:
    """Every provider configured (the tests' environment); default numbers for Twilio and Meta."""
    return settings.model_copy(
        update={"default_senders": {"twilio": BUSINESS, "whatsapp": "106540352242922"}}
    )


# --- routes ---


def test_the_conversation_s_own_thread_comes_first_and_is_offered_once(writing):
    offered = routes(writing, ADAPTERS, thread()).offered
    assert offered[0] == Route(Channel.SMS, "twilio", BUSINESS, conversation=True)
    assert [route for route in offered if (route.channel, route.provider) == (Channel.SMS, "twilio")] == [
        offered[0]
    ]
    assert offered[0].label == f"SMS · twilio · {BUSINESS} (this conversation)"


def test_the_thread_s_business_number_is_offered_whatever_the_defaults_say(writing):
    whatsapp = thread(channel="whatsapp", business="whatsapp:+14155238886", customer=f"whatsapp:{CUSTOMER}")
    offered = routes(writing, ADAPTERS, whatsapp).offered
    assert offered[0].id == "whatsapp|twilio|whatsapp:+14155238886"
    assert "whatsapp|twilio|+14155550100" in [route.id for route in offered]  # the default, besides


def test_every_configured_provider_on_every_channel_it_sends_from_its_default_number(writing):
    offered = routes(writing, ADAPTERS, None)
    assert [route.id for route in offered.offered] == [
        f"sms|twilio|{BUSINESS}",
        f"whatsapp|twilio|{BUSINESS}",
        "whatsapp|whatsapp|106540352242922",
    ]
    assert "SMS via vonage" in offered.unnumbered and "WhatsApp via messagebird" in offered.unnumbered


def test_a_route_the_twilio_default_and_the_thread_both_name_is_one_route(writing):
    prefixed = thread(channel="whatsapp", business=f"whatsapp:{BUSINESS}", customer=f"whatsapp:{CUSTOMER}")
    ids = [route.id for route in routes(writing, ADAPTERS, prefixed).offered]
    assert ids.count(f"whatsapp|twilio|{BUSINESS}") == 0 and f"whatsapp|twilio|whatsapp:{BUSINESS}" in ids


def test_a_thread_of_a_provider_that_is_not_configured_is_not_offered(writing):
    unknown = thread(provider="pigeon")
    assert all(route.provider != "pigeon" for route in routes(writing, ADAPTERS, unknown).offered)


# --- whom it goes to ---

WHATSAPP_TWILIO = Route(Channel.WHATSAPP, "twilio", BUSINESS)
WHATSAPP_META = Route(Channel.WHATSAPP, "whatsapp", "106540352242922")
SMS_TWILIO = Route(Channel.SMS, "twilio", BUSINESS)


@pytest.mark.parametrize(
    ("route", "phone", "conversation", "to"),
    [
        (SMS_TWILIO, CUSTOMER, thread(), CUSTOMER),
        (SMS_TWILIO, " +1 415-555-0123 ", None, "+1 415-555-0123"),  # normalized by the request
        (SMS_TWILIO, None, thread(), None),
        (SMS_TWILIO, "", None, None),
        # On the WhatsApp thread's provider: where the customer wrote from, as `to` takes it.
        (WHATSAPP_TWILIO, None, thread(channel="whatsapp", customer="whatsapp:+14155550999"), "+14155550999"),
        (WHATSAPP_META, CUSTOMER, thread("whatsapp", "whatsapp", "1065", "14155550999"), "+14155550999"),
        (
            WHATSAPP_META,
            None,
            thread("whatsapp", "whatsapp", "1065", "US.13491208655302741918"),
            "US.13491208655302741918",
        ),
        # Another provider's thread, or an SMS one: the contact's phone.
        (WHATSAPP_META, CUSTOMER, thread(channel="whatsapp", customer="whatsapp:+14155550999"), CUSTOMER),
        (WHATSAPP_TWILIO, CUSTOMER, thread(), CUSTOMER),
    ],
)
def test_the_recipient_is_the_whatsapp_thread_s_address_else_the_contact_s_phone(
    route, phone, conversation, to
):
    assert recipient(route, phone, conversation) == to


# --- template variables ---


def template(body: str, variables: int | None = None, category: str = "utility") -> TemplateInfo:
    return TemplateInfo(
        provider="whatsapp",
        name="t",
        language="en_US",
        status=TemplateStatus.APPROVED,
        category=category,
        body=body,
        variables=len(placeholders(body)) if variables is None else variables,
    )


@pytest.mark.parametrize(
    ("info", "names"),
    [
        (template("Hi {{1}}, your order {{2}} has shipped."), ["1", "2"]),
        (template("Hi {{first_name}}, order {{order_number}}"), ["first_name", "order_number"]),
        # Twilio counts a media URL's {{3}} too: a field for it, numbered.
        (template("Hi {{1}}, your order {{2}} has shipped.", variables=3), ["1", "2", "3"]),
        (template("We are here to help."), []),
    ],
)
def test_each_variable_is_named_as_its_placeholder(info, names):
    assert variable_names(info) == names


ADA = ContactFacts(
    name="Ada King Lovelace", email="ada@example.com", attributes={"Order number": "A-1234", "Plan": "pro"}
)


@pytest.mark.parametrize(
    ("info", "values"),
    [
        (template("Hi {{first_name}}, order {{order_number}} ({{plan}})"), ["Ada", "A-1234", "pro"]),
        (
            template("Dear {{customer_name}}: {{last_name}}, {{email}}"),
            ["Ada King Lovelace", "King Lovelace", "ada@example.com"],
        ),
        (template("{{first_name}}: {{tracking_url}}"), ["Ada", ""]),  # no such attribute: the agent fills it
        # Positional: {{1}} right after a greeting is the customer's name, in any of a few languages.
        (template("Hi {{1}}, your order {{2}} has shipped."), ["Ada", ""]),
        (template("Hola {{1}}: tu pedido {{2}} está en camino."), ["Ada", ""]),
        (template("Dear {{1}}"), ["Ada"]),
        # Anywhere else it could be anything: an order number, a code.
        (template("Your order {{1}} is {{2}}."), ["", ""]),
        (template("{{1}} is your verification code.", category="authentication"), [""]),
        (template("Hi {{1}}, your code is {{2}}.", category="authentication"), ["", ""]),
        (template("Thinking of you, {{2}} and {{1}}"), ["", ""]),
    ],
)
def test_variables_named_after_the_contact_s_fields_or_attributes_are_prefilled(info, values):
    assert prefill(info, ADA) == values


def test_a_contact_without_a_name_leaves_the_greeting_s_variable_empty():
    assert prefill(template("Hi {{1}}!"), ContactFacts()) == [""]


# --- one message per preview ---


def test_the_idempotency_key_is_one_per_conversation_request_and_preview():
    request = MessageRequest(to=CUSTOMER, text="Your order shipped", provider="twilio")
    key = idempotency_key("101", request, "nonce-1")
    assert key == idempotency_key("101", request, "nonce-1") and key.startswith("inbox:")
    assert len(key) <= 255
    others = {
        idempotency_key("101", request, "nonce-2"),  # previewed again
        idempotency_key("102", request, "nonce-1"),
        idempotency_key("101", request.model_copy(update={"text": "Your order left"}), "nonce-1"),
    }
    assert key not in others and len(others) == 3


# --- after a refusal ---


@pytest.mark.parametrize(
    ("refusal", "advice"),
    [
        (Refusal(409, "used for a different message", field="idempotency_key"), "Preview the message again"),
        (Refusal(409, "the customer opted out"), "opted out of messages from this number"),
        (Refusal(422, "WhatsApp allows free text only within 24 hours", field="text"), "approved template"),
        (Refusal(422, "takes 2 variables, 1 given", field="template.variables"), "Pick another template"),
        (Refusal(422, "not a phone number", field="to"), "Correct the phone number on the contact's profile"),
        (Refusal(422, "no business number", field="from"), "BRIDGE_DEFAULT_SENDERS"),
        (Refusal(422, "twilio is not configured", field="provider"), "Choose another number"),
        (Refusal(502, "whatsapp did not list its templates", field="template"), "try again in a moment"),
        (Refusal(400, "the body must be a JSON object"), "Change the message and preview it again"),
    ],
)
def test_every_refusal_says_what_to_do_next(refusal, advice):
    assert advice in next_step(refusal)
