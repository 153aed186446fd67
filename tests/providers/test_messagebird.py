"""MessageBird / Bird: the python SDK's 44 JWT vectors, Bird's HMAC, the three payload generations,
status reports, media credentials, and the simulator."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import jwt
import pytest

from bridge.core.errors import MalformedPayload, MediaRefused, SignatureInvalid, SignatureOutOfWindow
from bridge.core.settings import Settings
from bridge.dev.simulators import SimulatedMessage
from bridge.dev.simulators.messagebird import inbound, signature
from bridge.model.messages import Channel, DeliveryState, Media
from bridge.model.senders import IdentityKind
from bridge.providers.base import WebhookRequest
from bridge.providers.messagebird import MessageBirdAdapter
from tests.helpers import reference_absent, shared_file, shared_path
from tests.media_hosts import memory_sink

KEY = "test-messagebird-signing-key-0123456789"
URL = "https://bridge.example.com/webhooks/messagebird"
STATUS_URL = "https://bridge.example.com/webhooks/messagebird/status"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
ISSUED = int(NOW.timestamp())
ADAPTER = MessageBirdAdapter(clock=lambda: ISSUED + 1)
FORM = "application/x-www-form-urlencoded"


def settings(key: str | None = KEY, **fields: Any) -> Settings:
    return Settings(_env_file=None, messagebird_signing_key=key, default_region="US", **fields)


def request(
    body: bytes | str = b"",
    *,
    url: str = URL,
    method: str = "POST",
    content_type: str = FORM,
    headers: dict[str, str] | None = None,
    signed_with: str | None = KEY,
) -> WebhookRequest:
    raw = body.encode() if isinstance(body, str) else body
    all_headers = {"content-type": content_type} if content_type else {}
    if signed_with is not None:
        all_headers["messagebird-signature-jwt"] = signature(url, raw, signed_with, ISSUED)
    all_headers.update(headers or {})
    return WebhookRequest(
        method=method, url=url, headers=all_headers, query=urlsplit(url).query, body=raw, received_at=NOW
    )


def json_request(data: object, *, url: str = URL) -> WebhookRequest:
    return request(json.dumps(data), url=url, content_type="application/json")


def only_message(req: WebhookRequest, **fields: Any) -> Any:
    [message] = ADAPTER.parse(req, settings(**fields)).messages
    return message


# --- signatures: the python SDK's webhook_signature_test_data.json ---


VECTOR = shared_path("samples", "messagebird_signature_vector.json")


def vector() -> dict[str, Any]:
    return dict(json.loads(shared_file("samples", "messagebird_signature_vector.json").read_text()))


def vector_cases() -> list[Any]:
    """One test per case, named after it (read at collection, so a missing file skips instead)."""
    if not VECTOR.exists():
        return [pytest.param(None, marks=pytest.mark.skip(reason=reference_absent(VECTOR)))]
    return [pytest.param(case, id=case["name"]) for case in json.loads(VECTOR.read_text())["cases"]]


def test_the_vector_set_holds_all_44_cases() -> None:
    assert len(vector()["cases"]) == 44


@pytest.mark.parametrize("case", vector_cases())
def test_every_sdk_vector_is_judged_as_messagebird_judges_it(case: dict[str, Any]) -> None:
    secret = case.get("secret", vector()["cases"][0]["secret"])  # "none alg" names no secret
    adapter = MessageBirdAdapter(clock=lambda: datetime.fromisoformat(case["timestamp"]).timestamp())
    req = WebhookRequest(
        method=case["method"],
        url=case["url"],
        headers={"messagebird-signature-jwt": case["token"]},
        query=urlsplit(case["url"]).query,
        body=case.get("payload", "").encode(),
        received_at=NOW,
    )
    if case["valid"]:
        adapter.verify(req, settings(secret))
    else:
        with pytest.raises(SignatureInvalid):
            adapter.verify(req, settings(secret))


def test_the_url_is_hashed_exactly_as_called_so_reordered_parameters_are_refused() -> None:
    token = signature(URL + "?b=1&a=2", b"", KEY, ISSUED)
    reordered = request(
        url=URL + "?a=2&b=1", method="GET", signed_with=None, headers={"messagebird-signature-jwt": token}
    )
    with pytest.raises(SignatureInvalid, match="another URL"):
        ADAPTER.verify(reordered, settings())


def test_a_missing_signature_is_refused() -> None:
    with pytest.raises(SignatureInvalid, match="MessageBird-Signature-JWT is missing"):
        ADAPTER.verify(request("originator=1", signed_with=None), settings())


def test_a_token_signed_with_another_key_is_refused() -> None:
    with pytest.raises(SignatureInvalid, match="not a valid signature"):
        ADAPTER.verify(
            request("originator=1", signed_with="forged-key-forged-key-forged-key-0123"), settings()
        )


def test_a_changed_body_is_refused() -> None:
    signed = request("originator=31612345678&body=hi")
    with pytest.raises(SignatureInvalid, match="another body"):
        ADAPTER.verify(replace(signed, body=b"originator=31612345678&body=pay+me"), settings())


def test_an_expired_token_is_refused() -> None:
    late = MessageBirdAdapter(clock=lambda: ISSUED + 120)
    with pytest.raises(SignatureInvalid, match="expired"):
        late.verify(request("originator=1"), settings())


def test_a_token_from_another_issuer_is_refused() -> None:
    claims = {"iss": "Mallory", "nbf": ISSUED, "exp": ISSUED + 60, "jti": "x", "url_hash": ""}
    req = request(signed_with=None, headers={"messagebird-signature-jwt": jwt.encode(claims, KEY)})
    with pytest.raises(SignatureInvalid, match="not issued by MessageBird"):
        ADAPTER.verify(req, settings())


def test_a_token_without_jti_is_refused() -> None:
    claims = {"iss": "MessageBird", "nbf": ISSUED, "exp": ISSUED + 60, "url_hash": ""}
    req = request(signed_with=None, headers={"messagebird-signature-jwt": jwt.encode(claims, KEY)})
    with pytest.raises(SignatureInvalid, match="jti"):
        ADAPTER.verify(req, settings())


def test_messagebird_is_disabled_without_its_signing_key() -> None:
    reason = ADAPTER.disabled_reason(settings(None))
    assert reason and "MESSAGEBIRD_SIGNING_KEY" in reason
    assert ADAPTER.disabled_reason(settings()) is None


# --- signatures: Bird's messagebird-signature (docs.bird.com "Verifying a webhook subscription") ---


def bird_headers(body: bytes, *, url: str = URL, key: str = KEY, stamp: str = str(ISSUED)) -> dict[str, str]:
    signed = f"{stamp}\n{url}\n".encode() + hashlib.sha256(body).digest()
    digest = hmac.new(key.encode(), signed, hashlib.sha256).digest()
    return {
        "messagebird-signature": base64.b64encode(digest).decode(),
        "messagebird-request-timestamp": stamp,
    }


def bird_request(body: bytes, headers: dict[str, str], *, url: str = URL) -> WebhookRequest:
    return request(body, url=url, content_type="application/json", signed_with=None, headers=headers)


def test_a_bird_signature_verifies() -> None:
    body = b'{"service":"channels"}'
    ADAPTER.verify(bird_request(body, bird_headers(body)), settings())


def test_a_bird_signature_over_another_body_is_refused() -> None:
    with pytest.raises(SignatureInvalid, match="does not match"):
        ADAPTER.verify(bird_request(b'{"b":2}', bird_headers(b'{"a":1}')), settings())


def test_a_bird_signature_for_another_url_is_refused() -> None:
    body = b"{}"
    with pytest.raises(SignatureInvalid, match="does not match"):
        ADAPTER.verify(bird_request(body, bird_headers(body, url=URL + "?x=1")), settings())


def test_a_bird_signature_made_with_another_key_is_refused() -> None:
    body = b"{}"
    with pytest.raises(SignatureInvalid, match="does not match"):
        ADAPTER.verify(
            bird_request(body, bird_headers(body, key="forged-key-forged-key-forged-key-0123")), settings()
        )


def test_a_bird_signature_without_its_timestamp_is_refused() -> None:
    headers = bird_headers(b"{}")
    del headers["messagebird-request-timestamp"]
    with pytest.raises(SignatureInvalid, match="messagebird-request-timestamp is missing"):
        ADAPTER.verify(bird_request(b"{}", headers), settings())


@pytest.mark.parametrize(
    "sent_in",
    [-15 * 86400, 3600],
    ids=["15 days old: the ledger may have forgotten the message", "an hour ahead of our clock"],
)
def test_a_bird_signature_timestamped_outside_the_window_is_refused(sent_in: int) -> None:
    body = b'{"service":"channels"}'
    headers = bird_headers(body, stamp=str(ISSUED + sent_in))
    with pytest.raises(SignatureOutOfWindow, match="messagebird-request-timestamp"):
        MessageBirdAdapter(clock=lambda: ISSUED).verify(bird_request(body, headers), settings())


@pytest.mark.parametrize(
    "sent_in", [0, 120, -13 * 86400], ids=["now", "two minutes ahead (clock skew)", "13 days old"]
)
def test_a_bird_signature_timestamped_within_the_window_verifies(sent_in: int) -> None:
    body = b'{"service":"channels"}'
    headers = bird_headers(body, stamp=str(ISSUED + sent_in))
    MessageBirdAdapter(clock=lambda: ISSUED).verify(bird_request(body, headers), settings())


def test_a_bird_timestamp_that_is_not_a_unix_time_is_refused() -> None:
    body = b"{}"
    with pytest.raises(SignatureInvalid, match="not a unix time"):
        ADAPTER.verify(bird_request(body, bird_headers(body, stamp="yesterday")), settings())


def test_a_bird_signature_that_is_not_base64_is_refused() -> None:
    headers = {**bird_headers(b"{}"), "messagebird-signature": "not base64 ✗"}
    with pytest.raises(SignatureInvalid, match="not base64"):
        ADAPTER.verify(bird_request(b"{}", headers), settings())


# --- classic SMS/MMS forwarding ---


FORWARD = {
    "id": "e8077d803532c0b5937c639b60216938",
    "recipient": "31970102030",
    "originator": "31612345678",
    "body": "Hello  there ",
    "createdDatetime": "2016-05-03T14:26:57+00:00",
}


def test_a_forward_by_get_carries_its_fields_in_the_query() -> None:
    url = f"{URL}?{urlencode(FORWARD)}"
    message = only_message(request(url=url, method="GET", content_type=""))
    assert message.provider_message_id == FORWARD["id"]
    assert message.sender.e164 == "+31612345678"
    assert message.business_number == "31970102030"
    assert message.text == "Hello  there "
    assert message.received_at == datetime(2016, 5, 3, 14, 26, 57, tzinfo=UTC)


def test_a_form_post_and_a_get_query_parse_to_the_same_message() -> None:
    posted = only_message(request(urlencode(FORWARD)))
    queried = only_message(request(url=f"{URL}?{urlencode(FORWARD)}", method="GET", content_type=""))
    assert posted == queried


def test_mms_media_urls_are_kept_in_order_whatever_their_spelling() -> None:
    fields = [
        ("message_id", "mms1"),
        ("recipient", "18005551515"),
        ("originator", "18885551515"),
        ("mediaUrls", "https://media.messagebird.com/1.jpg"),
        ("mediaUrls[]", "https://media.messagebird.com/2.png"),
        ("mediaURLs", "https://media.messagebird.com/3.gif"),
    ]
    message = only_message(request(urlencode(fields)))
    assert message.provider_message_id == "mms1"
    assert [m.url for m in message.media] == [
        "https://media.messagebird.com/1.jpg",
        "https://media.messagebird.com/3.gif",
        "https://media.messagebird.com/2.png",
    ]
    assert message.text == ""


def test_the_short_code_flow_reads_message_mid_and_receive_datetime() -> None:
    # courier's validReceiveShortCode: `message`/`mid` win over `body`/`id` when `shortcode` is set.
    body = (
        "shortcode=51515&message=Test+again&date=1690386569&date_utc=1690418969&reference=1"
        "&id=b6aae1b5dfb2427a8f7ea6a717ba31a9&mid=3b53c137369242138120d6b0b2122607&recipient=18005551515"
        "&originator=18885551515&body=Test+3&receive_datetime=20230727004929"
    )
    message = only_message(request(body))
    assert message.text == "Test again"
    assert message.provider_message_id == "3b53c137369242138120d6b0b2122607"
    assert message.business_number == "51515"
    assert message.received_at == datetime(2023, 7, 27, 0, 49, 29, tzinfo=UTC)


def test_date_utc_is_the_time_when_no_datetime_is_given() -> None:
    fields = {"id": "1", "recipient": "18005551515", "originator": "18885551515", "date_utc": "1690418969"}
    assert only_message(request(urlencode(fields))).received_at == datetime.fromtimestamp(1690418969, UTC)


def test_an_unreadable_time_is_the_receive_time() -> None:
    fields = {**FORWARD, "createdDatetime": "yesterday-ish"}
    assert only_message(request(urlencode(fields))).received_at == NOW


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"id": "1", "recipient": "18005551515"}, "originator is missing"),
        ({"recipient": "18005551515", "originator": "18885551515"}, "id is missing"),
        ({"id": "1", "originator": "18885551515"}, "recipient is missing"),
    ],
)
def test_malformed_forwards_get_a_reason(fields: dict[str, str], reason: str) -> None:
    with pytest.raises(MalformedPayload, match=reason):
        ADAPTER.parse(request(urlencode(fields)), settings())


def test_a_body_that_is_not_utf8_is_malformed() -> None:
    with pytest.raises(MalformedPayload, match="UTF-8"):
        ADAPTER.parse(request(b"originator=\xff\xfe"), settings())


def test_the_acknowledgement_is_a_plain_ok() -> None:
    ack = ADAPTER.acknowledge()
    assert (ack.status, ack.media_type, ack.body) == (200, "text/plain", b"OK")


# --- the Conversations API ---


def conversation_event(
    content: dict[str, Any] | None = None,
    *,
    kind: str = "text",
    platform: str = "whatsapp",
    event: str = "message.created",
    direction: str = "received",
    status: str = "received",
    display_name: str = "Ana Souza",
) -> dict[str, Any]:
    """developers.messagebird.com's message.created example, with the contact and the platform
    fields of the SDKs' Message type."""
    return {
        "type": event,
        "contact": {
            "id": "9354647c5a144d4b8e5e5b1f9cd5bc5b",
            "msisdn": 5511912345678,
            "displayName": display_name,
            "firstName": "",
            "lastName": "",
        },
        "conversation": {
            "contactId": "73afe0acee2127fd3e7d9a7dc622826e",
            "createdDatetime": "2019-02-28T17:39:52Z",
            "id": "f1e812e9afd6a875d813d51f45823edd",
            "lastReceivedDatetime": "2019-03-01T10:40:02.880881081Z",
            "status": "active",
        },
        "message": {
            "channelId": "2ceefea7c1b8c79673215c42c1a6b916",
            "content": content if content is not None else {"text": "Testing webhook functionality."},
            "conversationId": "f1e812e9afd6a875d813d51f45823edd",
            "createdDatetime": "2019-03-01T10:40:02.880881081Z",
            "updatedDatetime": "2019-03-01T10:40:05Z",
            "direction": direction,
            "from": "+5511912345678",
            "to": "+14155550100",
            "id": "93a1f7ba935c4ee298cb5ef952052ea7",
            "platform": platform,
            "status": status,
            "type": kind,
        },
    }


def test_an_sms_conversation_message_is_sms() -> None:
    assert only_message(json_request(conversation_event(platform="sms"))).channel is Channel.SMS


def test_the_contact_msisdn_is_the_sender_when_the_message_names_none() -> None:
    event = conversation_event()
    del event["message"]["from"]
    message = only_message(json_request(event))
    assert message.sender.raw == "5511912345678"
    assert message.sender.e164 == "+5511912345678"


def test_a_display_name_that_is_only_the_number_is_no_profile_name() -> None:
    assert only_message(json_request(conversation_event(display_name="5511912345678"))).profile_name is None


@pytest.mark.parametrize("kind", ["image", "video", "audio", "file"])
def test_conversation_media_are_attachments_with_their_caption_as_text(kind: str) -> None:
    url = f"https://media.messagebird.com/v1/media/{kind}1"
    event = conversation_event({kind: {"url": url, "caption": "look"}}, kind=kind)
    message = only_message(json_request(event))
    assert message.media == (Media(url=url),)
    assert message.text == "look"
    assert message.problem is None


def test_a_shared_location_becomes_text() -> None:
    event = conversation_event({"location": {"latitude": 52.37, "longitude": 4.89}}, kind="location")
    assert only_message(json_request(event)).text.startswith("Location: 52.37, 4.89")


def test_an_unsupported_content_type_is_kept_with_a_problem() -> None:
    message = only_message(json_request(conversation_event({"hsm": {}}, kind="hsm")))
    assert message.problem == "MessageBird message type 'hsm' is not supported"


def test_media_without_a_url_are_kept_with_a_problem() -> None:
    message = only_message(json_request(conversation_event({"image": {"caption": "x"}}, kind="image")))
    assert message.problem and "content.image.url is missing" in message.problem


@pytest.mark.parametrize(
    "event",
    [
        {"type": "conversation.created", "conversation": {"id": "c1"}},
        conversation_event(direction="sent", status="pending"),
        conversation_event(event="message.updated", direction="received"),
    ],
    ids=["conversation event", "our own outbound message", "a customer message updated"],
)
def test_other_conversation_events_carry_nothing(event: dict[str, Any]) -> None:
    content = ADAPTER.parse(json_request(event), settings())
    assert content.messages == () and content.statuses == ()


def test_a_sent_message_update_is_a_delivery_report_on_the_message_route() -> None:
    event = conversation_event(event="message.updated", direction="sent", status="delivered")
    [status] = ADAPTER.parse(json_request(event), settings()).statuses
    assert status.provider_message_id == "93a1f7ba935c4ee298cb5ef952052ea7"
    assert status.state is DeliveryState.DELIVERED
    assert status.recipient == "+14155550100"
    assert status.occurred_at == datetime(2019, 3, 1, 10, 40, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("reported", "state"),
    [("sent", DeliveryState.SENT), ("read", DeliveryState.READ), ("rejected", DeliveryState.FAILED)],
)
def test_conversation_reports_arrive_on_the_status_route(reported: str, state: DeliveryState) -> None:
    event = conversation_event(event="message.updated", direction="sent", status=reported)
    [status] = ADAPTER.parse_statuses(json_request(event, url=STATUS_URL), settings())
    assert status.state is state
    assert status.error_message == (reported if state is DeliveryState.FAILED else None)


@pytest.mark.parametrize("reported", ["pending", "accepted", "something_new"])
def test_conversation_reports_that_are_not_final_or_unknown_are_ignored(reported: str) -> None:
    event = conversation_event(event="message.updated", direction="sent", status=reported)
    assert ADAPTER.parse_statuses(json_request(event, url=STATUS_URL), settings()) == []


def test_the_status_route_refuses_inbound_messages_rather_than_lose_them() -> None:
    with pytest.raises(MalformedPayload, match="belong on /webhooks/messagebird"):
        ADAPTER.parse_statuses(json_request(conversation_event(), url=STATUS_URL), settings())


# --- Bird's Channels API ---


def bird_event(body: dict[str, Any] | None = None, *, event: str = "whatsapp.inbound", **payload: Any) -> Any:
    """Pipedream's captured whatsapp.inbound event; its payload is docs.bird.com's inbound message."""
    return {
        "service": "channels",
        "event": event,
        "payload": {
            "id": "404544c5-9920-45f1-8990-0855634ab7ac",
            "channelId": "52ad151f-f7b4-46f9-a5c6-d3318e650c84",
            "sender": {
                "contact": {
                    "id": "d4e8935a-5f48-45a5-95a5-ee7ba1e2c5b4",
                    "identifierKey": "phonenumber",
                    "identifierValue": "+3511111111",
                }
            },
            "receiver": {"connector": {"id": "60bf59d6-fc6f-4511-89c4-75d9127d7a7c", "identifierValue": ""}},
            "body": body or {"type": "text", "text": {"text": "Test"}},
            "meta": {"extraInformation": {"timestamp": "1702496037"}},
            "reference": "",
            "parts": [
                {
                    "platformReference": "wamid.HBgMMzUxOTE0MjYyNTM1FQIAEhggQUMzODQyNUY1MDlDQkU1QjJG"
                    "NTM3RDlENjg0OTJGMDgA"
                }
            ],
            "status": "delivered",
            "reason": "",
            "direction": "incoming",
            "lastStatusAt": "2023-12-13T19:34:01.858Z",
            "createdAt": "2023-12-13T19:34:01.858Z",
            "updatedAt": "2023-12-13T19:34:02.063Z",
            **payload,
        },
    }


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        pytest.param(
            conversation_event,
            {
                "provider_message_id": "93a1f7ba935c4ee298cb5ef952052ea7",
                "sender": ("+5511912345678", "phone:+5511912345678", IdentityKind.PHONE),
                "business_number": "2ceefea7c1b8c79673215c42c1a6b916",
                "text": "Testing webhook functionality.",
                "profile_name": "Ana Souza",
                "received_at": datetime(2019, 3, 1, 10, 40, 2, 880881, tzinfo=UTC),
            },
            id="conversations-api",
        ),
        pytest.param(
            bird_event,
            {
                "provider_message_id": "404544c5-9920-45f1-8990-0855634ab7ac",
                "sender": ("+3511111111", "phone:+3511111111", IdentityKind.PHONE),
                "business_number": "52ad151f-f7b4-46f9-a5c6-d3318e650c84",
                "text": "Test",
                "profile_name": None,
                "received_at": datetime(2023, 12, 13, 19, 34, 1, 858000, tzinfo=UTC),
            },
            id="bird-channels",
        ),
    ],
)
def test_a_whatsapp_message_parses_to_the_message_model(event: Any, expected: dict[str, Any]) -> None:
    """Both JSON generations (the Conversations API's and Bird's Channels API's) read the same."""
    message = only_message(json_request(event()))
    sender = (message.sender.raw, message.sender.key, message.sender.kind)
    read = {name: getattr(message, name) for name in expected if name != "sender"} | {"sender": sender}
    assert (message.channel, message.problem, read) == (Channel.WHATSAPP, None, expected)


def test_a_bird_sms_event_is_sms() -> None:
    assert only_message(json_request(bird_event(event="sms.inbound"))).channel is Channel.SMS


def test_bird_images_and_files_are_attachments() -> None:
    images = {"type": "image", "image": {"images": [{"mediaUrl": "https://media.api.bird.com/w/m/1"}]}}
    assert only_message(json_request(bird_event(images))).media == (
        Media(url="https://media.api.bird.com/w/m/1"),
    )
    pdf = {
        "contentType": "application/pdf",
        "mediaUrl": "https://media.api.bird.com/w/m/2",
        "filename": "a.pdf",
    }
    message = only_message(json_request(bird_event({"type": "file", "file": {"files": [pdf]}})))
    assert message.media == (Media(url=pdf["mediaUrl"], content_type="application/pdf", filename="a.pdf"),)


def test_an_unsupported_bird_body_is_kept_with_a_problem() -> None:
    message = only_message(json_request(bird_event({"type": "list", "list": {}})))
    assert message.problem == "Bird message type 'list' is not supported"


def test_a_bird_username_only_sender_is_known_by_its_bsuid() -> None:
    event = bird_event(sender={"contact": {"annotations": {"name": "Ana"}}})
    event["payload"]["meta"]["extraInformation"]["whatsappbsuid"] = "BR.1502576394655843"
    message = only_message(json_request(event))
    assert message.sender.kind is IdentityKind.WHATSAPP_USER
    assert message.sender.raw == "BR.1502576394655843"
    assert message.profile_name == "Ana"


def test_a_bird_bsuid_beside_a_number_is_an_alias() -> None:
    event = bird_event()
    event["payload"]["meta"]["extraInformation"]["whatsappbsuid"] = "PT.1502576394655843"
    [alias] = only_message(json_request(event)).aliases
    assert alias.key == "whatsapp_user:PT.1502576394655843"


@pytest.mark.parametrize("event", ["whatsapp.outbound", "channel.created"])
def test_other_bird_events_carry_nothing(event: str) -> None:
    assert ADAPTER.parse(json_request(bird_event(event=event)), settings()).messages == ()


# --- classic status reports ---


def status_request(status: str, **extra: str) -> WebhookRequest:
    query = shared_file("samples", "messagebird_sms_dlr_base_courier.query").read_text().strip()
    query += "&" + urlencode({"status": status, **extra})
    return request(url=f"{STATUS_URL}?{query}", method="GET", content_type="")


@pytest.mark.parametrize(
    ("reported", "state"),
    [("sent", DeliveryState.SENT), ("delivered", DeliveryState.DELIVERED), ("expired", DeliveryState.FAILED)],
)
def test_the_courier_status_report_parses(reported: str, state: DeliveryState) -> None:
    [status] = ADAPTER.parse_statuses(status_request(reported), settings())
    assert status.provider == "messagebird"
    assert status.provider_message_id == "b6aae1b5dfb2427a8f7ea6a717ba31a9"
    assert status.state is state
    assert status.recipient == "18885551515"
    assert status.occurred_at == datetime(2023, 7, 28, 17, 57, 12, tzinfo=UTC)


@pytest.mark.parametrize("reported", ["scheduled", "buffered"])
def test_reports_that_are_not_final_carry_nothing(reported: str) -> None:
    assert ADAPTER.parse_statuses(status_request(reported), settings()) == []


def test_a_failed_report_keeps_messagebirds_error_code_and_reason() -> None:
    req = status_request("delivery_failed", statusErrorCode="103", statusReason="unknown subscriber")
    [status] = ADAPTER.parse_statuses(req, settings())
    assert status.state is DeliveryState.FAILED
    assert (status.error_code, status.error_message) == ("103", "unknown subscriber")


def test_a_successful_report_carries_no_error() -> None:
    [status] = ADAPTER.parse_statuses(status_request("delivered", statusErrorCode="0"), settings())
    assert (status.error_code, status.error_message) == (None, None)


def test_an_undocumented_status_is_malformed() -> None:
    with pytest.raises(MalformedPayload, match="'expiryttd' is not one MessageBird documents"):
        ADAPTER.parse_statuses(status_request("expiryttd"), settings())


def test_a_report_without_an_id_is_malformed() -> None:
    with pytest.raises(MalformedPayload, match="id is missing"):
        ADAPTER.parse_statuses(
            request(url=f"{STATUS_URL}?status=sent", method="GET", content_type=""), settings()
        )


# --- garbage never escapes as anything but MalformedPayload ---


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xfe",
        b"{",
        b"[]",
        b"{}",
        b'{"type": 5}',
        b'{"type": "message.created", "message": []}',
        b'{"type": "message.created", "message": {"direction": "received", "id": {}, "content": []}}',
        b'{"type": "message.created", "message": {"direction": "received", "from": 1, "id": "m"}}',
        b'{"type": "message.updated", "message": {"direction": "sent", "status": ["sent"]}}',
        b'{"type": "message.updated", "message": {"direction": "sent", "status": "sent", "id": 7}}',
        b'{"service": "channels", "event": "sms.inbound", "payload": []}',
        b'{"service": "channels", "event": 5, "payload": {}}',
        b'{"service": "channels", "event": "sms.inbound", "payload": {"sender": "x", "body": 3}}',
        b'{"service": "channels", "event": "sms.inbound", "payload": {"sender": {"contact": '
        b'{"identifierValue": "+1"}}, "id": "i", "channelId": "c", '
        b'"body": {"type": "image", "image": {"images": [1, null]}}}}',
    ],
)
@pytest.mark.parametrize("route", ["parse", "parse_statuses"])
def test_garbage_is_answered_with_a_reason_or_accepted(body: bytes, route: str) -> None:
    req = request(body, content_type="application/json")
    try:
        getattr(ADAPTER, route)(req, settings())
    except MalformedPayload:
        pass


# --- media ---


def fetch(url: str, **fields: Any) -> httpx.Request:
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return httpx.Response(200, content=b"jpeg", headers={"content-type": "image/jpeg"})

    sink = memory_sink()
    with httpx.Client(transport=httpx.MockTransport(handler)) as http:
        fetched = ADAPTER.fetch_media(Media(url=url), settings(**fields), http, into=sink)
    assert (sink.file.getvalue(), fetched.content_type) == (b"jpeg", "image/jpeg")
    return seen[0]


@pytest.mark.parametrize(
    "url",
    [
        "https://messagebird.com/media/1",
        "https://media.messagebird.com/v1/media/1",
        "https://media.api.bird.com/workspaces/w/messages/m/media/1",
        "http://127.0.0.1:9000/media/1",  # MESSAGEBIRD_API_URL's host
    ],
)
def test_the_access_key_goes_to_messagebird_and_bird_hosts(url: str) -> None:
    sent = fetch(url, messagebird_access_key="live_key", messagebird_api_url="http://127.0.0.1:9000")
    assert sent.headers["authorization"] == "AccessKey live_key"


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example.com/media/1",
        "https://messagebird.com.evil.example/media/1",
        "https://notbird.com/media/1",
        "http://media.messagebird.com/v1/media/1",  # the key never travels in clear text
    ],
)
def test_media_elsewhere_are_never_fetched_so_the_access_key_never_goes_there(url: str) -> None:
    seen: list[httpx.Request] = []
    with httpx.Client(transport=httpx.MockTransport(lambda r: seen.append(r) or httpx.Response(200))) as http:
        with pytest.raises(MediaRefused):
            ADAPTER.fetch_media(
                Media(url=url), settings(messagebird_access_key="live_key"), http, into=memory_sink()
            )
    assert seen == []


def test_without_an_access_key_media_are_fetched_plainly() -> None:
    assert "authorization" not in fetch("https://media.messagebird.com/v1/media/1").headers


def test_media_without_a_url_cannot_be_fetched() -> None:
    with httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200))) as http:
        with pytest.raises(MalformedPayload, match="no URL"):
            ADAPTER.fetch_media(Media(provider_id="m1"), settings(), http, into=memory_sink())


# --- the simulator: MessageBird's side ---


def simulated(message: SimulatedMessage) -> tuple[MessageBirdAdapter, WebhookRequest]:
    sent = inbound(message, "https://bridge.example.com/", settings())
    headers = {name.lower(): value for name, value in sent.headers.items()}
    claims = jwt.decode(headers["messagebird-signature-jwt"], options={"verify_signature": False})
    adapter = MessageBirdAdapter(clock=lambda: float(claims["nbf"]))
    req = WebhookRequest(
        method=sent.method, url=sent.url, headers=headers, query="", body=sent.body, received_at=NOW
    )
    return adapter, req


def test_a_simulated_sms_verifies_and_parses() -> None:
    adapter, req = simulated(SimulatedMessage(sender="+14155550123", recipient="+14155550100", text="hi"))
    adapter.verify(req, settings())
    [message] = adapter.parse(req, settings()).messages
    assert (message.channel, message.sender.raw, message.sender.e164) == (
        Channel.SMS,
        "14155550123",
        "+14155550123",
    )
    assert (message.business_number, message.text) == ("14155550100", "hi")


def test_a_simulated_mms_carries_its_media() -> None:
    media = ("https://example.com/a.jpg", "https://example.com/b.png")
    adapter, req = simulated(SimulatedMessage(sender="+14155550123", recipient="+14155550100", media=media))
    adapter.verify(req, settings())
    [message] = adapter.parse(req, settings()).messages
    assert tuple(m.url for m in message.media) == media


def test_a_simulated_whatsapp_message_verifies_and_parses() -> None:
    sent = SimulatedMessage(
        sender="+5511912345678",
        recipient="+14155550100",
        text="oi",
        media=("https://example.com/doc.pdf",),
        whatsapp=True,
        profile_name="Ana Souza",
        message_id="wa1",
    )
    adapter, req = simulated(sent)
    adapter.verify(req, settings())
    [message] = adapter.parse(req, settings()).messages
    assert message.channel is Channel.WHATSAPP
    assert message.provider_message_id == "wa1"
    assert message.sender.e164 == "+5511912345678"
    assert (message.text, message.profile_name) == ("oi", "Ana Souza")
    assert message.media == (Media(url="https://example.com/doc.pdf"),)


def test_simulated_replies_to_one_number_share_a_business_channel() -> None:
    first = simulated(SimulatedMessage(sender="+1", recipient="+14155550100", whatsapp=True))[1]
    second = simulated(SimulatedMessage(sender="+2", recipient="+14155550100", whatsapp=True))[1]
    channel = [json.loads(req.body)["message"]["channelId"] for req in (first, second)]
    assert channel[0] == channel[1]


def test_a_simulated_token_expires_after_a_minute() -> None:
    _, req = simulated(SimulatedMessage(sender="+14155550123", recipient="+14155550100", text="hi"))
    claims = jwt.decode(req.headers["messagebird-signature-jwt"], options={"verify_signature": False})
    late = MessageBirdAdapter(clock=lambda: float(claims["nbf"]) + 62)
    with pytest.raises(SignatureInvalid, match="expired"):
        late.verify(req, settings())
