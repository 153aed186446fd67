"""Meta WhatsApp Cloud API: the handshake, signatures as pywa checks them, and payloads as Meta
sends them (Meta's own example, pywa's fixtures, and Meta's per-type webhook references)."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from bridge.core.errors import ConfigurationError, MalformedPayload, MediaRefused, SignatureInvalid
from bridge.core.settings import Settings
from bridge.dev.simulators.base import SimulatedMessage
from bridge.dev.simulators.whatsapp import inbound
from bridge.model.messages import DeliveryState, Media
from bridge.model.senders import IdentityKind
from bridge.providers.base import WebhookContent, WebhookRequest
from bridge.providers.whatsapp import WhatsAppAdapter
from tests.helpers import shared_file
from tests.media_hosts import memory_sink

ADAPTER = WhatsAppAdapter()
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SECRET = "test-app-secret"
VERIFY_TOKEN = "test-verify-token"
ACCESS_TOKEN = "test-access-token"
URL = "https://bridge.example.com/webhooks/whatsapp"
CUSTOMER = "16505551234"
BSUID = "US.13491208655302741918"
PHONE_NUMBER_ID = "106540352242922"


def settings(**fields: Any) -> Settings:
    values: dict[str, Any] = {
        "whatsapp_app_secret": SECRET,
        "whatsapp_verify_token": VERIFY_TOKEN,
        "whatsapp_access_token": ACCESS_TOKEN,
        "whatsapp_api_url": "https://graph.facebook.com/v23.0",
        "default_region": "US",
    }
    return Settings(_env_file=None, **(values | fields))


def post(
    body: bytes | dict[str, Any], *, signature: str | None = None, secret: str = SECRET
) -> WebhookRequest:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    if signature is None:
        signature = "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    headers = {"content-type": "application/json"}
    if signature:
        headers["x-hub-signature-256"] = signature
    return WebhookRequest(method="POST", url=URL, headers=headers, query="", body=raw, received_at=NOW)


def get(query: str) -> WebhookRequest:
    return WebhookRequest(
        method="GET", url=f"{URL}?{query}", headers={}, query=query, body=b"", received_at=NOW
    )


def parse(body: bytes | dict[str, Any]) -> WebhookContent:
    return ADAPTER.parse(post(body), settings())


def sample(name: str) -> bytes:
    return shared_file("samples", name).read_bytes()


def message(kind: str, **fields: Any) -> dict[str, Any]:
    """A `messages[]` item from CUSTOMER, as Meta's per-type webhook references show it."""
    return {"from": CUSTOMER, "id": f"wamid.{kind}", "timestamp": "1749416383", "type": kind, **fields}


def value(
    *messages: dict[str, Any],
    statuses: tuple[dict[str, Any], ...] = (),
    contacts: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
        "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": CUSTOMER}]
        if contacts is None
        else contacts,
    }
    if messages:
        result["messages"] = list(messages)
    if statuses:
        result["statuses"] = list(statuses)
    return result


def webhook(*values: dict[str, Any], waba: str = "102290129340398") -> dict[str, Any]:
    changes = [{"value": v, "field": "messages"} for v in values]
    return {"object": "whatsapp_business_account", "entry": [{"id": waba, "changes": changes}]}


def only_message(*messages: dict[str, Any], **fields: Any) -> Any:
    [parsed] = parse(webhook(value(*messages, **fields))).messages
    return parsed


# --- configuration ---


def test_whatsapp_is_disabled_without_its_app_secret() -> None:
    reason = ADAPTER.disabled_reason(Settings(_env_file=None, whatsapp_app_secret=None))
    assert reason and "WHATSAPP_APP_SECRET" in reason
    assert ADAPTER.disabled_reason(settings()) is None


def test_an_empty_app_secret_leaves_whatsapp_disabled() -> None:
    assert ADAPTER.disabled_reason(settings(whatsapp_app_secret=""))


def test_the_acknowledgement_is_json_200() -> None:
    ack = ADAPTER.acknowledge()
    assert (ack.status, ack.media_type) == (200, "application/json")


# --- the GET handshake ---


def test_the_subscription_handshake_answers_the_raw_challenge() -> None:
    ack = ADAPTER.handshake(
        get(f"hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token={VERIFY_TOKEN}"), settings()
    )
    assert ack is not None
    assert (ack.status, ack.media_type, ack.body) == (200, "text/plain", b"1158201444")


def test_a_wrong_verify_token_is_refused() -> None:
    with pytest.raises(SignatureInvalid, match="verify_token"):
        ADAPTER.handshake(get("hub.mode=subscribe&hub.challenge=1&hub.verify_token=guess"), settings())


def test_a_wrong_mode_is_refused() -> None:
    with pytest.raises(SignatureInvalid, match="hub.mode"):
        ADAPTER.handshake(
            get(f"hub.mode=unsubscribe&hub.challenge=1&hub.verify_token={VERIFY_TOKEN}"), settings()
        )


def test_a_missing_challenge_is_refused() -> None:
    with pytest.raises(SignatureInvalid, match="hub.challenge"):
        ADAPTER.handshake(get(f"hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}"), settings())


def test_a_get_without_hub_parameters_is_refused() -> None:
    with pytest.raises(SignatureInvalid):
        ADAPTER.handshake(get(""), settings())


def test_the_handshake_is_refused_while_no_verify_token_is_configured() -> None:
    with pytest.raises(SignatureInvalid, match="WHATSAPP_VERIFY_TOKEN"):
        ADAPTER.handshake(
            get("hub.mode=subscribe&hub.challenge=1&hub.verify_token=x"), settings(whatsapp_verify_token=None)
        )


def test_a_post_is_no_handshake() -> None:
    assert ADAPTER.handshake(post(webhook()), settings()) is None


# --- signatures: pywa's real signed body ---


def vector() -> dict[str, Any]:
    return dict(json.loads(shared_file("samples", "whatsapp_signature_vector.json").read_text()))


def test_the_shared_vector_verifies() -> None:
    case = vector()
    body = sample("whatsapp_cloud_text_signed_raw_body.json")
    assert body == case["raw_body"].encode()
    ADAPTER.verify(
        post(body, signature=case["expected_header_value"]), settings(whatsapp_app_secret=case["app_secret"])
    )


def test_a_changed_byte_is_refused() -> None:
    case = vector()
    body = sample("whatsapp_cloud_text_signed_raw_body.json").replace(b"PyWa.", b"PyWa!")
    with pytest.raises(SignatureInvalid, match="does not match"):
        ADAPTER.verify(
            post(body, signature=case["expected_header_value"]),
            settings(whatsapp_app_secret=case["app_secret"]),
        )


def test_a_missing_signature_is_refused() -> None:
    with pytest.raises(SignatureInvalid, match="X-Hub-Signature-256 is missing"):
        ADAPTER.verify(post(webhook(), signature=""), settings())


def test_a_signature_made_with_another_secret_is_refused() -> None:
    with pytest.raises(SignatureInvalid):
        ADAPTER.verify(post(webhook(), secret="not-the-secret"), settings())


def test_a_signature_without_its_prefix_is_refused() -> None:
    body = json.dumps(webhook()).encode()
    bare = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    with pytest.raises(SignatureInvalid):
        ADAPTER.verify(post(body, signature=bare), settings())


# --- the shared samples ---


def test_metas_own_example_parses() -> None:
    content = parse(sample("whatsapp_cloud_text_meta_docs.json"))
    [parsed] = content.messages
    assert parsed.provider_message_id == "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="
    assert (parsed.sender.raw, parsed.sender.e164) == ("16505551234", "+16505551234")
    assert parsed.aliases == ()
    assert parsed.business_number == "106540352242922"
    assert parsed.account == "102290129340398"
    assert parsed.profile_name == "Sheena Nelson"
    assert parsed.text == "Does it come in another color?"
    assert parsed.received_at == datetime.fromtimestamp(1749416383, UTC)
    assert content.statuses == ()


def test_the_signed_vector_body_parses() -> None:
    [parsed] = parse(sample("whatsapp_cloud_text_signed_raw_body.json")).messages
    assert (parsed.sender.e164, parsed.text) == ("+972544401243", "Hey there! I am using PyWa.")


def test_the_image_sample_announces_its_media_by_id() -> None:
    [parsed] = parse(sample("whatsapp_cloud_image.json")).messages
    assert parsed.media == (Media(provider_id="65463453", content_type="image/jpeg"),)
    assert parsed.text == ""
    assert parsed.problem is None


def test_the_delivered_status_sample() -> None:
    content = parse(sample("whatsapp_cloud_status_delivered.json"))
    assert content.messages == ()
    [status] = content.statuses
    assert status.provider == "whatsapp"
    assert status.provider_message_id == "wamid.xyzxyz"
    assert status.state is DeliveryState.DELIVERED
    assert status.occurred_at == datetime.fromtimestamp(1698266945, UTC)
    assert status.recipient == "972987654321"
    assert (status.error_code, status.error_message) == (None, None)


def test_the_failed_status_sample_carries_metas_error() -> None:
    [status] = parse(sample("whatsapp_cloud_status_failed.json")).statuses
    assert status.state is DeliveryState.FAILED
    assert status.error_code == "130472"
    assert status.error_message == (
        "User's number is part of an experiment: "
        "Failed to send message because this user's phone number is part of an experiment"
    )


# --- batches ---


def test_a_batched_payload_yields_every_message_and_status_in_order() -> None:
    first = value(
        message("text", id="wamid.1", text={"body": "one"}),
        message("text", id="wamid.2", text={"body": "two"}),
        statuses=(
            {"id": "wamid.out1", "status": "sent", "timestamp": "1", "recipient_id": CUSTOMER},
            {"id": "wamid.out2", "status": "read", "timestamp": "2", "recipient_id": CUSTOMER},
        ),
    )
    second = value(message("text", id="wamid.3", text={"body": "three"}))
    body = webhook(first)
    body["entry"].append({"id": "WABA2", "changes": [{"value": second, "field": "messages"}]})
    content = parse(body)
    assert [(m.provider_message_id, m.text, m.account) for m in content.messages] == [
        ("wamid.1", "one", "102290129340398"),
        ("wamid.2", "two", "102290129340398"),
        ("wamid.3", "three", "WABA2"),
    ]
    assert [(s.provider_message_id, s.state) for s in content.statuses] == [
        ("wamid.out1", DeliveryState.SENT),
        ("wamid.out2", DeliveryState.READ),
    ]


def test_changes_of_other_fields_are_ignored() -> None:
    body = webhook(value(message("text", text={"body": "hi"})))
    body["entry"][0]["changes"].insert(0, {"field": "account_update", "value": {"event": "VERIFIED_ACCOUNT"}})
    assert [m.text for m in parse(body).messages] == ["hi"]


def test_each_message_gets_its_own_senders_contact() -> None:
    contacts = [
        {"profile": {"name": "Ana"}, "wa_id": "5511912345678"},
        {"profile": {"name": "Ben"}, "wa_id": CUSTOMER},
    ]
    parsed = parse(
        webhook(
            value(
                message("text", text={"body": "a"}, **{"from": CUSTOMER}),
                message("text", id="wamid.b", text={"body": "b"}, **{"from": "5511912345678"}),
                contacts=contacts,
            )
        )
    ).messages
    assert [m.profile_name for m in parsed] == ["Ben", "Ana"]


# --- senders ---


def test_a_username_only_sender_is_a_whatsapp_user() -> None:
    item = message("text", text={"body": "hi"}, from_user_id=BSUID)
    del item["from"]
    contact = {"profile": {"name": "Sam", "username": "@sam"}, "user_id": BSUID}
    parsed = only_message(item, contacts=[contact])
    assert parsed.sender.kind is IdentityKind.WHATSAPP_USER
    assert parsed.sender.raw == BSUID
    assert parsed.sender.e164 is None
    assert parsed.aliases == ()
    assert parsed.profile_name == "Sam"
    assert parsed.problem is None


def test_a_bsuid_beside_the_phone_number_becomes_an_alias() -> None:
    parsed = only_message(message("text", text={"body": "hi"}, from_user_id=BSUID))
    assert parsed.sender.e164 == "+16505551234"
    assert [a.key for a in parsed.aliases] == [f"whatsapp_user:{BSUID}"]


# --- message types ---


@pytest.mark.parametrize("kind", ["image", "video", "audio", "sticker"])
def test_every_media_type_is_announced_by_its_id(kind: str) -> None:
    parsed = only_message(
        message(kind, **{kind: {"id": "1234", "mime_type": "application/x-test", "sha256": "x"}})
    )
    assert parsed.media == (Media(provider_id="1234", content_type="application/x-test"),)
    assert parsed.problem is None


def test_a_caption_becomes_the_text() -> None:
    parsed = only_message(message("video", video={"id": "9", "mime_type": "video/mp4", "caption": "look"}))
    assert parsed.text == "look"


def test_a_document_keeps_its_filename() -> None:
    document = {
        "id": "77",
        "mime_type": "application/pdf",
        "filename": "invoice.pdf",
        "caption": "my invoice",
    }
    parsed = only_message(message("document", document=document))
    assert parsed.media == (Media(provider_id="77", content_type="application/pdf", filename="invoice.pdf"),)
    assert parsed.text == "my invoice"


def test_a_media_url_in_the_payload_is_kept() -> None:
    url = "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1"
    parsed = only_message(message("image", image={"id": "5", "mime_type": "image/jpeg", "url": url}))
    assert parsed.media == (Media(url=url, provider_id="5", content_type="image/jpeg"),)


def test_a_location_reads_as_text_with_a_map_link() -> None:
    location = {
        "latitude": 37.483307,
        "longitude": -122.148981,
        "name": "Philz Coffee",
        "address": "101 Forest Ave",
    }
    parsed = only_message(message("location", location=location))
    assert parsed.text == (
        "📍 Location: Philz Coffee, 101 Forest Ave (37.483307, -122.148981) "
        "https://maps.google.com/?q=37.483307,-122.148981"
    )


def test_a_location_without_a_name_still_reads() -> None:
    parsed = only_message(message("location", location={"latitude": 1.5, "longitude": 2}))
    assert parsed.text == "📍 Location: (1.5, 2) https://maps.google.com/?q=1.5,2"


def test_shared_contacts_read_as_text() -> None:
    card = {
        "name": {"formatted_name": "Barbara J. Johnson", "first_name": "Barbara"},
        "phones": [{"phone": "+1 (940) 555-1234", "type": "HOME", "wa_id": "19405551234"}],
        "emails": [{"email": "bjohnson@example.com", "type": "WORK"}],
    }
    parsed = only_message(message("contacts", contacts=[card, {"name": {"first_name": "Al"}}]))
    assert parsed.text == (
        "👤 Contact: Barbara J. Johnson, 📞 +1 (940) 555-1234, ✉️ bjohnson@example.com\n👤 Contact: Al"
    )


def test_a_template_quick_reply_button_reads_as_its_text() -> None:
    parsed = only_message(message("button", button={"payload": "STOP_PROMOS", "text": "Stop promotions"}))
    assert parsed.text == "Stop promotions"


def test_an_interactive_button_reply_reads_as_its_title() -> None:
    reply = {"type": "button_reply", "button_reply": {"id": "yes-1", "title": "Yes"}}
    assert only_message(message("interactive", interactive=reply)).text == "Yes"


def test_an_interactive_list_reply_reads_as_its_title_and_description() -> None:
    reply = {"type": "list_reply", "list_reply": {"id": "r1", "title": "Red", "description": "The red one"}}
    assert only_message(message("interactive", interactive=reply)).text == "Red\nThe red one"


def test_a_reaction_reads_as_text() -> None:
    parsed = only_message(message("reaction", reaction={"message_id": "wamid.out", "emoji": "👍"}))
    assert parsed.text == "Reacted 👍 to a message"


def test_an_empty_reaction_is_a_removed_reaction() -> None:
    parsed = only_message(message("reaction", reaction={"message_id": "wamid.out", "emoji": ""}))
    assert parsed.text == "Removed a reaction"


def test_an_order_reads_as_a_summary() -> None:
    order = {
        "catalog_id": "CAT1",
        "text": "Please deliver today",
        "product_items": [
            {"product_retailer_id": "SKU-1", "quantity": 2, "item_price": 10.5, "currency": "EUR"},
            {"product_retailer_id": "SKU-2", "quantity": "1"},
        ],
    }
    parsed = only_message(message("order", order=order))
    assert (
        parsed.text == "🛒 Order from catalog CAT1:\n2 × SKU-1 at 10.5 EUR\n1 × SKU-2\nPlease deliver today"
    )


def test_a_changed_number_gives_the_new_identity() -> None:
    system = {
        "body": "User A changed from 16505551234 to 12195555358",
        "wa_id": "12195555358",
        "type": "user_changed_number",
    }
    parsed = only_message(message("system", system=system), contacts=[])
    assert parsed.sender.e164 == "+16505551234"
    assert parsed.new_identity is not None
    assert (parsed.new_identity.raw, parsed.new_identity.e164) == ("12195555358", "+12195555358")
    assert parsed.text == system["body"]
    assert parsed.problem is None


def test_a_changed_number_from_before_graph_v12_names_it_new_wa_id() -> None:
    system = {"body": "changed", "new_wa_id": 12195555358, "type": "user_changed_number"}
    parsed = only_message(message("system", system=system), contacts=[])
    assert parsed.new_identity is not None and parsed.new_identity.e164 == "+12195555358"


def test_an_unreadable_new_number_is_kept_with_a_problem() -> None:
    system = {"body": "changed", "wa_id": "???", "type": "user_changed_number"}
    parsed = only_message(message("system", system=system), contacts=[])
    assert parsed.problem and "new WhatsApp id" in parsed.problem


def test_other_system_notices_are_kept_with_a_problem() -> None:
    system = {"body": "User changed their id", "type": "user_changed_user_id", "user_id": "US.1"}
    parsed = only_message(message("system", system=system), contacts=[])
    assert parsed.text == "User changed their id"
    assert parsed.problem and "'user_changed_user_id'" in parsed.problem


def test_an_unsupported_message_is_kept_with_metas_reason() -> None:
    errors = [
        {
            "code": 131051,
            "title": "Message type unknown",
            "message": "Message type unknown",
            "error_data": {"details": "Message type is currently not supported."},
        }
    ]
    parsed = only_message(message("unsupported", unsupported={"type": "poll_update"}, errors=errors))
    assert parsed.provider_message_id == "wamid.unsupported"
    assert parsed.problem is not None
    assert "poll_update" in parsed.problem
    assert "131051: Message type unknown: Message type is currently not supported." in parsed.problem


def test_an_unknown_type_is_kept_with_a_problem() -> None:
    parsed = only_message(message("hologram", hologram={"id": "1"}))
    assert parsed.problem and "'hologram'" in parsed.problem


def test_a_group_message_is_kept_with_a_problem() -> None:
    parsed = only_message(message("text", text={"body": "hi all"}, group_id="120363040000000000"))
    assert parsed.text == "hi all"
    assert parsed.problem and "group messages are not supported" in parsed.problem


def test_unreadable_content_is_kept_with_a_problem_naming_the_field() -> None:
    parsed = only_message(
        message("interactive", interactive={"type": "button_reply", "button_reply": {"id": "1"}})
    )
    assert (
        parsed.problem
        and "entry[0].changes[0].value.messages[0].interactive.button_reply.title" in parsed.problem
    )


def test_an_unreadable_timestamp_falls_back_to_the_receive_time() -> None:
    parsed = only_message(message("text", text={"body": "hi"}, timestamp={"at": "noon"}))
    assert parsed.received_at == NOW


def test_a_reply_context_is_ignored() -> None:
    parsed = only_message(
        message("text", text={"body": "yes"}, context={"from": "15550783881", "id": "wamid.out"})
    )
    assert (parsed.text, parsed.problem) == ("yes", None)


# --- statuses ---


def status(state: str, **fields: Any) -> dict[str, Any]:
    return {"id": "wamid.out", "status": state, "timestamp": "1698266945", "recipient_id": CUSTOMER, **fields}


def test_a_played_voice_message_counts_as_read() -> None:
    [report] = parse(webhook(value(statuses=(status("played"),)))).statuses
    assert report.state is DeliveryState.READ


@pytest.mark.parametrize("state", ["deleted", "some_future_status"])
def test_statuses_without_a_delivery_meaning_are_skipped(state: str) -> None:
    assert parse(webhook(value(statuses=(status(state),)))).statuses == ()


def test_a_failed_status_without_errors_still_says_failed() -> None:
    [report] = parse(webhook(value(statuses=(status("failed"),)))).statuses
    assert (report.error_code, report.error_message) == (None, "failed")


def test_the_status_route_returns_the_statuses() -> None:
    reports = ADAPTER.parse_statuses(post(sample("whatsapp_cloud_status_delivered.json")), settings())
    assert [r.state for r in reports] == [DeliveryState.DELIVERED]


def test_the_status_route_refuses_messages_rather_than_dropping_them() -> None:
    with pytest.raises(MalformedPayload, match="messages belong"):
        ADAPTER.parse_statuses(post(sample("whatsapp_cloud_text.json")), settings())


# --- malformed bodies ---

MESSAGE_PATH = "entry[0].changes[0].value.messages[0]"


def with_message(item: Any) -> dict[str, Any]:
    body = webhook(value(message("text", text={"body": "x"})))
    body["entry"][0]["changes"][0]["value"]["messages"] = [item]
    return body


def without(key: str) -> dict[str, Any]:
    item = message("text", text={"body": "x"})
    del item[key]
    return with_message(item)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[]", "must be a JSON object"),
        ({"object": "page", "entry": []}, 'object must be "whatsapp_business_account"'),
        ({"object": "whatsapp_business_account"}, "entry is missing"),
        ({"object": "whatsapp_business_account", "entry": {}}, "entry must be a list"),
        ({"object": "whatsapp_business_account", "entry": ["x"]}, r"entry\[0\] must be an object"),
        (
            {"object": "whatsapp_business_account", "entry": [{"changes": 3}]},
            r"entry\[0\].changes must be a list",
        ),
        (
            {"object": "whatsapp_business_account", "entry": [{"changes": [{"value": {}}]}]},
            "field is missing",
        ),
        (
            {"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages"}]}]},
            r"entry\[0\].changes\[0\].value is missing",
        ),
        (with_message("hello"), re.escape(f"{MESSAGE_PATH} must be an object")),
        (without("id"), re.escape(f"{MESSAGE_PATH}.id is missing")),
        (with_message(message("text", id=["x"])), re.escape(f"{MESSAGE_PATH}.id must be a string")),
        (
            with_message(message("text", **{"from": {"n": 1}})),
            re.escape(f"{MESSAGE_PATH}.from must be a string"),
        ),
    ],
)
def test_malformed_bodies_get_a_reason(body: bytes | dict[str, Any], reason: str) -> None:
    with pytest.raises(MalformedPayload, match=reason):
        parse(body)


def test_a_message_from_nobody_is_malformed() -> None:
    item = message("text", text={"body": "x"})
    del item["from"]
    with pytest.raises(MalformedPayload, match="from and .*from_user_id are both missing"):
        parse(webhook(value(item, contacts=[])))


def test_the_only_contacts_wa_id_stands_in_for_a_missing_from() -> None:
    item = message("text", text={"body": "x"})
    del item["from"]
    parsed = only_message(item)
    assert parsed.sender.e164 == "+16505551234"


def test_a_message_without_its_business_phone_number_id_is_malformed() -> None:
    body = webhook(value(message("text", text={"body": "x"})))
    del body["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"]
    with pytest.raises(MalformedPayload, match="metadata.phone_number_id is missing"):
        parse(body)


def test_a_status_without_its_id_is_malformed() -> None:
    report = status("sent")
    del report["id"]
    with pytest.raises(MalformedPayload, match=r"statuses\[0\].id is missing"):
        parse(webhook(value(statuses=(report,))))


def leaves(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The path to every value in a JSON document, containers included."""
    found = [path] if path else []
    if isinstance(node, dict):
        for key, child in node.items():
            found += leaves(child, (*path, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found += leaves(child, (*path, index))
    return found


def every_type() -> dict[str, Any]:
    """One message of every type the adapter reads, and a failed status, in one change."""
    return webhook(
        value(
            message("text", text={"body": "hi"}, from_user_id=BSUID),
            message("document", document={"id": "1", "mime_type": "application/pdf", "filename": "a.pdf"}),
            message("location", location={"latitude": 1.5, "longitude": 2, "name": "N", "address": "A"}),
            message("contacts", contacts=[{"name": {"formatted_name": "B"}, "phones": [{"phone": "+1"}]}]),
            message("button", button={"text": "Stop"}),
            message("interactive", interactive={"type": "list_reply", "list_reply": {"title": "Red"}}),
            message("reaction", reaction={"message_id": "wamid.out", "emoji": "👍"}),
            message("order", order={"catalog_id": "C", "product_items": [{"quantity": 1, "item_price": 2}]}),
            message("system", system={"type": "user_changed_number", "wa_id": "12195555358"}),
            message("unsupported", unsupported={"type": "poll"}, errors=[{"code": 131051, "title": "T"}]),
            statuses=(status("failed", errors=[{"code": 1, "title": "T", "error_data": {"details": "D"}}]),),
        )
    )


def corrupted(original: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The document with one value (at any depth) replaced by each wrong JSON type in turn."""
    for path in leaves(original):
        for replacement in (None, 7, 1.5, "x", "", True, [], {}, [1], {"a": 1}):
            body = copy.deepcopy(original)
            parent = body
            for step in path[:-1]:
                parent = parent[step]
            parent[path[-1]] = replacement
            yield body


@pytest.mark.parametrize(
    "name",
    [
        "whatsapp_cloud_text.json",
        "whatsapp_cloud_image.json",
        "whatsapp_cloud_status_failed.json",
        "every type",
    ],
)
def test_any_field_of_the_wrong_type_is_refused_or_kept_never_a_crash(name: str) -> None:
    original = every_type() if name == "every type" else json.loads(sample(name))
    for body in corrupted(original):
        try:
            parse(body)
        except MalformedPayload:
            pass


def test_every_type_parses_without_a_problem_but_the_unsupported_one() -> None:
    parsed = parse(every_type()).messages
    assert [m.problem is not None for m in parsed] == [False] * 9 + [True]


# --- media ---


def recording_client(routes: dict[str, httpx.Response]) -> tuple[httpx.Client, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return routes.get(str(request.url), httpx.Response(404))

    return httpx.Client(transport=httpx.MockTransport(handle)), seen


def test_media_are_resolved_through_the_graph_api_then_fetched_with_the_token() -> None:
    file_url = "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=65463453&ext=1"
    client, seen = recording_client(
        {
            "https://graph.facebook.com/v23.0/65463453": httpx.Response(
                200, json={"url": file_url, "mime_type": "image/jpeg", "id": "65463453"}
            ),
            file_url: httpx.Response(
                200, content=b"JPEG", headers={"content-type": "application/octet-stream"}
            ),
        }
    )
    sink = memory_sink()
    fetched = ADAPTER.fetch_media(Media(provider_id="65463453"), settings(), client, into=sink)
    assert (sink.file.getvalue(), fetched.content_type) == (b"JPEG", "image/jpeg")
    assert [str(r.url) for r in seen] == ["https://graph.facebook.com/v23.0/65463453", file_url]
    assert all(r.headers["authorization"] == f"Bearer {ACCESS_TOKEN}" for r in seen)


def test_media_follow_the_configured_api_url() -> None:
    client, seen = recording_client(
        {
            "http://127.0.0.1:9/graph/abc": httpx.Response(200, json={"url": "http://127.0.0.1:9/files/abc"}),
            "http://127.0.0.1:9/files/abc": httpx.Response(
                200, content=b"x", headers={"content-type": "image/png"}
            ),
        }
    )
    fetched = ADAPTER.fetch_media(
        Media(provider_id="abc", filename="a.png"),
        settings(whatsapp_api_url="http://127.0.0.1:9/graph/"),
        client,
        into=memory_sink(),
    )
    assert (fetched.content_type, fetched.filename) == ("image/png", "a.png")
    assert [str(r.url) for r in seen] == ["http://127.0.0.1:9/graph/abc", "http://127.0.0.1:9/files/abc"]


def test_a_media_url_on_metas_host_is_fetched_with_the_token() -> None:
    url = "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1"
    client, seen = recording_client({url: httpx.Response(200, content=b"x")})
    ADAPTER.fetch_media(Media(url=url, content_type="image/jpeg"), settings(), client, into=memory_sink())
    assert seen[0].headers["authorization"] == f"Bearer {ACCESS_TOKEN}"


@pytest.mark.parametrize(
    "url",
    [
        "https://files.example.com/a.jpg",
        "https://fbsbx.com.evil.example/a.jpg",
        "http://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1",  # the token in clear text
        "http://127.0.0.1:9/files/abc",  # not WHATSAPP_API_URL's origin
    ],
)
def test_a_media_url_elsewhere_is_never_fetched_so_never_gets_the_token(url: str) -> None:
    client, seen = recording_client({url: httpx.Response(200, content=b"x")})
    with pytest.raises(MediaRefused):
        ADAPTER.fetch_media(Media(url=url), settings(), client, into=memory_sink())
    assert seen == []


def test_fetching_media_without_an_access_token_names_the_setting() -> None:
    client, _ = recording_client({})
    with pytest.raises(ConfigurationError, match="WHATSAPP_ACCESS_TOKEN"):
        ADAPTER.fetch_media(
            Media(provider_id="1"), settings(whatsapp_access_token=None), client, into=memory_sink()
        )


def test_a_graph_api_error_propagates_for_the_caller_to_classify() -> None:
    client, _ = recording_client({})
    with pytest.raises(httpx.HTTPStatusError):
        ADAPTER.fetch_media(Media(provider_id="gone"), settings(), client, into=memory_sink())


# --- the simulator ---


def test_the_simulator_round_trip() -> None:
    simulated = inbound(
        SimulatedMessage(
            sender="+16505551234", recipient="106540352242922", text="hello", profile_name="Ana"
        ),
        "https://bridge.example.com/",
        settings(),
    )
    assert simulated.url == URL
    request = WebhookRequest(
        method="POST",
        url=simulated.url,
        headers={k.lower(): v for k, v in simulated.headers.items()},
        query="",
        body=simulated.body,
        received_at=NOW,
    )
    ADAPTER.verify(request, settings())
    [parsed] = ADAPTER.parse(request, settings()).messages
    assert (parsed.sender.raw, parsed.sender.e164) == ("16505551234", "+16505551234")
    assert (parsed.business_number, parsed.text, parsed.profile_name) == ("106540352242922", "hello", "Ana")
    assert parsed.provider_message_id.startswith("wamid.")


def test_the_simulator_sends_each_media_as_an_image_named_by_its_last_path_segment() -> None:
    simulated = inbound(
        SimulatedMessage(
            sender="+16505551234",
            recipient="106540352242922",
            text="see",
            media=("https://media.example.com/m/abc123", "https://media.example.com/m/def.png"),
            message_id="wamid.fixed",
        ),
        "https://bridge.example.com",
        settings(),
    )
    parsed = ADAPTER.parse(post(simulated.body), settings()).messages
    assert [(m.provider_message_id, m.text) for m in parsed] == [
        ("wamid.fixed", "see"),
        ("wamid.fixed.1", ""),
    ]
    assert [m.media for m in parsed] == [
        (Media(provider_id="abc123", content_type="image/jpeg"),),
        (Media(provider_id="def.png", content_type="image/png"),),
    ]
