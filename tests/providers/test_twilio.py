"""Twilio: signatures as twilio-python computes them, and payloads as Twilio sends them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
from twilio.request_validator import RequestValidator

from bridge.core.errors import MalformedPayload, SignatureInvalid
from bridge.core.settings import Settings
from bridge.model.messages import Channel
from bridge.model.senders import IdentityKind
from bridge.providers.base import WebhookRequest
from bridge.providers.payloads import MAX_FORM_FIELDS
from bridge.providers.twilio.adapter import EMPTY_TWIML, TwilioAdapter
from tests.helpers import shared_file

ADAPTER = TwilioAdapter()
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def settings(token: str = "12345", **fields: object) -> Settings:
    return Settings(_env_file=None, twilio_auth_token=token, default_region="US", **fields)


def request(
    body: bytes | str,
    *,
    url: str = "https://bridge.example.com/webhooks/twilio",
    signature: str | None = None,
    token: str = "12345",
) -> WebhookRequest:
    raw = body.encode() if isinstance(body, str) else body
    headers = {"content-type": "application/x-www-form-urlencoded"}
    if signature is None:
        from bridge.providers.payloads import decode_form_body

        signature = RequestValidator(token).compute_signature(url, decode_form_body(raw))
    if signature:
        headers["x-twilio-signature"] = signature
    return WebhookRequest(method="POST", url=url, headers=headers, query="", body=raw, received_at=NOW)


# --- signatures: twilio-python's own test vectors ---


def vector() -> dict:
    return json.loads(shared_file("samples", "twilio_signature_vector.json").read_text())


def test_the_form_vector_verifies():
    case = vector()["form_case"]
    body = urlencode(case["params"])
    ADAPTER.verify(request(body, url=case["url"], signature=case["expected_signature"]), settings())


def test_the_form_vector_verifies_when_twilio_signed_the_url_with_its_default_port():
    case = vector()["form_case"]
    body = urlencode(case["params"])
    ADAPTER.verify(
        request(body, url=case["url"], signature=case["expected_signature_if_url_has_port_443"]), settings()
    )


def test_repeated_parameters_verify_as_twilio_signs_them():
    case = vector()["duplicate_params_case"]
    body = urlencode([tuple(pair) for pair in case["params_multi"]])
    ADAPTER.verify(request(body, url=case["url"], signature=case["expected_signature"]), settings())


def test_a_changed_parameter_is_refused():
    case = vector()["form_case"]
    params = dict(case["params"], Digits="9999")
    with pytest.raises(SignatureInvalid, match="does not match"):
        ADAPTER.verify(
            request(urlencode(params), url=case["url"], signature=case["expected_signature"]), settings()
        )


def test_a_different_url_is_refused():
    case = vector()["form_case"]
    with pytest.raises(SignatureInvalid):
        ADAPTER.verify(
            request(
                urlencode(case["params"]),
                url="https://evil.example.com/myapp.php?foo=1&bar=2",
                signature=case["expected_signature"],
            ),
            settings(),
        )


def test_a_missing_signature_is_refused():
    with pytest.raises(SignatureInvalid, match="missing"):
        ADAPTER.verify(request("From=%2B1", signature=""), settings())


def test_a_signature_made_with_another_token_is_refused():
    forged = request("From=%2B14155550123&Body=hi", token="not-the-token")
    with pytest.raises(SignatureInvalid):
        ADAPTER.verify(forged, settings())


def test_a_signed_form_with_as_many_fields_as_the_cap_allows_verifies():
    # The grouping the validator is given must sign exactly what Twilio signs, repeats included.
    body = urlencode(
        [("From", "+14155550123"), *((f"Field{i % 400}", str(i)) for i in range(MAX_FORM_FIELDS - 1))]
    )
    ADAPTER.verify(request(body), settings())


def test_a_form_with_more_fields_than_any_provider_sends_is_refused_before_the_signature():
    body = "&".join(f"f{i}=" for i in range(MAX_FORM_FIELDS + 1))
    with pytest.raises(MalformedPayload, match=f"more than {MAX_FORM_FIELDS} fields"):
        ADAPTER.verify(request(body, signature="AAAA"), settings())


def test_twilio_is_disabled_without_its_auth_token():
    reason = ADAPTER.disabled_reason(Settings(_env_file=None, twilio_auth_token=None))
    assert reason and "TWILIO_AUTH_TOKEN" in reason
    assert ADAPTER.disabled_reason(settings()) is None


# --- parsing: Twilio's real payloads ---


def test_a_whatsapp_message_keeps_the_prefixed_address_and_normalizes_the_identity():
    body = shared_file("samples", "twilio_whatsapp_inbound_text.form").read_bytes()
    [message] = ADAPTER.parse(request(body), settings()).messages
    assert message.channel is Channel.WHATSAPP
    assert message.sender.raw == "whatsapp:+31612345678"
    assert message.sender.e164 == "+31612345678"
    assert message.business_number == "whatsapp:+14123456789"
    assert message.text == "test"


def test_whatsapp_profile_name_and_wa_id():
    body = urlencode(
        {
            "MessageSid": "SM1",
            "From": "whatsapp:+5511912345678",
            "To": "whatsapp:+14155238886",
            "Body": "oi",
            "WaId": "5511912345678",
            "ProfileName": "Ana Souza",
            "NumMedia": "0",
        }
    )
    [message] = ADAPTER.parse(request(body), settings()).messages
    assert message.profile_name == "Ana Souza"
    assert message.sender.key == "phone:+5511912345678"


def test_a_whatsapp_username_only_sender_is_a_whatsapp_user():
    body = urlencode(
        {
            "MessageSid": "SM2",
            "From": "whatsapp:US.13491208655302741918",
            "To": "whatsapp:+14155238886",
            "Body": "hi",
            "NumMedia": "0",
        }
    )
    [message] = ADAPTER.parse(request(body), settings()).messages
    assert message.sender.kind is IdentityKind.WHATSAPP_USER
    assert message.sender.e164 is None


def test_mms_media_come_in_order_with_their_types():
    body = urlencode(
        {
            "MessageSid": "MM1",
            "From": "+14155550123",
            "To": "+14155550100",
            "Body": "",
            "NumMedia": "2",
            "MediaUrl0": "https://api.twilio.com/m/ME1",
            "MediaContentType0": "image/jpeg",
            "MediaUrl1": "https://api.twilio.com/m/ME2",
            "MediaContentType1": "image/png",
        }
    )
    [message] = ADAPTER.parse(request(body), settings()).messages
    assert [(m.url, m.content_type) for m in message.media] == [
        ("https://api.twilio.com/m/ME1", "image/jpeg"),
        ("https://api.twilio.com/m/ME2", "image/png"),
    ]
    assert message.intercom_content() == ("(sent 2 attachments)", [m.url for m in message.media])


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"From": "+14155550123", "To": "+1"}, "MessageSid is missing"),
        ({"MessageSid": "SM1", "To": "+1"}, "From is missing"),
        ({"MessageSid": "SM1", "From": "+14155550123"}, "To is missing"),
        (
            {"MessageSid": "SM1", "From": "+14155550123", "To": "+1", "NumMedia": "x"},
            "NumMedia is not a number",
        ),
        ({"MessageSid": "SM1", "From": "+14155550123", "To": "+1", "NumMedia": "1"}, "MediaUrl0 is missing"),
    ],
)
def test_malformed_bodies_get_a_reason(fields, reason):
    with pytest.raises(MalformedPayload, match=reason):
        ADAPTER.parse(request(urlencode(fields)), settings())


def test_a_body_that_is_not_utf8_is_malformed():
    with pytest.raises(MalformedPayload, match="UTF-8"):
        ADAPTER.parse(request(b"From=\xff\xfe", signature="x"), settings())


def test_the_acknowledgement_is_empty_twiml():
    ack = ADAPTER.acknowledge()
    assert ack.status == 200
    assert ack.media_type == "text/xml"
    assert ack.body == EMPTY_TWIML
