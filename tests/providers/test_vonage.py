"""Vonage: `sig` and Bearer JWT signatures as Vonage's SDKs compute them, payloads as Vonage sends them."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import urlencode, urlsplit

import httpx
import jwt
import pytest

from bridge.core.errors import (
    MalformedPayload,
    MediaRefused,
    RetryLater,
    SignatureInvalid,
    SignatureOutOfWindow,
    WebhookRejected,
)
from bridge.core.settings import Settings
from bridge.core.signing import sha256_hex
from bridge.dev.simulators.base import SimulatedMessage, SimulatedRequest
from bridge.dev.simulators.vonage import inbound, inbound_parts
from bridge.model.messages import Channel, DeliveryState, Fragment, Media
from bridge.model.senders import IdentityKind
from bridge.providers.base import WebhookRequest
from bridge.providers.vonage import (
    VonageAdapter,
    signature_method,
    sms_signature,
    verify_bearer,
    vonage_host,
)
from tests.helpers import shared_file
from tests.media_hosts import memory_sink

SECRET = "test-vonage-signature-secret-0123456789"  # 32+ bytes: PyJWT warns below that
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
URL = "https://bridge.example.com/webhooks/vonage"
CUSTOMER, BUSINESS = "447700900001", "447700900000"


def settings(secret: str = SECRET, method: str = "md5hash", **fields: object) -> Settings:
    return Settings(
        _env_file=None,
        vonage_signature_secret=secret,
        vonage_signature_method=method,
        default_region="US",
        **fields,
    )


def adapter(at: float | None = None) -> VonageAdapter:
    """The adapter with its clock at `at` (unix seconds), by default now."""
    return VonageAdapter(clock=(lambda: at) if at is not None else time.time)


def signed(params: dict[str, str], *, secret: str = SECRET, method: str = "md5hash") -> dict[str, str]:
    return {**params, "sig": sms_signature(params, secret=secret, method=method)}


def form(params: dict[str, str], *, query: str = "") -> WebhookRequest:
    return WebhookRequest(
        method="POST",
        url=URL + (f"?{query}" if query else ""),
        headers={"content-type": "application/x-www-form-urlencoded"},
        query=query,
        body=urlencode(params).encode(),
        received_at=NOW,
    )


def get(params: dict[str, str]) -> WebhookRequest:
    query = urlencode(params)
    return WebhookRequest(
        method="GET", url=f"{URL}?{query}", headers={}, query=query, body=b"", received_at=NOW
    )


def json_request(body: bytes | dict[str, object], *, token: str | None = None) -> WebhookRequest:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"content-type": "application/json"}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    return WebhookRequest(method="POST", url=URL, headers=headers, query="", body=raw, received_at=NOW)


def vonage_token(body: bytes, *, secret: str = SECRET, **claims: object) -> str:
    """A JWT as Vonage signs Messages API webhooks (its "Signed webhooks" sample claims)."""
    payload = {
        "iat": int(time.time()),
        "jti": "c5ba8f24-1a14-4c10-bfdf-3fbe8ce511b5",
        "iss": "Vonage",
        "payload_hash": sha256_hex(body),
        "api_key": "a1b2c3d",
        **claims,
    }
    return jwt.encode(payload, secret, algorithm="HS256")


def messages_request(payload: dict[str, object]) -> WebhookRequest:
    body = json.dumps(payload).encode()
    return json_request(body, token=vonage_token(body))


def webhook(simulated: SimulatedRequest) -> WebhookRequest:
    parts = urlsplit(simulated.url)
    return WebhookRequest(
        method=simulated.method,
        url=simulated.url,
        headers={key.lower(): value for key, value in simulated.headers.items()},
        query=parts.query,
        body=simulated.body,
        received_at=NOW,
    )


def sms_vector() -> dict:
    return json.loads(shared_file("samples", "vonage_sms_signature_vector.json").read_text())


def jwt_vector() -> dict:
    return json.loads(shared_file("samples", "vonage_messages_jwt_signature_vector.json").read_text())


# --- SMS API `sig`: the SDKs' own vectors ---

NODE_METHODS = {
    "md5hash": "md5hash",
    "md5hmac": "md5",
    "sha1hmac": "sha1",
    "sha256hmac": "sha256",
    "sha512hmac": "sha512",
}


@pytest.mark.parametrize("name", list(NODE_METHODS))
def test_the_node_sdk_vectors_verify_for_every_method(name):
    case = sms_vector()["node_sdk_vectors"]
    params = {**case["params"], "sig": case["expected"][name]}  # upper-case hex for the HMACs
    request = form(params)
    at = float(case["params"]["timestamp"])
    adapter(at).verify(request, settings(case["signatureSecret"], NODE_METHODS[name]))


@pytest.mark.parametrize("method", ["md5hash", "md5", "sha1", "sha256", "sha512"])
def test_the_python_v3_vectors_verify_for_every_method(method):
    case = sms_vector()["python_sdk_v3_vectors"]
    [label] = [label for label in case["expected"] if label.split()[0] == method]
    params = {**case["params"], "sig": case["expected"][label]}
    adapter(1461605396).verify(form(params), settings(case["signature_secret"], method))


def test_the_python_v3_check_signature_case_verifies():
    case = sms_vector()["python_sdk_v3_vectors"]
    check = case["check_signature_case"]
    assert check["valid"] is True
    adapter(1461605396).verify(get(check["params"]), settings(case["signature_secret"], "md5hash"))


def test_every_python_v4_case_verifies_as_an_hmac():
    # v4's `Auth.sign_params` always HMACs ("md5" is HMAC-MD5); one case checks the `&`/`=` -> `_`
    # rule, and the last is `check_signature`'s (`expected_sig`), the same scheme.
    vectors = sms_vector()["python_sdk_v4_vectors"]
    assert len(vectors["cases"]) == 4
    for case in vectors["cases"]:
        params = {key: str(value) for key, value in case["params"].items()}
        params["sig"] = case.get("expected") or case["expected_sig"]
        method = case["method"].split()[0]
        adapter(1234567890).verify(form(params), settings(vectors["signature_secret"], method))


def test_a_signature_is_compared_case_insensitively():
    case = sms_vector()["node_sdk_vectors"]
    params = {**case["params"], "sig": case["expected"]["sha256hmac"].lower()}
    adapter(1385047698).verify(form(params), settings(case["signatureSecret"], "sha256"))


def test_a_changed_parameter_is_refused():
    case = sms_vector()["node_sdk_vectors"]
    params = {**case["params"], "text": "Test again!", "sig": case["expected"]["md5hash"]}
    with pytest.raises(SignatureInvalid, match="sig does not match"):
        adapter(1385047698).verify(form(params), settings(case["signatureSecret"]))


def test_a_signature_made_with_another_method_is_refused():
    case = sms_vector()["node_sdk_vectors"]
    params = {**case["params"], "sig": case["expected"]["md5hash"]}
    with pytest.raises(SignatureInvalid):
        adapter(1385047698).verify(form(params), settings(case["signatureSecret"], "sha256"))


def test_a_signature_made_with_another_secret_is_refused():
    params = signed({"msisdn": CUSTOMER, "to": BUSINESS, "messageId": "1", "text": "hi"}, secret="not-ours")
    with pytest.raises(SignatureInvalid):
        adapter().verify(form(params), settings())


def test_a_missing_sig_is_refused():
    with pytest.raises(SignatureInvalid, match="sig parameter is missing"):
        adapter().verify(form({"msisdn": CUSTOMER, "to": BUSINESS, "messageId": "1"}), settings())


def test_a_parameter_added_to_the_query_of_a_signed_post_is_refused():
    params = signed({"msisdn": CUSTOMER, "to": BUSINESS, "messageId": "1", "text": "hi"})
    with pytest.raises(SignatureInvalid, match="'text' appears twice"):
        adapter().verify(form(params, query="text=transfer+the+money"), settings())


@pytest.mark.parametrize("offset", [-(26 * 3600 + 1), 26 * 3600 + 1])
def test_a_timestamp_beyond_vonages_retry_window_is_refused(offset):
    at = 1_800_000_000
    params = signed({"msisdn": CUSTOMER, "to": BUSINESS, "messageId": "1", "timestamp": str(at + offset)})
    with pytest.raises(SignatureInvalid, match="timestamp is more than 93600 seconds"):
        adapter(at).verify(form(params), settings())


def test_a_retry_a_day_after_the_first_attempt_is_accepted():
    # Vonage resends for 24 hours keeping the time it first tried: refusing would lose the SMS.
    at = 1_800_000_000
    params = signed({"msisdn": CUSTOMER, "to": BUSINESS, "messageId": "1", "timestamp": str(at - 24 * 3600)})
    adapter(at).verify(form(params), settings())


@pytest.mark.parametrize("value", ["yesterday", "nan", "inf", ""])
def test_a_timestamp_that_is_no_time_is_refused(value):
    params = signed({"msisdn": CUSTOMER, "to": BUSINESS, "messageId": "1", "timestamp": value})
    with pytest.raises(SignatureInvalid, match="timestamp"):
        adapter().verify(form(params), settings())


@pytest.mark.parametrize(
    ("written", "method"),
    [
        ("md5hash", "md5hash"),
        ("MD5 hash", "md5hash"),
        ("md5", "md5"),
        ("MD5 HMAC", "md5"),
        ("sha1hmac", "sha1"),
        ("SHA-256 HMAC", "sha256"),
        ("hmac-sha512", "sha512"),
        ("crc32", None),
    ],
)
def test_signature_methods_are_read_as_people_write_them(written, method):
    assert signature_method(written) == method


def test_vonage_is_disabled_without_its_signature_secret():
    reason = VonageAdapter().disabled_reason(Settings(_env_file=None, vonage_signature_secret=None))
    assert reason and "VONAGE_SIGNATURE_SECRET" in reason
    assert VonageAdapter().disabled_reason(settings()) is None


def test_an_unknown_signature_method_disables_vonage_with_the_reason():
    reason = VonageAdapter().disabled_reason(settings(method="crc32"))
    assert reason and "VONAGE_SIGNATURE_METHOD" in reason and "crc32" in reason


# --- Messages API: Bearer JWT ---


# The vector was issued in October 2023: checked with the clock at its `iat`, as it was made.
def test_the_generic_jwt_vector_verifies_with_its_secret():
    vector = jwt_vector()
    claims = verify_bearer(
        json_request(b"", token=vector["token"]),
        secret=vector["valid_signature_secret"],
        now=vector["decoded_claims"]["iat"],
        settings=settings(),
    )
    assert claims == vector["decoded_claims"]


# The vector's wrong secret is 4 bytes, which PyJWT warns about before refusing the signature.
def test_the_generic_jwt_vector_is_refused_with_another_secret():
    vector = jwt_vector()
    with pytest.raises(SignatureInvalid, match="not a valid signature"):
        verify_bearer(
            json_request(b"", token=vector["token"]),
            secret=vector["invalid_signature_secret"],
            now=vector["decoded_claims"]["iat"],
            settings=settings(),
        )


def test_the_generic_jwt_vector_does_not_cover_a_body():
    vector = jwt_vector()
    request = json_request(b'{"message_uuid":"x","channel":"sms"}', token=vector["token"])
    with pytest.raises(SignatureInvalid, match="no payload_hash"):
        verify_bearer(
            request,
            secret=vector["valid_signature_secret"],
            now=vector["decoded_claims"]["iat"],
            settings=settings(),
        )


def test_a_messages_api_request_signed_as_vonage_signs_verifies():
    adapter().verify(messages_request(whatsapp_text()), settings())


def test_a_messages_api_body_changed_after_signing_is_refused():
    request = messages_request(whatsapp_text())
    tampered = json_request(
        request.body.replace(b"Hello", b"Hallo"), token=request.headers["authorization"][7:]
    )
    with pytest.raises(SignatureInvalid, match="another body"):
        adapter().verify(tampered, settings())


def test_an_unsigned_messages_api_callback_asks_vonage_to_send_it_again():
    # Vonage may send a callback unsigned after an internal error, and resends it (signed) on a 5xx.
    with pytest.raises(RetryLater, match="unsigned"):
        adapter().verify(json_request(whatsapp_text()), settings())


def test_a_messages_api_request_with_basic_authorization_is_refused():
    request = json_request(whatsapp_text())
    basic = replace(request, headers={**request.headers, "authorization": "Basic YTpi"})
    with pytest.raises(SignatureInvalid, match="not a Bearer token"):
        adapter().verify(basic, settings())


def test_a_messages_api_token_signed_with_another_secret_is_refused():
    body = json.dumps(whatsapp_text()).encode()
    token = vonage_token(body, secret="not-our-signature-secret-0123456789")
    with pytest.raises(SignatureInvalid):
        adapter().verify(json_request(body, token=token), settings())


def test_an_unsigned_token_is_refused():
    body = json.dumps(whatsapp_text()).encode()
    token = jwt.encode({"payload_hash": sha256_hex(body)}, None, algorithm="none")
    with pytest.raises(SignatureInvalid):
        adapter().verify(json_request(body, token=token), settings())


def test_an_expired_token_is_refused():
    body = json.dumps(whatsapp_text()).encode()
    request = json_request(body, token=vonage_token(body, exp=1_700_000_000))
    with pytest.raises(SignatureInvalid, match="expired"):
        adapter(1_700_000_100).verify(request, settings())


@pytest.mark.parametrize(
    "issued_in",
    [-15 * 86400, 3600],
    ids=["15 days old: the ledger may have forgotten the message", "an hour ahead of our clock"],
)
def test_a_messages_api_token_issued_outside_the_window_is_refused(issued_in):
    now = NOW.timestamp()
    body = json.dumps(whatsapp_text()).encode()
    request = json_request(body, token=vonage_token(body, iat=int(now + issued_in)))
    with pytest.raises(SignatureOutOfWindow, match="iat"):
        adapter(now).verify(request, settings())


@pytest.mark.parametrize(
    "issued_in", [0, 120, -13 * 86400], ids=["now", "two minutes ahead (clock skew)", "13 days old"]
)
def test_a_messages_api_token_issued_within_the_window_verifies(issued_in):
    now = NOW.timestamp()
    body = json.dumps(whatsapp_text()).encode()
    adapter(now).verify(json_request(body, token=vonage_token(body, iat=int(now + issued_in))), settings())


def test_a_messages_api_token_without_iat_is_refused():
    body = json.dumps(whatsapp_text()).encode()
    token = jwt.encode({"payload_hash": sha256_hex(body), "jti": "x"}, SECRET, algorithm="HS256")
    with pytest.raises(SignatureInvalid, match="iat"):
        adapter(NOW.timestamp()).verify(json_request(body, token=token), settings())


# --- SMS API inbound ---


def test_the_node_sdk_sms_takes_its_time_from_message_timestamp():
    params = sms_vector()["node_sdk_vectors"]["params"]
    [message] = adapter().parse(form(params), settings()).messages
    assert message.received_at == datetime(2013, 11, 21, 15, 27, 30, tzinfo=UTC)
    assert message.sender.e164 == "+14843472194"
    assert message.business_number == "13239877404"
    assert message.provider_message_id == "020000001B0FE827"


def test_a_get_query_a_form_post_and_a_json_post_give_the_same_message():
    params = signed(
        {"msisdn": CUSTOMER, "to": BUSINESS, "messageId": "0A0000001", "text": "a&b=c", "type": "text"}
    )
    as_json = json_request(params)
    parsed = []
    for request in (get(params), form(params), as_json):
        adapter().verify(request, settings())
        parsed.append(adapter().parse(request, settings()).messages)
    assert parsed[0] == parsed[1] == parsed[2]
    assert parsed[0][0].text == "a&b=c"


def test_a_binary_sms_is_kept_with_a_problem():
    params = {
        "msisdn": CUSTOMER,
        "to": BUSINESS,
        "messageId": "1",
        "type": "binary",
        "data": "00ff",
        "udh": "050003",
    }
    [message] = adapter().parse(form(params), settings()).messages
    assert message.problem == "binary SMS is not supported"


def test_the_parts_of_a_long_sms_carry_their_fragment():
    message = SimulatedMessage(
        sender="+" + CUSTOMER, recipient="+" + BUSINESS, text="one two three four five six"
    )
    parts = inbound_parts(message, "https://bridge.example.com", settings(), parts=3)
    parsed = []
    for part in parts:
        request = webhook(part)
        adapter().verify(request, settings())
        [inbound_message] = adapter().parse(request, settings()).messages
        parsed.append(inbound_message)
    reference = parsed[0].fragment.group.split(":")[1]
    assert [m.fragment for m in parsed] == [
        Fragment(group=f"{CUSTOMER}:{reference}", index=index, total=3) for index in (1, 2, 3)
    ]
    assert "".join(m.text for m in parsed) == "one two three four five six"
    assert len({m.provider_message_id for m in parsed}) == 3


@pytest.mark.parametrize(
    ("part", "total"), [("0", "2"), ("3", "2"), ("1", "256"), ("1", "0"), ("-1", "2"), ("x", "2"), ("1", "")]
)
def test_concat_numbers_out_of_range_are_malformed(part, total):
    params = {
        "msisdn": CUSTOMER,
        "to": BUSINESS,
        "messageId": "1",
        "text": "x",
        "concat": "true",
        "concat-ref": "7",
        "concat-part": part,
        "concat-total": total,
    }
    with pytest.raises(MalformedPayload, match="concat-"):
        adapter().parse(form(params), settings())


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"to": BUSINESS, "messageId": "1", "text": "x"}, "msisdn is missing"),
        ({"msisdn": CUSTOMER, "messageId": "1", "text": "x"}, "to is missing"),
        ({"msisdn": CUSTOMER, "to": BUSINESS, "text": "x"}, "messageId is missing"),
        ({"msisdn": CUSTOMER, "to": BUSINESS, "messageId": "1", "concat": "true"}, "concat-ref is missing"),
    ],
)
def test_malformed_sms_get_a_reason(params, reason):
    with pytest.raises(MalformedPayload, match=reason):
        adapter().parse(form(params), settings())


def test_a_body_that_is_not_utf8_is_malformed():
    request = WebhookRequest(
        method="POST", url=URL, headers={}, query="", body=b"msisdn=\xff\xfe", received_at=NOW
    )
    with pytest.raises(MalformedPayload, match="UTF-8"):
        adapter().verify(request, settings())


def test_a_json_body_that_is_not_json_is_malformed():
    with pytest.raises(MalformedPayload, match="not valid JSON"):
        adapter().parse(json_request(b'{"message_uuid": '), settings())


# --- Messages API inbound ---


def whatsapp_text(**fields: object) -> dict[str, object]:
    return {
        "channel": "whatsapp",
        "message_uuid": "aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
        "to": BUSINESS,
        "from": CUSTOMER,
        "timestamp": "2020-01-01T14:00:00.000Z",
        "message_type": "text",
        "text": "Hello there",
        "context_status": "none",
        "profile": {"name": "Jane Smith"},
        **fields,
    }


def parse_one(payload: dict[str, object]):
    [message] = adapter().parse(messages_request(payload), settings()).messages
    return message


def test_a_whatsapp_text_parses_to_the_message_model():
    message = parse_one(whatsapp_text())
    assert message.provider == "vonage"
    assert message.channel is Channel.WHATSAPP
    assert message.provider_message_id == "aaaaaaaa-bbbb-cccc-dddd-0123456789ab"
    assert message.sender.raw == CUSTOMER
    assert message.sender.e164 == "+" + CUSTOMER
    assert message.business_number == BUSINESS
    assert message.text == "Hello there"
    assert message.profile_name == "Jane Smith"
    assert message.received_at == datetime(2020, 1, 1, 14, 0, tzinfo=UTC)
    assert message.problem is None


def test_an_sms_through_the_messages_api_parses_to_the_sms_channel():
    # The Java SDK's InboundMessageTest payload.
    message = parse_one(
        {
            "message_uuid": "aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
            "to": "447700900000",
            "from": "447700900001",
            "timestamp": "2020-01-01T15:43:21Z",
            "channel": "sms",
            "message_type": "text",
            "text": "Hello, world!",
            "usage": {"currency": "EUR", "price": "0.0333"},
            "sms": {"num_messages": "2", "keyword": "HELLO"},
        }
    )
    assert message.channel is Channel.SMS
    assert message.text == "Hello, world!"
    assert message.profile_name is None


def test_a_whatsapp_image_keeps_its_url_and_caption():
    url = "https://api-us.nexmo.com/v3/media/1b456509-974c-458b-aafa-45fc48a4d976"
    message = parse_one(whatsapp_text(message_type="image", image={"url": url, "caption": "the damage"}))
    assert message.text == "the damage"
    assert message.media == (Media(url=url, content_type=None),)
    assert message.intercom_content() == ("the damage", [url])


def test_a_file_keeps_its_name_and_guessed_type():
    url = "https://api-us.nexmo.com/v3/media/0f1e"
    message = parse_one(whatsapp_text(message_type="file", file={"url": url, "name": "invoice.pdf"}))
    assert message.media == (Media(url=url, content_type="application/pdf", filename="invoice.pdf"),)


@pytest.mark.parametrize(
    ("fields", "text", "media"),
    [
        (
            {"message_type": "audio", "audio": {"url": "https://x.nexmo.com/a.mp3"}},
            "",
            [("https://x.nexmo.com/a.mp3", "audio/mpeg")],
        ),
        (
            {"message_type": "video", "video": {"url": "https://x.nexmo.com/v"}},
            "",
            [("https://x.nexmo.com/v", None)],
        ),
        (
            {"message_type": "sticker", "sticker": {"url": "https://x.nexmo.com/s"}},
            "",
            [("https://x.nexmo.com/s", "image/webp")],
        ),
        (
            {"message_type": "vcard", "vcard": {"url": "https://x.nexmo.com/c"}},
            "",
            [("https://x.nexmo.com/c", "text/vcard")],
        ),
        (
            {"message_type": "location", "location": {"lat": 51.5, "long": -0.12, "name": "Office"}},
            "Office\nLocation: 51.5, -0.12 https://maps.google.com/?q=51.5,-0.12",
            [],
        ),
        ({"message_type": "reply", "reply": {"id": "row1", "title": "Option 1"}}, "Option 1", []),
        ({"message_type": "button", "button": {"text": "Yes please", "payload": {}}}, "Yes please", []),
    ],
)
def test_each_message_type_becomes_readable_text_and_media(fields, text, media):
    message = parse_one(whatsapp_text(text=None, **fields))
    assert message.text == text
    assert [(m.url, m.content_type) for m in message.media] == media
    assert message.problem is None


def test_an_mms_with_several_attachments_keeps_them_all():
    content = [
        {"type": "image", "url": "https://x.nexmo.com/1.png", "caption": "front"},
        {"type": "image", "url": "https://x.nexmo.com/2.png"},
    ]
    message = parse_one(whatsapp_text(channel="mms", message_type="image", text=None, content=content))
    assert message.channel is Channel.SMS
    assert [m.url for m in message.media] == ["https://x.nexmo.com/1.png", "https://x.nexmo.com/2.png"]
    assert message.text == "front"


def test_an_unsupported_message_type_is_kept_with_a_problem():
    message = parse_one(whatsapp_text(message_type="unsupported", text=None))
    assert message.problem and "unsupported" in message.problem


def test_an_unknown_message_type_is_kept_with_a_problem():
    message = parse_one(whatsapp_text(message_type="order", text=None, order={"catalog_id": "1"}))
    assert message.problem == "message_type order is not supported"


@pytest.mark.parametrize("channel", ["viber_service", "messenger", "rcs"])
def test_an_unsupported_channel_is_kept_with_a_problem(channel):
    message = parse_one(whatsapp_text(channel=channel))
    assert message.problem == f"channel {channel} is not supported"
    assert message.text == "Hello there"


def test_a_whatsapp_username_only_sender_is_a_whatsapp_user():
    message = parse_one(whatsapp_text(**{"from": "US.13491208655302741918"}))
    assert message.sender.kind is IdentityKind.WHATSAPP_USER
    assert message.sender.raw == "US.13491208655302741918"


def test_the_whatsapp_sender_ids_become_aliases():
    sender = {"wa_id": CUSTOMER, "user_id": "US.13491208655302741918", "parent_user_id": "US.ENT.99"}
    message = parse_one(whatsapp_text(whatsapp={"sender": sender}))
    assert [(alias.kind, alias.raw) for alias in message.aliases] == [
        (IdentityKind.WHATSAPP_USER, "US.13491208655302741918"),
        (IdentityKind.WHATSAPP_USER, "US.ENT.99"),
    ]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"from": None}, "from is missing"),
        ({"to": 447700900000}, "to must be a string"),
        ({"message_uuid": ""}, "message_uuid is missing"),
        ({"message_type": "image", "image": {"caption": "x"}}, "image.url is missing"),
        ({"message_type": "image"}, "image is missing"),
        ({"message_type": "text", "text": 5}, "text is missing"),
        ({"message_type": "location", "location": {"lat": "north", "long": 1}}, "location.lat is missing"),
        ({"message_type": "location", "location": {"lat": 1e400, "long": 1}}, "location.lat is missing"),
        ({"message_type": "reply", "reply": {}}, "reply.title is missing"),
        ({"message_type": "button", "button": {"text": ""}}, "button.text is missing"),
        ({"content": ["https://x.nexmo.com/1.png"]}, r"content\[0\] is not an object"),
        ({"message_type": None}, "message_type is missing"),
    ],
)
def test_malformed_messages_api_payloads_get_a_reason(fields, reason):
    with pytest.raises(MalformedPayload, match=reason):
        adapter().parse(messages_request(whatsapp_text(**fields)), settings())


# --- delivery reports ---


def test_the_courier_sms_receipt_is_delivered():
    query = shared_file("samples", "vonage_sms_dlr_delivered_courier.query").read_text().strip()
    request = WebhookRequest(
        method="GET", url=f"{URL}/status?{query}", headers={}, query=query, body=b"", received_at=NOW
    )
    [status] = adapter().parse_statuses(request, settings())
    assert status.provider == "vonage"
    assert status.provider_message_id == "external1"
    assert status.state is DeliveryState.DELIVERED
    assert status.occurred_at == NOW
    assert status.error_code is None
    assert status.error_message is None


def test_a_failed_sms_receipt_carries_the_error_code_and_its_meaning():
    params = {
        "msisdn": "447700900000",
        "to": "AcmeInc",
        "messageId": "0B00000127FDBC63",
        "status": "failed",
        "err-code": "6",
        "scts": "1810251310",
        "message-timestamp": "2018-10-25 12:10:29",
    }
    [status] = adapter().parse_statuses(form(params), settings())
    assert status.state is DeliveryState.FAILED
    assert status.recipient == "447700900000"
    assert status.error_code == "6"
    assert status.error_message == "Anti-Spam Rejection"
    assert status.occurred_at == datetime(2018, 10, 25, 12, 10, 29, tzinfo=UTC)


@pytest.mark.parametrize("reported", ["accepted", "buffered", "unknown"])
def test_sms_receipts_that_are_not_final_report_nothing(reported):
    assert adapter().parse_statuses(form({"messageId": "1", "status": reported}), settings()) == []


@pytest.mark.parametrize(
    ("reported", "state"), [("expired", DeliveryState.FAILED), ("rejected", DeliveryState.FAILED)]
)
def test_expired_and_rejected_sms_receipts_are_failures(reported, state):
    [status] = adapter().parse_statuses(
        form({"messageId": "1", "status": reported, "err-code": "99"}), settings()
    )
    assert status.state is state
    assert status.error_code == "99"
    assert status.error_message == reported


def test_an_sms_receipt_with_an_undocumented_status_is_malformed():
    with pytest.raises(MalformedPayload, match="status 'lost'"):
        adapter().parse_statuses(form({"messageId": "1", "status": "lost"}), settings())


def test_an_inbound_sms_sent_to_the_status_route_is_malformed():
    with pytest.raises(MalformedPayload, match="status is missing"):
        adapter().parse_statuses(
            form({"msisdn": CUSTOMER, "to": BUSINESS, "messageId": "1", "text": "x"}), settings()
        )


def test_an_sms_receipt_sent_to_the_inbound_route_is_kept_as_a_status():
    content = adapter().parse(
        form({"msisdn": CUSTOMER, "messageId": "1", "status": "delivered", "err-code": "0"}), settings()
    )
    assert content.messages == ()
    assert [status.state for status in content.statuses] == [DeliveryState.DELIVERED]


def messages_status(**fields: object) -> dict[str, object]:
    return {
        "message_uuid": "aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
        "to": CUSTOMER,
        "from": BUSINESS,
        "timestamp": "2020-01-01T14:00:03.010Z",
        "status": "delivered",
        "channel": "whatsapp",
        **fields,
    }


@pytest.mark.parametrize(
    ("reported", "state"),
    [
        ("submitted", DeliveryState.SENT),
        ("delivered", DeliveryState.DELIVERED),
        ("read", DeliveryState.READ),
        ("rejected", DeliveryState.FAILED),
        ("undeliverable", DeliveryState.FAILED),
    ],
)
def test_messages_api_statuses_map_to_the_bridge_states(reported, state):
    [status] = adapter().parse_statuses(messages_request(messages_status(status=reported)), settings())
    assert status.state is state
    assert status.provider_message_id == "aaaaaaaa-bbbb-cccc-dddd-0123456789ab"
    assert status.recipient == CUSTOMER
    assert status.occurred_at == datetime(2020, 1, 1, 14, 0, 3, 10000, tzinfo=UTC)


def test_a_rejected_messages_api_status_carries_vonage_error():
    error = {
        "type": "https://developer.nexmo.com/api-errors/messages-olympus#1340",
        "title": 1340,
        "detail": "Outside the allowed window",
        "instance": "bf0ca0bf927b3b52e3cb03217e1a1ddf",
    }
    [status] = adapter().parse_statuses(
        messages_request(messages_status(status="rejected", error=error)), settings()
    )
    assert status.error_code == "1340"
    assert status.error_message == "Outside the allowed window"


def test_a_messages_api_error_code_falls_back_to_its_type_link():
    error = {"type": "https://developer.nexmo.com/api-errors/messages-olympus#1000"}
    [status] = adapter().parse_statuses(
        messages_request(messages_status(status="rejected", error=error)), settings()
    )
    assert status.error_code == "1000"
    assert status.error_message == "rejected"


def test_an_undocumented_messages_api_status_is_malformed():
    with pytest.raises(MalformedPayload, match="status 'lost'"):
        adapter().parse_statuses(messages_request(messages_status(status="lost")), settings())


def test_a_messages_api_status_sent_to_the_inbound_route_is_kept_as_a_status():
    content = adapter().parse(messages_request(messages_status(status="read")), settings())
    assert content.messages == ()
    assert [status.state for status in content.statuses] == [DeliveryState.READ]


# --- media ---


def test_media_are_fetched_without_credentials():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b"\xff\xd8jpeg", headers={"content-type": "image/jpeg"})

    media = Media(url="https://api-us.nexmo.com/v3/media/1b45")
    sink = memory_sink()
    with httpx.Client(transport=httpx.MockTransport(handler)) as http:
        fetched = VonageAdapter().fetch_media(
            media, settings(vonage_api_key="key", vonage_api_secret="secret"), http, into=sink
        )
    assert sink.file.getvalue() == b"\xff\xd8jpeg"
    assert fetched.content_type == "image/jpeg"
    assert "authorization" not in seen[0].headers


def test_a_vonage_host_refusing_media_is_logged_as_secure_inbound_media(caplog):
    media = Media(url="https://api-eu.vonage.com/v3/media/1b45")
    with httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(401))) as http:
        with pytest.raises(httpx.HTTPStatusError):
            VonageAdapter().fetch_media(media, settings(), http, into=memory_sink())
    assert "Secure Inbound Media" in caplog.text


def test_media_on_another_host_are_never_fetched(caplog):
    seen: list[httpx.Request] = []
    media = Media(url="https://cdn.example.com/1.png")
    with httpx.Client(transport=httpx.MockTransport(lambda r: seen.append(r) or httpx.Response(403))) as http:
        with pytest.raises(MediaRefused, match="not on vonage's media hosts"):
            VonageAdapter().fetch_media(media, settings(), http, into=memory_sink())
    assert seen == []
    assert "Secure Inbound Media" not in caplog.text


def test_media_without_a_url_is_malformed():
    with pytest.raises(MalformedPayload, match="no URL"):
        VonageAdapter().fetch_media(Media(provider_id="x"), settings(), httpx.Client(), into=memory_sink())


@pytest.mark.parametrize(
    ("url", "trusted"),
    [
        ("https://api-us.nexmo.com/v3/media/1", True),
        ("https://nexmo.com/x", True),
        ("https://api.vonage.com/x", True),
        ("https://vonage.test.example/x", True),  # VONAGE_API_URL's host
        ("https://evilnexmo.com/x", False),
        ("https://nexmo.com.evil.example/x", False),
        ("http://api.nexmo.com/x", False),  # credentials would travel in the clear
    ],
)
def test_vonage_hosts_are_nexmo_vonage_and_the_configured_api(url, trusted):
    assert vonage_host(url, settings(vonage_api_url="https://vonage.test.example")) is trusted


# --- the simulator, round trip ---


@pytest.mark.parametrize("method", ["md5hash", "md5", "sha1", "sha256", "sha512"])
def test_a_simulated_sms_verifies_and_parses_with_each_signature_method(method):
    configured = settings(method=method, vonage_api_key="a1b2c3d")
    message = SimulatedMessage(
        sender="+" + CUSTOMER, recipient="+" + BUSINESS, text="Hi & hello = é", message_id="0A01"
    )
    request = webhook(inbound(message, "https://bridge.example.com/", configured))
    assert request.url == URL
    adapter().verify(request, configured)
    [parsed] = adapter().parse(request, configured).messages
    assert (parsed.sender.e164, parsed.business_number, parsed.text) == (
        "+" + CUSTOMER,
        BUSINESS,
        "Hi & hello = é",
    )
    assert parsed.provider_message_id == "0A01"
    assert parsed.account == "a1b2c3d"


def test_a_simulated_sms_changed_after_signing_is_refused():
    message = SimulatedMessage(sender="+" + CUSTOMER, recipient="+" + BUSINESS, text="hi")
    request = webhook(inbound(message, "https://bridge.example.com", settings()))
    tampered = replace(request, body=request.body.replace(b"text=hi", b"text=ho"))
    with pytest.raises(SignatureInvalid):
        adapter().verify(tampered, settings())


def test_a_simulated_whatsapp_message_verifies_and_parses():
    message = SimulatedMessage(
        sender="+" + CUSTOMER, recipient="+" + BUSINESS, text="hola", whatsapp=True, profile_name="Ana"
    )
    request = webhook(inbound(message, "https://bridge.example.com", settings()))
    claims = jwt.decode(request.headers["authorization"][7:], SECRET, algorithms=["HS256"])
    assert claims["payload_hash"] == sha256_hex(request.body)
    assert {"iat", "jti", "api_key"} <= set(claims)
    adapter().verify(request, settings())
    [parsed] = adapter().parse(request, settings()).messages
    assert (parsed.channel, parsed.sender.raw, parsed.text, parsed.profile_name) == (
        Channel.WHATSAPP,
        CUSTOMER,
        "hola",
        "Ana",
    )


def test_a_simulated_mms_carries_its_image():
    message = SimulatedMessage(
        sender="+" + CUSTOMER, recipient="+" + BUSINESS, text="look", media=("https://m.example.com/a.png",)
    )
    request = webhook(inbound(message, "https://bridge.example.com", settings()))
    adapter().verify(request, settings())
    [parsed] = adapter().parse(request, settings()).messages
    assert parsed.channel is Channel.SMS
    assert parsed.media == (Media(url="https://m.example.com/a.png", content_type="image/png"),)
    assert parsed.text == "look"


# --- garbage ---


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b"[1, 2]"),
        ("application/json", b'{"message_uuid": 1, "channel": []}'),
        ("application/json", b"\xff\xfe"),
        ("", b"{not json"),
        ("application/x-www-form-urlencoded", b"%%%&&&==="),
        ("multipart/form-data", b"--x\r\n"),
        ("text/plain", b"\x00\x01\x02"),
    ],
)
def test_garbage_is_refused_with_a_webhook_error(content_type, body):
    request = WebhookRequest(
        method="POST",
        url=URL,
        headers={"content-type": content_type} if content_type else {},
        query="",
        body=body,
        received_at=NOW,
    )
    for step in (adapter().verify, adapter().parse, adapter().parse_statuses):
        with pytest.raises(WebhookRejected):
            step(request, settings())
