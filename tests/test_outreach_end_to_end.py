"""The team writes first: `POST /api/messages` to a customer, on real parts.

The bridge's web app on a real port, the Intercom sandbox, the providers' API stand-ins, a real
Redis and the in-process worker: a message the team writes first opens an admin-authored
conversation in Intercom, goes out once through the provider, and the customer's answer and the
agents' replies continue that conversation over the same number.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from bridge.core.settings import get_settings
from bridge.dev.simulators import SIMULATORS, SimulatedMessage
from tests.helpers import api_message, conversation_bodies, post_message, twilio_status

CUSTOMER, BUSINESS = "+14155550123", "+14155550100"
CLIENT_SECRET = "test-intercom-client-secret"


@pytest.fixture
def api(providers_at_standin, bridge, sandbox, monkeypatch):
    """The bridge with the message API on, replies announced by the sandbox as Intercom would."""
    sandbox.configure(webhook_url=f"{bridge.url}/intercom/webhooks", client_secret=CLIENT_SECRET)
    return providers_at_standin


def sms(text: str = "Your order shipped", **extra: Any) -> dict[str, Any]:
    return {"to": CUSTOMER, "provider": "twilio", "from": BUSINESS, "text": text, **extra}


def test_an_sms_to_a_new_number_makes_one_lead_one_admin_conversation_and_one_send(
    api, bridge, sandbox, drain, http
):
    answer = post_message(http, bridge.url, sms("Your order shipped"))
    assert answer.status_code == 202, answer.text
    accepted = answer.json()
    assert accepted["status"] == "queued" and accepted["id"].startswith("msg_")
    assert CUSTOMER not in answer.text  # the party is masked

    drain()

    [lead] = sandbox.contacts()
    assert (lead["role"], lead["phone"]) == ("lead", CUSTOMER)
    [conversation] = sandbox.conversations()
    assert conversation["source"]["author"]["type"] == "admin"
    assert "Your order shipped" in conversation_bodies(conversation)
    [sent] = api.state.sends
    assert (sent.provider, sent.to, sent.sender, sent.text) == (
        "twilio",
        CUSTOMER,
        BUSINESS,
        "Your order shipped",
    )
    shown = api_message(http, bridge.url, accepted["id"])
    assert shown["status"] == "sent"
    assert shown["provider_message_id"] == sent.message_id
    assert (shown["contact_id"], shown["conversation_id"]) == (lead["id"], conversation["id"])


def test_one_idempotency_key_sends_once_under_concurrent_identical_requests(api, bridge, drain, http):
    body = sms(idempotency_key="order-1234-shipped")
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: post_message(http, bridge.url, body), range(8)))
    assert {answer.status_code for answer in answers} == {202}
    assert len({answer.json()["id"] for answer in answers}) == 1
    # The header says the same as the field.
    header = post_message(http, bridge.url, sms(), **{"Idempotency-Key": "order-1234-shipped"})
    assert header.json()["id"] == answers[0].json()["id"]

    drain()
    drain()

    assert len(api.state.sends) == 1
    again = post_message(http, bridge.url, body)
    assert again.status_code == 202 and again.json()["status"] == "sent"
    other = post_message(http, bridge.url, sms("Another text", idempotency_key="order-1234-shipped"))
    assert other.status_code == 409 and other.json()["error"]["field"] == "idempotency_key"
    drain()
    assert len(api.state.sends) == 1


def test_a_known_users_number_files_the_message_under_that_user(api, bridge, sandbox, drain, http):
    user = sandbox.seed_contact(role="user", phone=CUSTOMER, name="Ada")
    assert post_message(http, bridge.url, sms()).status_code == 202
    drain()

    assert [contact["id"] for contact in sandbox.contacts()] == [user["id"]]
    [conversation] = sandbox.conversations()
    assert [contact["id"] for contact in conversation["contacts"]["contacts"]] == [user["id"]]


def test_the_customers_answer_continues_the_conversation_and_the_agents_reply_goes_back_the_same_way(
    api, bridge, sandbox, drain, http
):
    assert post_message(http, bridge.url, sms("We tried to call you")).status_code == 202
    drain()
    [conversation] = sandbox.conversations()

    settings = get_settings()
    answer = SimulatedMessage(sender=CUSTOMER, recipient=BUSINESS, text="Call me after 5")
    assert SIMULATORS["twilio"](answer, bridge.url, settings).send(http).status_code == 200
    drain()
    [continued] = sandbox.conversations()
    assert continued["id"] == conversation["id"]
    assert "Call me after 5" in conversation_bodies(continued)

    assert sandbox.agent_reply(conversation["id"], "Will do!").status_code == 200
    drain()
    first, reply = api.state.sends
    assert (reply.text, reply.to, reply.sender) == ("Will do!", first.to, first.sender)


def test_a_message_continuing_an_open_conversation_is_not_sent_again_as_an_agents_reply(
    api, bridge, sandbox, drain, http, redis_client
):
    from bridge.replies.ledger import ReplyLedger, ReplyStatus

    settings = get_settings()
    hello = SimulatedMessage(sender=CUSTOMER, recipient=BUSINESS, text="Hello?")
    assert SIMULATORS["twilio"](hello, bridge.url, settings).send(http).status_code == 200
    drain()

    assert post_message(http, bridge.url, sms("Your refund is on its way")).status_code == 202
    drain()
    drain()  # the reply webhook Intercom fired for the bridge's own part, and any retry of it

    [conversation] = sandbox.conversations()
    assert "Your refund is on its way" in conversation_bodies(conversation)
    assert [sent.text for sent in api.state.sends] == ["Your refund is on its way"]
    # Intercom announced the bridge's own part as an admin reply; the reply path knew it.
    [part_id] = [key.decode().rsplit(":", 1)[-1] for key in redis_client.scan_iter("bridge:reply:*")]
    assert ReplyLedger(redis_client, get_settings()).get(part_id).status is ReplyStatus.OWN
    # The sent message is tied to that part, as an agent's reply is (its reports' notes name it).
    from bridge.replies.sent import OutboundStore

    [sent] = api.state.sends
    assert OutboundStore(redis_client, get_settings()).get("twilio", sent.message_id).part_id == part_id


def test_a_delivery_report_moves_the_status_and_a_failure_is_one_note(api, bridge, sandbox, drain, http):
    accepted = post_message(http, bridge.url, sms()).json()
    drain()
    [sent] = api.state.sends

    twilio_status(bridge.url, http, sent.message_id, "delivered", to=CUSTOMER, sender=BUSINESS)
    drain()
    assert api_message(http, bridge.url, accepted["id"])["status"] == "delivered"

    twilio_status(bridge.url, http, sent.message_id, "failed", "30003", to=CUSTOMER, sender=BUSINESS)
    drain()
    twilio_status(bridge.url, http, sent.message_id, "failed", "30003", to=CUSTOMER, sender=BUSINESS)
    drain()
    failed = api_message(http, bridge.url, accepted["id"])
    assert failed["status"] == "failed" and failed["error"]["code"] == "30003"
    [conversation] = sandbox.conversations()
    parts = conversation["conversation_parts"]["conversation_parts"]
    [note] = [part["body"] for part in parts if part["part_type"] == "note"]
    assert "30003" in note and "Your order shipped" in note


def test_whatsapp_free_text_to_a_customer_who_never_wrote_is_refused(api, bridge, drain, http):
    body = {"to": CUSTOMER, "channel": "whatsapp", "provider": "twilio", "from": BUSINESS, "text": "Hi"}
    answer = post_message(http, bridge.url, body)
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == "text" and "24 hours" in answer.json()["error"]["reason"]
    drain()
    assert api.state.sends == []


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"to": "not a number", "provider": "twilio", "from": BUSINESS, "text": "x"}, 422, "to"),
        ({"to": CUSTOMER, "provider": "pigeon", "from": BUSINESS, "text": "x"}, 422, "provider"),
        ({"to": CUSTOMER, "from": BUSINESS, "text": "x"}, 422, "provider"),  # several send SMS
        ({"to": CUSTOMER, "provider": "twilio", "text": "x"}, 422, "from"),
        ({"to": CUSTOMER, "provider": "twilio", "from": BUSINESS}, 422, None),
        ({"to": CUSTOMER, "provider": "twilio", "from": BUSINESS, "text": "x", "colour": 1}, 422, "colour"),
        (
            {"to": CUSTOMER, "provider": "twilio", "from": BUSINESS, "template": {"name": "hello"}},
            422,
            "template",
        ),
    ],
    ids=["number", "provider", "ambiguous", "from", "empty", "unknown-field", "sms-template"],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_sent(
    api, bridge, drain, http, body, status, field
):
    answer = post_message(http, bridge.url, body)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["field"] == field
    drain()
    assert api.state.sends == []


def test_the_api_needs_its_token(api, bridge, http, monkeypatch):
    assert http.post(f"{bridge.url}/api/messages", json=sms()).status_code == 401
    wrong = http.post(f"{bridge.url}/api/messages", json=sms(), headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert (
        http.get(f"{bridge.url}/api/messages/msg_x", headers={"Authorization": "Bearer nope"}).status_code
        == 401
    )


def test_without_a_token_the_api_is_off_and_says_so(bridge_env, http, monkeypatch):
    from bridge.app import create_app
    from bridge.core.settings import reset_settings_cache
    from bridge.runtime.serving import BackgroundServer

    monkeypatch.delenv("BRIDGE_API_TOKEN")
    reset_settings_cache()
    with BackgroundServer(create_app(get_settings())) as server:
        answer = http.post(f"{server.url}/api/messages", json=sms())
    assert answer.status_code == 404 and "BRIDGE_API_TOKEN" in answer.text


def test_whatsapp_free_text_accepted_in_the_window_is_not_sent_once_it_closed(
    api, bridge, sandbox, drain, http, redis_client
):
    settings = get_settings()
    hello = SimulatedMessage(sender=CUSTOMER, recipient=BUSINESS, text="Hi", whatsapp=True)
    assert SIMULATORS["twilio"](hello, bridge.url, settings).send(http).status_code == 200
    drain()
    body = {"to": CUSTOMER, "channel": "whatsapp", "provider": "twilio", "from": BUSINESS, "text": "Hello!"}
    accepted = post_message(http, bridge.url, body)
    assert accepted.status_code == 202, accepted.text
    # The workers were down for a day: the window closed before the message could go.
    [thread_key] = redis_client.scan_iter("bridge:thread:*")
    redis_client.hset(thread_key, "last_inbound_at", "1.0")

    drain()

    assert api.state.sends == []
    failed = api_message(http, bridge.url, accepted.json()["id"])
    assert failed["status"] == "failed" and "24 hours" in failed["error"]["reason"]
    [conversation] = sandbox.conversations()
    assert "Hello!" not in conversation_bodies(conversation)


PHONE_NUMBER_ID = "106540352242922"
SHIPPED_IMAGE = "https://media.example.com/orders/shipped.jpg"


def whatsapp_template(provider: str, sender: str, **template: Any) -> dict[str, Any]:
    return {"to": CUSTOMER, "channel": "whatsapp", "provider": provider, "from": sender, "template": template}


def test_a_whatsapp_template_opens_the_conversation_with_its_variables_and_header(
    api, bridge, sandbox, drain, http
):
    body = whatsapp_template(
        "whatsapp",
        PHONE_NUMBER_ID,
        name="order_shipped",
        language="en_US",
        variables=["Ada", "4711"],
        header={"type": "image", "url": SHIPPED_IMAGE},
    )
    answer = post_message(http, bridge.url, body)
    assert answer.status_code == 202, answer.text
    drain()

    [sent] = api.state.sends
    assert (sent.provider, sent.template, sent.variables) == ("whatsapp", "order_shipped", ["Ada", "4711"])
    assert sent.header == SHIPPED_IMAGE and sent.to == CUSTOMER.lstrip("+")
    [conversation] = sandbox.conversations()
    assert "Hi Ada, your order 4711 has shipped." in " ".join(conversation_bodies(conversation))
    assert api_message(http, bridge.url, answer.json()["id"])["status"] == "sent"


def test_a_twilio_content_template_is_found_by_its_name_and_sent_by_its_sid(
    api, bridge, sandbox, drain, http
):
    body = whatsapp_template(
        "twilio", BUSINESS, name="order_status", language="en", variables=["4711", "packed"]
    )
    answer = post_message(http, bridge.url, body)
    assert answer.status_code == 202, answer.text
    drain()

    [sent] = api.state.sends
    assert sent.template == "HX" + "b" * 32 and sent.variables == ["4711", "packed"]
    [conversation] = sandbox.conversations()
    assert "Your order 4711 is packed." in " ".join(conversation_bodies(conversation))


@pytest.mark.parametrize(
    ("template", "field", "words"),
    [
        ({"name": "spring_sale", "language": "en_US"}, "template.name", "paused"),
        ({"name": "no_such_template", "language": "en_US"}, "template.name", "no template"),
        (
            {"name": "order_shipped", "language": "en_US", "variables": ["Ada"]},
            "template.variables",
            "2 variables",
        ),
        (
            {"name": "order_shipped", "language": "en_US", "variables": ["Ada", "1"]},
            "template.header",
            "image",
        ),
        (
            {"name": "we_are_here", "language": "en_US", "header": {"type": "image", "url": SHIPPED_IMAGE}},
            "template.header",
            "no header",
        ),
    ],
    ids=["paused", "unknown", "variables", "missing-header", "extra-header"],
)
def test_a_template_that_cannot_be_sent_as_asked_is_refused_with_the_reason(
    api, bridge, drain, http, template, field, words
):
    answer = post_message(http, bridge.url, whatsapp_template("whatsapp", PHONE_NUMBER_ID, **template))
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["field"] == field and words in error["reason"]
    drain()
    assert api.state.sends == []


def test_the_approved_templates_of_every_provider_that_lists_them(api, bridge, http):
    answer = http.get(f"{bridge.url}/api/templates", headers={"Authorization": "Bearer test-api-token"})
    assert answer.status_code == 200, answer.text
    listed = {(t["provider"], t["label"], t["status"]) for t in answer.json()["templates"]}
    assert ("whatsapp", "order_shipped", "approved") in listed
    assert ("twilio", "order_status", "approved") in listed
    assert not {label for _, label, _ in listed} & {"spring_sale", "win_a_prize"}  # paused, rejected
    assert answer.json()["errors"] == {}
    only = http.get(
        f"{bridge.url}/api/templates?provider=twilio", headers={"Authorization": "Bearer test-api-token"}
    )
    assert {t["provider"] for t in only.json()["templates"]} == {"twilio"}


def test_a_named_template_sends_each_value_with_its_placeholders_name(api, bridge, sandbox, drain, http):
    body = whatsapp_template(
        "whatsapp",
        PHONE_NUMBER_ID,
        name="delivery_window",
        language="en_US",
        variables=["Ada", "between 2 and 4"],
    )
    answer = post_message(http, bridge.url, body)
    assert answer.status_code == 202, answer.text
    drain()

    [sent] = api.state.sends
    assert sent.variables == ["Ada", "between 2 and 4"]
    [conversation] = sandbox.conversations()
    assert "Hi Ada, your delivery arrives between 2 and 4." in " ".join(conversation_bodies(conversation))
    assert api_message(http, bridge.url, answer.json()["id"])["status"] == "sent"


def test_the_answer_from_another_form_of_the_number_continues_the_conversation(
    api, bridge, sandbox, drain, http
):
    # The team writes to a Mexican mobile as written nationally with +52; WhatsApp answers from 521….
    body = whatsapp_template("whatsapp", PHONE_NUMBER_ID, name="we_are_here", language="en_US")
    answer = post_message(http, bridge.url, body | {"to": "+52 55 1234 5678"})
    assert answer.status_code == 202, answer.text
    drain()
    settings = get_settings()
    reply = SimulatedMessage(sender="+5215512345678", recipient=PHONE_NUMBER_ID, text="¿Quién es?")
    assert SIMULATORS["whatsapp"](reply, bridge.url, settings).send(http).status_code == 200
    drain()

    [conversation] = sandbox.conversations()
    assert "¿Quién es?" in conversation_bodies(conversation)
    assert sandbox.agent_reply(conversation["id"], "Your courier").status_code == 200
    drain()
    template, agents = api.state.sends
    assert template.to == "525512345678" and agents.to == "5215512345678"  # where the customer wrote from


def test_a_from_the_providers_account_does_not_send_from_is_refused(api, bridge, drain, http):
    answer = post_message(http, bridge.url, sms(**{"from": "+14155550177"}))
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["field"] == "from" and "not a sms number of the twilio account" in error["reason"]
    assert BUSINESS in error["reason"]  # what it does send from
    drain()
    assert api.state.sends == []


def test_a_deployment_whose_forget_key_differs_answers_503_with_the_reason_never_500(
    api, bridge, http, redis_client
):
    from bridge.infra import keys

    # Another machine forgot a customer with a key this one does not have.
    redis_client.set(keys.FORGET_KEY_ID, "a-key-this-process-does-not-have")
    answer = post_message(http, bridge.url, sms())
    assert answer.status_code == 503 and "BRIDGE_FORGET_SECRET" in answer.json()["detail"]
