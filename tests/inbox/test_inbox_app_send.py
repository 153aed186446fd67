"""The inbox app's "Send SMS / WhatsApp" panel, driven as Intercom's inbox drives it.

Signed Canvas Kit requests to the bridge's web app on a real port, every canvas validated against
Intercom's Canvas Kit schemas; the message goes through the message API's door (`Outreach`), the
in-process worker, the Intercom sandbox and the providers' stand-ins, over a real Redis.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bridge.inbox.send_canvases import (
    HEADER_INPUT,
    ROUTE_INPUT,
    SEND_CONFIRM,
    SEND_OPEN,
    SEND_PREVIEW,
    SEND_REFRESH,
    SEND_TEMPLATES,
    SHOWN,
    TEMPLATE_PREFIX,
    TEXT_INPUT,
    VARIABLE_PREFIX,
)
from bridge.infra import keys
from bridge.intercom import canvas
from tests.helpers import conversation_bodies
from tests.inbox.support import (
    ADMIN,
    BUSINESS,
    LEAD_NUMBER,
    SMS_TWILIO,
    WHATSAPP_META,
    WHATSAPP_TWILIO,
    buttons,
    component,
    texts,
    valid_canvas,
)


def status_of(shown: dict[str, Any]) -> str:
    return next(line for line in texts(shown).splitlines() if line.startswith("Status: ")).removeprefix(
        "Status: "
    )


def test_the_panel_opens_for_the_contact_s_number_with_the_conversation_s_own_number_chosen(
    outreach_env, inbox
):
    app = inbox()
    assert buttons(app.canvas)[SEND_OPEN] == "Send SMS / WhatsApp"
    panel = app.click(SEND_OPEN)
    said = texts(panel)
    assert "Phone: +14155****23" in said and LEAD_NUMBER not in str(panel)  # the number, masked
    route = component(panel, ROUTE_INPUT)
    assert route["value"] == SMS_TWILIO
    assert route["options"][0] == {
        "type": "option",
        "id": SMS_TWILIO,
        "text": f"SMS · twilio · {BUSINESS} (this conversation)",
    }
    assert {WHATSAPP_TWILIO, WHATSAPP_META} <= {option["id"] for option in route["options"]}
    assert "SMS via vonage" in said  # configured, but no default number to write from
    assert {SEND_PREVIEW, SEND_TEMPLATES} <= set(buttons(panel))


def test_a_text_sent_from_the_panel_goes_out_once_and_its_status_shows_sent(
    outreach_env, inbox, sandbox, drain
):
    app = inbox()
    app.click(SEND_OPEN)
    preview = app.click(SEND_PREVIEW, **{ROUTE_INPUT: SMS_TWILIO, TEXT_INPUT: "  Your order *shipped*  "})
    assert component(preview, SHOWN)["value"] == "Your order *shipped*"  # exactly, no Markdown
    assert "To: the contact · +14155****23" in texts(preview)
    assert LEAD_NUMBER not in str(preview["canvas"]["content"])  # shown masked

    queued = app.click(SEND_CONFIRM)
    assert status_of(queued) == "queued"
    drain()
    drain()  # the reply webhook Intercom fires for the bridge's own part: never sent again
    sent = app.click(SEND_REFRESH)
    assert status_of(sent) == "sent" and "Conversation: this one" in texts(sent)

    [send] = outreach_env.state.sends
    assert (send.provider, send.to, send.sender, send.text) == (
        "twilio",
        LEAD_NUMBER,
        BUSINESS,
        "Your order *shipped*",
    )
    [conversation] = sandbox.conversations()
    assert conversation["id"] == app.conversation["id"]
    assert conversation_bodies(conversation)[-1] == "Your order *shipped*"
    [part] = [
        p for p in conversation["conversation_parts"]["conversation_parts"] if p["part_type"] == "comment"
    ]
    assert part["author"]["type"] == "admin" and part["author"]["id"] == ADMIN["id"]


def test_send_clicked_twice_on_one_preview_sends_once(outreach_env, inbox, canvas_schema, drain):
    app = inbox()
    app.click(SEND_OPEN)
    preview = app.click(SEND_PREVIEW, **{ROUTE_INPUT: SMS_TWILIO, TEXT_INPUT: "We tried to call you"})
    # A double click: two submits of the preview's canvas, at once.
    click = app._payload(
        component_id=SEND_CONFIRM, input_values={}, user=app.contact, current_canvas=preview["canvas"]
    )
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda _: app.post("submit", click), range(2)))
    shown = [valid_canvas(canvas_schema, answer.json(), "submit") for answer in answers]
    assert len({answer["canvas"]["stored_data"]["message"] for answer in shown}) == 1
    drain()
    drain()
    assert [send.text for send in outreach_env.state.sends] == ["We tried to call you"]

    app.click(SEND_OPEN)  # previewed again: the agent means a second message
    app.click(SEND_PREVIEW, **{ROUTE_INPUT: SMS_TWILIO, TEXT_INPUT: "We tried to call you"})
    app.click(SEND_CONFIRM)
    drain()
    assert len(outreach_env.state.sends) == 2


def test_a_contact_without_a_phone_gets_an_explanation_and_nothing_to_send(
    outreach_env, inbox, sandbox, drain
):
    app = inbox()
    sandbox.api("PUT", f"/contacts/{app.contact['id']}", json={"phone": None})
    app.contact = sandbox.api("GET", f"/contacts/{app.contact['id']}").json()
    panel = app.click(SEND_OPEN)
    said = texts(panel)
    assert "has no phone number" in said and "as Phone on the contact's profile" in said
    assert SEND_PREVIEW not in buttons(panel)
    drain()
    assert outreach_env.state.sends == []


def test_whatsapp_free_text_outside_the_window_is_explained_and_nothing_is_sent(outreach_env, inbox, drain):
    app = inbox()
    app.click(SEND_OPEN)
    app.click(SEND_PREVIEW, **{ROUTE_INPUT: WHATSAPP_TWILIO, TEXT_INPUT: "Are you still there?"})
    refused = app.click(SEND_CONFIRM)
    said = texts(refused)
    assert "Nothing was sent: WhatsApp allows free text only within 24 hours" in said
    assert "Send an approved template instead" in said
    assert SEND_TEMPLATES in buttons(refused)
    assert component(refused, TEXT_INPUT)["value"] == "Are you still there?"  # kept for the agent
    assert component(refused, ROUTE_INPUT)["value"] == WHATSAPP_TWILIO
    drain()
    assert outreach_env.state.sends == []


def test_a_provider_refusing_the_send_shows_as_not_delivered_with_its_code_and_reason(
    outreach_env, inbox, drain
):
    app = inbox()
    outreach_env.state.faults["twilio"] = deque([400])  # Twilio 21610: the recipient unsubscribed
    app.click(SEND_OPEN)
    app.click(SEND_PREVIEW, **{ROUTE_INPUT: SMS_TWILIO, TEXT_INPUT: "Your order shipped"})
    app.click(SEND_CONFIRM)
    drain()
    failed = app.click(SEND_REFRESH)
    said = texts(failed)
    assert status_of(failed) == "failed" and "Not delivered" in said
    assert "(code 21610)." in said and "Check the number, or write from another number" in said
    assert outreach_env.state.sends == []


def test_a_template_paused_after_its_preview_is_refused_and_explained(
    outreach_env, inbox, redis_client, drain
):
    app = inbox()
    app.click(SEND_OPEN)
    app.click(SEND_TEMPLATES, **{ROUTE_INPUT: WHATSAPP_META})
    app.click(f"{TEMPLATE_PREFIX}en_US:order_update")
    app.click(SEND_PREVIEW)
    [listed] = [t for t in outreach_env.state.whatsapp_templates if t["name"] == "order_update"]
    listed["status"] = "PAUSED"  # Meta paused it (quality): the bridge learns of it once its cache expires
    redis_client.delete(keys.templates("whatsapp"))
    refused = app.click(SEND_CONFIRM)
    said = texts(refused)
    assert "Nothing was sent: template “order_update” (en_US) is paused, not approved." in said
    assert "Pick another template" in said
    drain()
    assert outreach_env.state.sends == []


def test_a_template_goes_out_with_its_variables_prefilled_from_the_contact_and_its_header(
    outreach_env, inbox, sandbox, drain
):
    app = inbox()
    sandbox.api("PUT", f"/contacts/{app.contact['id']}", json={"name": "Ada Lovelace"})
    app.contact = sandbox.api("GET", f"/contacts/{app.contact['id']}").json()
    app.click(SEND_OPEN)

    listed = app.click(SEND_TEMPLATES, **{ROUTE_INPUT: WHATSAPP_META})
    [templates] = [c for c in listed["canvas"]["content"]["components"] if c["type"] == "list"]
    titles = [item["title"] for item in templates["items"]]
    assert "order_shipped" in titles and "spring_sale" not in titles  # paused: never offered
    assert canvas.encoded_size(listed["canvas"]["content"]) <= canvas.MAX_BYTES

    form = app.click(f"{TEMPLATE_PREFIX}en_US:order_shipped")
    assert component(form, f"{VARIABLE_PREFIX}0")["value"] == "Ada"  # "Hi {{1}}," greets the customer
    assert "value" not in component(form, f"{VARIABLE_PREFIX}1")  # an order number: the agent's to fill

    missing = app.click(SEND_PREVIEW, **{f"{VARIABLE_PREFIX}0": "Ada", f"{VARIABLE_PREFIX}1": ""})
    assert "Fill in {{2}}" in texts(missing)

    image = "https://media.example.com/orders/A-1234.jpg"
    preview = app.click(
        SEND_PREVIEW, **{f"{VARIABLE_PREFIX}0": "Ada", f"{VARIABLE_PREFIX}1": "A-1234", HEADER_INPUT: image}
    )
    assert component(preview, SHOWN)["value"] == "Hi Ada, your order A-1234 has shipped."
    app.click(SEND_CONFIRM)
    drain()
    sent = app.click(SEND_REFRESH)
    assert status_of(sent) == "sent"

    [send] = outreach_env.state.sends
    assert (send.provider, send.template, send.variables, send.header) == (
        "whatsapp",
        "order_shipped",
        ["Ada", "A-1234"],
        image,
    )
    assert send.to == LEAD_NUMBER.removeprefix("+")  # Meta takes the number as digits


def test_a_named_template_s_variables_are_prefilled_from_the_contact_s_name_and_attribute_and_sent(
    outreach_env, inbox, sandbox, drain
):
    app = inbox()
    assert (
        sandbox.api("POST", "/data_attributes", json={"name": "Window", "model": "contact"}).status_code
        == 200
    )
    attributes = {"name": "Ada Lovelace", "custom_attributes": {"Window": "today, 2-4 pm"}}
    sandbox.api("PUT", f"/contacts/{app.contact['id']}", json=attributes)
    app.contact = sandbox.api("GET", f"/contacts/{app.contact['id']}").json()
    app.click(SEND_OPEN)
    app.click(SEND_TEMPLATES, **{ROUTE_INPUT: WHATSAPP_META})

    form = app.click(f"{TEMPLATE_PREFIX}en_US:delivery_window")
    filled = {
        key: component(form, key).get("value", "") for key in (f"{VARIABLE_PREFIX}0", f"{VARIABLE_PREFIX}1")
    }
    assert list(filled.values()) == ["Ada", "today, 2-4 pm"]
    preview = app.click(SEND_PREVIEW, **filled)
    assert component(preview, SHOWN)["value"] == "Hi Ada, your delivery arrives today, 2-4 pm."
    app.click(SEND_CONFIRM)
    drain()

    [send] = outreach_env.state.sends
    assert (send.template, send.variables) == ("delivery_window", ["Ada", "today, 2-4 pm"])


def test_a_customer_who_texted_stop_is_not_sent_to_and_the_panel_says_why(outreach_env, inbox, drain):
    app = inbox(text="STOP")
    app.click(SEND_OPEN)
    app.click(SEND_PREVIEW, **{ROUTE_INPUT: SMS_TWILIO, TEXT_INPUT: "One more offer"})
    refused = app.click(SEND_CONFIRM)
    said = texts(refused)
    assert "opted out" in said and "START" in said
    drain()
    assert outreach_env.state.sends == []
