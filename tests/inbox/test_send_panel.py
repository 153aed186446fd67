"""The send panel's steps, called as the route calls them: each canvas says what it should (and
validates against Intercom's Canvas Kit schemas), Send answers an intent for the route to carry
out (never a send from here), and what comes back is shown. Against a real Redis, the sandbox's
settings and the providers' template lists served over HTTP by the stand-ins.

The signed HTTP round trip, the worker and the provider send are tests/inbox/test_inbox_app_send.py's."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import redis

from bridge.conversations.threads import Thread, ThreadStore
from bridge.core.settings import get_settings, reset_settings_cache
from bridge.inbox.panel import FIND, InboxApp
from bridge.inbox.send_canvases import (
    ROUTE_INPUT,
    SEND_CLOSE,
    SEND_CONFIRM,
    SEND_OPEN,
    SEND_PREVIEW,
    SEND_REFRESH,
    SEND_TEMPLATES,
    SHOWN,
    TEMPLATE_PAGE_PREFIX,
    TEMPLATE_PREFIX,
    TEXT_INPUT,
    VARIABLE_PREFIX,
)
from bridge.inbox.send_panel import Answer, SendMessage, ShowMessage
from bridge.intercom import canvas
from bridge.intercom.client import IntercomClient
from bridge.outreach.catalog import TemplateCatalog
from bridge.outreach.requests import Refusal
from bridge.providers.registry import ADAPTERS
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

CONVERSATION = "101"


class Panel:
    """The inbox app for one contact in conversation 101, as the route drives it."""

    def __init__(self, app: InboxApp, schema: dict[str, Any], contact: dict[str, Any]) -> None:
        self.app, self.schema, self.contact = app, schema, contact
        self.canvas: dict[str, Any] = {"content": {"components": []}}

    def click(self, component_id: str, **inputs: str) -> Answer:
        payload = {
            "workspace_id": "sandbox",
            "admin": ADMIN,
            "context": {"conversation_id": int(CONVERSATION), "location": "conversation"},
            "contact": self.contact,
            "component_id": component_id,
            "input_values": inputs,
            "current_canvas": self.canvas,
        }
        return self.shows(self.app.submit(payload))

    def shows(self, answer: Answer) -> Answer:
        if isinstance(answer, dict):
            self.canvas = valid_canvas(self.schema, answer, "submit")["canvas"]
            assert canvas.encoded_size(self.canvas["content"]) <= canvas.MAX_BYTES
            assert canvas.encoded_size(self.canvas.get("stored_data", {})) <= canvas.MAX_BYTES
        return answer


@pytest.fixture
def panel(
    outreach_env, redis_client: redis.Redis, canvas_schema: dict[str, Any]
) -> Iterator[Callable[..., Panel]]:
    """The panel for a contact (a lead with the tests' number by default), on today's settings."""
    with IntercomClient.from_settings(get_settings()) as intercom, httpx.Client() as http:

        def open_for(**contact: Any) -> Panel:
            settings = get_settings()
            catalog = TemplateCatalog(redis_client, settings, ADAPTERS, http)
            app = InboxApp(
                redis_client=redis_client,
                intercom=intercom,
                settings=settings,
                adapters=ADAPTERS,
                catalog=catalog,
            )
            fields = {
                "type": "contact",
                "id": "6f1a00000000000000000001",
                "role": "lead",
                "phone": LEAD_NUMBER,
            }
            return Panel(app, canvas_schema, fields | contact)

        yield open_for


def sms_thread(redis_client: redis.Redis) -> Thread:
    """Conversation 101 is the one the lead's SMS to the business opened."""
    thread = Thread(
        key=f"twilio:sms:{BUSINESS}:phone:{LEAD_NUMBER}",
        conversation_id=CONVERSATION,
        contact_id="6f1a00000000000000000001",
        provider="twilio",
        channel="sms",
        business_number=BUSINESS,
        customer_address=LEAD_NUMBER,
    )
    ThreadStore(redis_client).save(thread)
    return thread


def previewed(panel: Panel, text: str = "Your order shipped", route: str = SMS_TWILIO) -> dict[str, Any]:
    panel.click(SEND_OPEN)
    shown = panel.click(SEND_PREVIEW, **{ROUTE_INPUT: route, TEXT_INPUT: text})
    assert isinstance(shown, dict) and SEND_CONFIRM in buttons(shown), texts(shown)
    return shown


def previewed_and_sent(
    steps: Panel, text: str = "Your order shipped", route: str = SMS_TWILIO
) -> SendMessage:
    """Send clicked on a preview: what the panel asks the route to do."""
    previewed(steps, text, route)
    intent = steps.click(SEND_CONFIRM)
    assert isinstance(intent, SendMessage)
    return intent


# --- whom, and from where ---


def test_a_whatsapp_conversation_writes_back_where_the_customer_wrote_from_even_without_a_phone(
    panel, redis_client
):
    ThreadStore(redis_client).save(
        Thread(
            key="twilio:whatsapp:whatsapp:+14155550100:phone:+14155550999",
            conversation_id=CONVERSATION,
            contact_id="6f1a00000000000000000001",
            provider="twilio",
            channel="whatsapp",
            business_number="whatsapp:+14155550100",
            customer_address="whatsapp:+14155550999",
        )
    )
    steps = panel(phone=None)
    opened = steps.click(SEND_OPEN)
    said = texts(opened)
    assert "Phone: —" in said and "WhatsApp: +14155****99" in said
    assert "Send from: WhatsApp · twilio · whatsapp:+14155550100 (this conversation)" in said  # the only way
    preview = steps.click(SEND_PREVIEW, **{TEXT_INPUT: "Hello again"})
    stored = preview["canvas"]["stored_data"]["request"]
    assert (stored["to"], stored["channel"], stored["from"]) == (
        "+14155550999",
        "whatsapp",
        "whatsapp:+14155550100",
    )


def test_without_a_default_number_or_a_thread_there_is_nothing_to_write_from_and_it_says_how_to_fix_it(
    panel, monkeypatch
):
    monkeypatch.delenv("BRIDGE_DEFAULT_SENDERS")
    reset_settings_cache()
    shown = panel().click(SEND_OPEN)
    assert "set BRIDGE_DEFAULT_SENDERS" in texts(shown)
    assert set(buttons(shown)) == {SEND_CLOSE}


def test_back_goes_to_the_first_canvas(panel, redis_client):
    sms_thread(redis_client)
    steps = panel()
    steps.click(SEND_OPEN)
    back = steps.click(SEND_CLOSE)
    assert FIND in buttons(back) and SEND_OPEN in buttons(back)


# --- text ---


def test_an_empty_message_is_not_previewed(panel):
    steps = panel()
    steps.click(SEND_OPEN)
    shown = steps.click(SEND_PREVIEW, **{ROUTE_INPUT: SMS_TWILIO, TEXT_INPUT: "   "})
    assert "Type the message first." in texts(shown) and SEND_CONFIRM not in buttons(shown)


def test_a_phone_that_is_no_number_is_explained_at_the_preview(panel):
    steps = panel(phone="ask the front desk, ext. 12")
    steps.click(SEND_OPEN)
    shown = steps.click(SEND_PREVIEW, **{ROUTE_INPUT: SMS_TWILIO, TEXT_INPUT: "Hi"})
    said = texts(shown)
    assert "This cannot be sent: not a phone number" in said and "contact's profile in Intercom" in said
    assert component(shown, TEXT_INPUT)["value"] == "Hi"


def test_the_longest_message_s_preview_stays_within_canvas_kit_s_limits(panel):
    steps = panel()
    longest = "👋" * 10_000  # the message API's limit, 4 bytes each
    shown = previewed(steps, longest)
    assert component(shown, SHOWN)["value"] == longest  # Panel.shows checked both 64 KB limits


# --- send: an intent the route carries out ---


def test_send_asks_the_route_for_one_message_per_preview_and_never_sends_itself(panel, redis_client):
    steps = panel()
    preview = previewed(steps)
    first = steps.click(SEND_CONFIRM)
    steps.canvas = preview["canvas"]  # clicked again on the same preview
    second = steps.click(SEND_CONFIRM)
    assert isinstance(first, SendMessage) and isinstance(second, SendMessage)
    assert first.message == second.message
    message = first.message
    assert (message.to, message.provider, message.sender, message.text) == (
        LEAD_NUMBER,
        "twilio",
        BUSINESS,
        "Your order shipped",
    )
    assert (message.intercom_contact_id, message.admin_id) == (steps.contact["id"], ADMIN["id"])
    assert message.idempotency_key and message.idempotency_key.startswith("inbox:")

    previewed(steps)  # the same text previewed again: another message, as the agent means it
    third = steps.click(SEND_CONFIRM)
    assert isinstance(third, SendMessage) and third.message.idempotency_key != message.idempotency_key
    assert not list(redis_client.scan_iter("bridge:outreach:*"))  # nothing stored: the route's to do


def test_a_refusal_shows_what_was_written_again_with_the_reason_and_what_to_do(panel):
    steps = panel()
    intent = previewed_and_sent(steps, "Your order shipped", WHATSAPP_TWILIO)
    shown = steps.shows(steps.app.refused(intent, Refusal(409, "the customer opted out of this number")))
    said = texts(shown)
    assert "Nothing was sent: the customer opted out of this number." in said
    assert "only they can opt in again" in said
    assert component(shown, TEXT_INPUT)["value"] == "Your order shipped"
    assert component(shown, ROUTE_INPUT)["value"] == WHATSAPP_TWILIO


def test_the_status_of_a_failed_message_says_why_and_what_to_do(panel):
    steps = panel()
    intent = previewed_and_sent(steps)
    view = {
        "id": "msg_1",
        "status": "failed",
        "channel": "sms",
        "provider": "twilio",
        "from": BUSINESS,
        "to": "+14155****23",
        "conversation_id": "202",
        "error": {"code": "30003", "reason": "The phone is switched off or out of reach"},
    }
    shown = steps.shows(steps.app.sent(intent, view))
    said = texts(shown)
    assert "Not delivered" in said and "The phone is switched off or out of reach (code 30003)." in said
    assert "Conversation: 202 (another conversation)" in said and "Check the number" in said
    assert shown["canvas"]["stored_data"]["message"] == "msg_1"
    refresh = steps.click(SEND_REFRESH)
    assert isinstance(refresh, ShowMessage) and refresh.message_id == "msg_1"


def test_a_message_no_longer_on_record_is_said_so(panel):
    steps = panel()
    steps.shows(steps.app.sent(previewed_and_sent(steps), {"id": "msg_gone", "status": "sent"}))
    refresh = steps.click(SEND_REFRESH)
    assert isinstance(refresh, ShowMessage)
    shown = steps.shows(steps.app.shown(refresh, None))
    assert "no longer on record" in texts(shown) and SEND_PREVIEW in buttons(shown)


# --- templates ---


def meta_template(name: str, body: str, *, status: str = "APPROVED", named: bool = False) -> dict[str, Any]:
    """A template as Meta's `message_templates` lists it."""
    return {
        "name": name,
        "language": "en_US",
        "status": status,
        "category": "UTILITY",
        "parameter_format": "NAMED" if named else "POSITIONAL",
        "components": [{"type": "BODY", "text": body}],
        "id": str(zlib.crc32(name.encode())),
    }


def test_templates_come_a_page_at_a_time_and_paused_or_rejected_ones_never(panel, outreach_env):
    outreach_env.state.whatsapp_templates.extend(
        meta_template(f"notice_{index:02d}_" + "x" * 480, "Notice {{1}}") for index in range(25)
    )
    steps = panel()
    steps.click(SEND_OPEN)
    seen: list[str] = []
    shown = steps.click(SEND_TEMPLATES, **{ROUTE_INPUT: WHATSAPP_META})
    while True:
        [listed] = [c for c in shown["canvas"]["content"]["components"] if c["type"] == "list"]
        assert 1 <= len(listed["items"]) <= 10
        seen += [item["title"] for item in listed["items"]]
        more = [button for button in buttons(shown) if button.startswith(TEMPLATE_PAGE_PREFIX)]
        if not more:
            break
        shown = steps.click(more[0])
    approved = {t["name"] for t in outreach_env.state.whatsapp_templates if t["status"] == "APPROVED"}
    assert sorted(seen) == sorted(approved) and len(seen) == len(set(seen))
    assert "spring_sale" not in seen and "win_a_prize" not in seen


def test_templates_are_whatsapp_s_and_an_sms_number_says_so(panel):
    steps = panel()
    steps.click(SEND_OPEN)
    shown = steps.click(SEND_TEMPLATES, **{ROUTE_INPUT: SMS_TWILIO})
    assert "Templates are WhatsApp's: choose a WhatsApp number" in texts(shown)


def test_templates_that_cannot_be_listed_are_explained(panel, monkeypatch):
    monkeypatch.delenv("WHATSAPP_BUSINESS_ACCOUNT_ID")
    reset_settings_cache()
    steps = panel()
    steps.click(SEND_OPEN)
    shown = steps.click(SEND_TEMPLATES, **{ROUTE_INPUT: WHATSAPP_META})
    said = texts(shown)
    assert "whatsapp's templates could not be listed" in said and "WHATSAPP_BUSINESS_ACCOUNT_ID" in said


def test_named_variables_are_prefilled_from_the_contact_s_name_and_attributes(panel, outreach_env):
    body = "Hi {{first_name}}, your order {{order_number}} is ready for {{pickup_time}}."
    outreach_env.state.whatsapp_templates.append(meta_template("order_ready", body, named=True))
    steps = panel(name="Ada Lovelace", custom_attributes={"Order number": "A-1234", "VIP": True})
    steps.click(SEND_OPEN)
    steps.click(SEND_TEMPLATES, **{ROUTE_INPUT: WHATSAPP_META})
    form = steps.click(f"{TEMPLATE_PREFIX}en_US:order_ready")
    values = [component(form, f"{VARIABLE_PREFIX}{index}").get("value", "") for index in range(3)]
    assert values == ["Ada", "A-1234", ""]
    assert component(form, f"{VARIABLE_PREFIX}0")["label"] == "{{first_name}}"


def test_a_refused_template_shows_its_form_again_as_it_was_filled(panel):
    steps = panel()
    steps.click(SEND_OPEN)
    steps.click(SEND_TEMPLATES, **{ROUTE_INPUT: WHATSAPP_META})
    steps.click(f"{TEMPLATE_PREFIX}en_US:appointment_reminder")
    steps.click(
        SEND_PREVIEW,
        **{f"{VARIABLE_PREFIX}0": "Monday", f"{VARIABLE_PREFIX}1": "10:00", "send_header": "Ada"},
    )
    intent = steps.click(SEND_CONFIRM)
    assert isinstance(intent, SendMessage) and intent.message.template is not None
    refusal = Refusal(
        422, "template “appointment_reminder” (en_US) is paused, not approved", field="template.name"
    )
    shown = steps.shows(steps.app.refused(intent, refusal))
    said = texts(shown)
    assert "Nothing was sent: template “appointment_reminder” (en_US) is paused" in said
    assert "Pick another template" in said
    assert [component(shown, f"{VARIABLE_PREFIX}{index}")["value"] for index in range(2)] == [
        "Monday",
        "10:00",
    ]
    assert component(shown, "send_header")["value"] == "Ada"
