"""Replies through Vonage: which API carries a message, the SMS API's form and per-part statuses,
the Messages API's JSON and RFC 7807 errors, templates, failure reasons, and the same sends
against the stand-in over real HTTP."""

from __future__ import annotations

import base64
import json
from collections import deque
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from bridge.core.errors import (
    PartiallySent,
    ProviderRateLimited,
    ProviderRejected,
    ProviderUnavailable,
    RefusedPart,
)
from bridge.core.settings import Settings, get_settings
from bridge.model.messages import Channel
from bridge.model.outgoing import Draft, MediaKind, OutboundMessage, SendLimits, Template, plan
from bridge.providers.vonage import SMS_ERROR_CODES, VonageAdapter
from bridge.providers.vonage.failures import MESSAGES_ERRORS, SMS_DELIVERY_ADVICE, SMS_SEND_STATUSES
from bridge.providers.vonage.send import is_gsm7, problem_code, route_of
from tests.providers.support import NO_WAIT, Handler, send_over_http, send_with, vonage_problem

ADAPTER = VonageAdapter()
API_KEY, API_SECRET = "abcd1234", "test-vonage-api-secret"
SMS_URL, MESSAGES_URL = "https://rest.nexmo.com", "https://api.nexmo.com"
CUSTOMER, BUSINESS = "447700900001", "447700900000"
BSUID = "US.13491208655302741918"
IMAGE = "https://downloads.intercomcdn.com/i/o/1/abc/photo.jpg?expires=1"
VOICE = "https://downloads.intercomcdn.com/i/o/1/abc/note.mp3"
UUID = "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab"


def settings(**fields: Any) -> Settings:
    values: dict[str, Any] = {
        "vonage_api_key": API_KEY,
        "vonage_api_secret": API_SECRET,
        "vonage_api_url": SMS_URL,
        "vonage_messages_api_url": MESSAGES_URL,
    }
    return Settings(_env_file=None, **(values | fields))


def sms(text: str = "Hello there", *media: str, **fields: Any) -> OutboundMessage:
    values: dict[str, Any] = {"to": CUSTOMER, "sender": BUSINESS, "account": API_KEY}
    return OutboundMessage(channel=Channel.SMS, text=text, media_urls=media, **(values | fields))


def whatsapp(text: str = "Hello there", *media: str, **fields: Any) -> OutboundMessage:
    values: dict[str, Any] = {"to": CUSTOMER, "sender": BUSINESS}
    return OutboundMessage(channel=Channel.WHATSAPP, text=text, media_urls=media, **(values | fields))


def sms_accepted(*message_ids: str) -> httpx.Response:
    """The SMS API's documented answer ("Troubleshooting SMS"), one entry per SMS part."""
    parts = [
        {
            "to": CUSTOMER,
            "message-id": message_id,
            "status": "0",
            "remaining-balance": "15.53590000",
            "message-price": "0.03330000",
            "network": "23410",
        }
        for message_id in message_ids or ("0C000000217B7F02",)
    ]
    return httpx.Response(200, json={"message-count": str(len(parts)), "messages": parts})


def sms_partly_accepted(message_id: str, status: str, error_text: str) -> httpx.Response:
    """Part 1 of 2 accepted, part 2 refused: the Vonage python SDK's `send_sms_partial_error.json`
    (its `Sms.send` raises `PartialFailureError` on it)."""
    accepted = sms_accepted(message_id).json()["messages"]
    refused = {"status": status, "error-text": error_text}
    return httpx.Response(200, json={"message-count": "2", "messages": [*accepted, refused]})


def sms_status(status: str, error_text: str, *, http_status: int = 200) -> httpx.Response:
    body = {"message-count": "1", "messages": [{"status": status, "error-text": error_text}]}
    return httpx.Response(http_status, json=body)


def message_accepted(message_uuid: str = UUID) -> httpx.Response:
    return httpx.Response(202, json={"message_uuid": message_uuid})


class Vonage:
    """A MockTransport that records requests and answers from a script, then with a success."""

    def __init__(self, *answers: httpx.Response) -> None:
        self.answers = deque(answers)
        self.requests: list[httpx.Request] = []
        self.count = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.count += 1
        if self.answers:
            return self.answers.popleft()
        if request.url.path == "/sms/json":
            return sms_accepted(f"{self.count:016X}")
        return message_accepted(f"00000000-0000-4000-8000-{self.count:012d}")

    def form(self, index: int = 0) -> dict[str, str]:
        return dict(parse_qsl(self.requests[index].content.decode(), keep_blank_values=True))

    def json(self, index: int = 0) -> Any:
        return json.loads(self.requests[index].content)


def send(message: OutboundMessage, vonage: Handler, **setting: Any) -> str:
    return send_with(ADAPTER, message, vonage, settings(**setting))


# --- which API ---


@pytest.mark.parametrize(
    ("message", "route"),
    [
        (whatsapp(), "whatsapp"),
        (whatsapp("", IMAGE), "whatsapp"),
        (sms(), "sms-api"),  # the customer wrote through the SMS API (account = its api-key)
        (sms(account=None), "sms-api"),  # through the Messages API: the SMS API answers too
        (sms("", IMAGE), "mms"),  # media travel as media only by MMS, a Messages API channel
    ],
)
def test_route_follows_the_channel_and_the_attachments(message: OutboundMessage, route: str) -> None:
    assert route_of(message).name == route


@pytest.mark.parametrize(
    ("message", "limits"),
    [
        (whatsapp(), SendLimits(max_text=4096, media=True, max_media=1, max_caption=1024)),
        (sms(), SendLimits(max_text=1000, media=False)),
        (sms(account=None), SendLimits(max_text=1000, media=False)),
        (
            sms("", IMAGE),  # a caller that sends media itself: MMS, whose audio takes a caption
            SendLimits(
                max_text=1000,
                media=True,
                max_media=1,
                max_caption=3000,
                captioned=frozenset({MediaKind.IMAGE, MediaKind.VIDEO, MediaKind.AUDIO}),
            ),
        ),
    ],
)
def test_send_limits(message: OutboundMessage, limits: SendLimits) -> None:
    assert ADAPTER.send_limits(message) == limits


def test_an_sms_reply_links_its_attachments_and_a_whatsapp_one_attaches_them() -> None:
    draft = Draft(text="See this", attachment_urls=(IMAGE,))
    by_sms = plan(draft, ADAPTER.send_limits(sms()), sms(""))
    by_whatsapp = plan(draft, ADAPTER.send_limits(whatsapp()), whatsapp(""))
    assert [(m.text, m.media_urls) for m in by_sms] == [(f"See this\n{IMAGE}", ())]
    assert [(m.text, m.media_urls) for m in by_whatsapp] == [("See this", (IMAGE,))]


# --- the SMS API ---


def test_sms_api_request_is_the_documented_form() -> None:
    vonage = Vonage(sms_accepted("0C000000217B7F02"))
    assert send(sms("Hello there"), vonage) == "0C000000217B7F02"
    (request,) = vonage.requests
    assert request.method == "POST"
    assert str(request.url) == f"{SMS_URL}/sms/json"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert "authorization" not in request.headers
    assert vonage.form() == {
        "api_key": API_KEY,
        "api_secret": API_SECRET,
        "from": BUSINESS,
        "to": CUSTOMER,
        "text": "Hello there",
        "status-report-req": "1",
        "client-ref": "intercom-bridge",
    }


def test_sms_api_asks_for_delivery_reports_at_the_bridge_when_its_url_is_known() -> None:
    vonage = Vonage()
    send(sms(), vonage, public_url="https://bridge.example.com/")
    assert vonage.form()["callback"] == "https://bridge.example.com/webhooks/vonage/status"


def test_sms_api_sends_text_outside_gsm_7_as_unicode() -> None:
    vonage = Vonage()
    send(sms("Merci 🙏"), vonage)
    send(sms("Grüße, 5€ [ok]"), vonage)
    assert vonage.form(0)["type"] == "unicode"
    assert "type" not in vonage.form(1)


@pytest.mark.parametrize(
    ("text", "gsm"),
    [("Hello", True), ("Ça coûte 5€ ^^ {x}", False), ("Ça va? ÄÖÜ ß é è ~ | €", True), ("日本", False)],
)
def test_gsm_7_alphabet(text: str, gsm: bool) -> None:
    # "û" is not in GSM 03.38 (only ù): the SMS API would garble it as `text`.
    assert is_gsm7(text) is gsm


def test_sms_api_strips_a_plus_from_the_customer_number() -> None:
    vonage = Vonage()
    send(sms(to=f"+{CUSTOMER}"), vonage)
    assert vonage.form()["to"] == CUSTOMER


def test_sms_api_refuses_to_answer_an_alphanumeric_sender_without_calling_vonage() -> None:
    vonage = Vonage()
    with pytest.raises(ProviderRejected, match="not a phone number"):
        send(sms(to="MTN"), vonage)
    assert vonage.requests == []


def test_a_long_sms_is_identified_by_its_first_part() -> None:
    assert send(sms("word " * 150), Vonage(sms_accepted("PART1", "PART2", "PART3"))) == "PART1"


@pytest.mark.parametrize(
    ("status", "error_text"), [("1", "Throttled"), ("29", "Non White-listed Destination")]
)
def test_a_long_sms_refused_in_part_is_never_sent_again(status: str, error_text: str) -> None:
    # Retrying, even a transient refusal, would send part 1 to the customer a second time.
    vonage = Vonage(sms_partly_accepted("3295d748-4e14-4681-af78-166dca3c5aab", status, error_text))
    with pytest.raises(PartiallySent) as caught:
        send(sms("word " * 50), vonage)
    assert len(vonage.requests) == 1
    partial = caught.value
    assert (partial.provider, partial.message_ids, partial.total) == (
        "vonage",
        ("3295d748-4e14-4681-af78-166dca3c5aab",),
        2,
    )
    assert partial.refused == (RefusedPart(2, f"sms-api-{status}", error_text),)


def test_the_parts_sent_around_a_refused_one_are_all_kept() -> None:
    parts = [*sms_accepted("PART1").json()["messages"], {"status": "1", "error-text": "Throttled"}]
    parts.append(sms_accepted("PART3").json()["messages"][0])
    answer = httpx.Response(200, json={"message-count": "3", "messages": parts})
    with pytest.raises(PartiallySent) as caught:
        send(sms("word " * 80), Vonage(answer))
    assert (caught.value.message_ids, caught.value.total) == (("PART1", "PART3"), 3)
    assert [part.number for part in caught.value.refused] == [2]


def test_a_long_sms_refused_whole_with_a_transient_status_is_retried() -> None:
    refused = {"status": "1", "error-text": "Throttled"}
    vonage = Vonage(
        httpx.Response(200, json={"message-count": "2", "messages": [refused, refused]}),
        sms_accepted("PART1", "PART2"),
    )
    assert send(sms("word " * 50), vonage) == "PART1"
    assert len(vonage.requests) == 2


def test_sms_api_throttled_status_is_retried_like_a_429() -> None:
    vonage = Vonage(
        sms_status("1", "Throughput Rate Exceeded - please wait [ 30 ] and retry"), sms_accepted("ID1")
    )
    assert send(sms(), vonage) == "ID1"
    assert len(vonage.requests) == 2


def test_sms_api_throttled_until_attempts_run_out_is_rate_limited() -> None:
    vonage = Vonage(*[sms_status("1", "Throttled")] * NO_WAIT.max_attempts)
    with pytest.raises(ProviderRateLimited, match="status 1"):
        send(sms(), vonage)
    assert len(vonage.requests) == NO_WAIT.max_attempts


def test_sms_api_internal_error_status_until_attempts_run_out_is_unavailable() -> None:
    vonage = Vonage(*[sms_status("5", "Internal Error")] * NO_WAIT.max_attempts)
    with pytest.raises(ProviderUnavailable):
        send(sms(), vonage)


def test_sms_api_refusal_carries_the_status_as_its_code() -> None:
    vonage = Vonage(sms_status("29", "Non White-listed Destination - rejected"))
    with pytest.raises(ProviderRejected) as caught:
        send(sms(), vonage)
    assert caught.value.code == "sms-api-29"
    assert "Non White-listed Destination" in caught.value.message
    assert "whitelist" in caught.value.message
    assert len(vonage.requests) == 1  # permanent: not retried
    assert ADAPTER.failure_reason(caught.value.code) == SMS_SEND_STATUSES["29"].reason


def test_sms_api_bad_credentials_are_permanent() -> None:
    with pytest.raises(ProviderRejected) as caught:
        send(sms(), Vonage(sms_status("4", "Bad Credentials")))
    assert caught.value.code == "sms-api-4"
    assert "VONAGE_API_KEY" in (ADAPTER.failure_reason("sms-api-4") or "")


def test_sms_api_http_4xx_is_rejected_with_its_status() -> None:
    with pytest.raises(ProviderRejected) as caught:
        send(sms(), Vonage(sms_status("2", "Missing to param", http_status=400)))
    assert (caught.value.code, caught.value.status) == ("sms-api-2", 400)


def test_sms_api_answer_without_messages_is_refused_not_retried() -> None:
    vonage = Vonage(httpx.Response(200, text="<html>oops</html>"))
    with pytest.raises(ProviderRejected, match="not JSON"):
        send(sms(), vonage)
    assert len(vonage.requests) == 1


# --- the Messages API ---


def test_whatsapp_text_request_is_the_documented_json() -> None:
    vonage = Vonage(message_accepted(UUID))
    assert send(whatsapp("Hello there"), vonage) == UUID
    (request,) = vonage.requests
    assert request.method == "POST"
    assert str(request.url) == f"{MESSAGES_URL}/v1/messages"
    assert request.headers["content-type"] == "application/json"
    expected = base64.b64encode(f"{API_KEY}:{API_SECRET}".encode()).decode()
    assert request.headers["authorization"] == f"Basic {expected}"
    assert vonage.json() == {
        "message_type": "text",
        "text": "Hello there",
        "to": CUSTOMER,
        "from": BUSINESS,
        "channel": "whatsapp",
        "client_ref": "intercom-bridge",
    }


def test_whatsapp_to_a_username_user_goes_to_the_bsuid() -> None:
    vonage = Vonage()
    send(whatsapp(to=BSUID), vonage)
    assert vonage.json()["to"] == BSUID


def test_whatsapp_image_carries_the_text_as_caption() -> None:
    vonage = Vonage()
    send(whatsapp("See this", IMAGE), vonage)
    body = vonage.json()
    assert (body["message_type"], body["image"]) == ("image", {"url": IMAGE, "caption": "See this"})
    assert "text" not in body


@pytest.mark.parametrize(
    ("url", "message_type"),
    [
        (IMAGE, "image"),
        ("https://x.io/clip.MP4", "video"),
        (VOICE, "audio"),
        ("https://x.io/invoice.pdf", "file"),
        ("https://x.io/download?id=7", "file"),
    ],
)
def test_whatsapp_media_type_follows_the_extension(url: str, message_type: str) -> None:
    vonage = Vonage()
    send(whatsapp("", url), vonage)
    assert vonage.json()["message_type"] == message_type
    assert vonage.json()[message_type] == {"url": url}


def send_planned(draft: Draft, base: OutboundMessage, vonage: Handler) -> list[str]:
    """`draft` planned within the adapter's limits for `base`, each message sent: their ids."""
    return [send(message, vonage) for message in plan(draft, ADAPTER.send_limits(base), base)]


def test_whatsapp_audio_with_text_is_refused_without_calling_vonage() -> None:
    vonage = Vonage()
    with pytest.raises(ValueError, match="audio takes no caption"):
        send(whatsapp("Listen to this", VOICE), vonage)
    assert vonage.requests == []


def test_whatsapp_audio_cannot_carry_a_caption_so_the_text_is_planned_first() -> None:
    vonage = Vonage()
    ids = send_planned(Draft(text="Listen to this", attachment_urls=(VOICE,)), whatsapp(""), vonage)
    assert [vonage.json(i)["message_type"] for i in range(2)] == ["text", "audio"]
    assert vonage.json(0)["text"] == "Listen to this"
    assert vonage.json(1)["audio"] == {"url": VOICE}
    # One id per message: the text's reports are tracked as well as the attachment's.
    assert ids == ["00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"]


def test_text_longer_than_a_whatsapp_caption_is_refused_without_calling_vonage() -> None:
    vonage = Vonage()
    with pytest.raises(ValueError, match="1025-character text.*captions hold 1024"):
        send(whatsapp("x" * 1025, IMAGE), vonage)
    assert vonage.requests == []


def test_text_longer_than_a_whatsapp_caption_is_planned_first() -> None:
    vonage = Vonage()
    send_planned(Draft(text="x" * 1025, attachment_urls=(IMAGE,)), whatsapp(""), vonage)
    assert [vonage.json(i)["message_type"] for i in range(2)] == ["text", "image"]
    assert vonage.json(0)["text"] == "x" * 1025
    assert vonage.json(1)["image"] == {"url": IMAGE}


def test_several_attachments_in_one_message_are_refused_without_calling_vonage() -> None:
    vonage = Vonage()
    with pytest.raises(ValueError, match="2 attachments in one message"):
        send(whatsapp("", IMAGE, VOICE), vonage)
    assert vonage.requests == []


def test_sms_with_media_goes_as_mms() -> None:
    vonage = Vonage()
    send(sms("Your receipt", IMAGE), vonage)
    (request,) = vonage.requests
    assert str(request.url) == f"{MESSAGES_URL}/v1/messages"
    body = vonage.json()
    assert (body["channel"], body["message_type"]) == ("mms", "image")
    assert body["image"] == {"url": IMAGE, "caption": "Your receipt"}


def test_mms_audio_carries_the_text_as_caption() -> None:
    vonage = Vonage()
    send(sms("Listen", VOICE), vonage)
    assert vonage.json()["audio"] == {"url": VOICE, "caption": "Listen"}


@pytest.mark.parametrize(
    ("url", "message_type"),
    [("https://x.io/anim.gif", "image"), ("https://x.io/card.VCF", "vcard"), ("https://x.io/a.pdf", "file")],
)
def test_mms_sends_gifs_as_images_and_vcards_as_vcards(url: str, message_type: str) -> None:
    vonage = Vonage()
    send(sms("", url), vonage)
    assert vonage.json()["message_type"] == message_type
    assert vonage.json()[message_type] == {"url": url}


def test_mms_text_beside_a_vcard_is_refused_and_planned_first() -> None:
    card = "https://x.io/card.vcf"
    with pytest.raises(ValueError, match="document takes no caption"):
        send(sms("My card", card), Vonage())
    vonage = Vonage()
    draft = Draft(text="My card", attachment_urls=(card,))
    for message in plan(draft, ADAPTER.send_limits(sms("", card)), sms()):
        send(message, vonage)
    # The text alone is an SMS (the SMS API, by the route rule), then the card alone by MMS.
    assert [request.url.path for request in vonage.requests] == ["/sms/json", "/v1/messages"]
    assert vonage.form(0)["text"] == "My card"
    assert vonage.json(1)["vcard"] == {"url": card}


def test_whatsapp_template_replaces_the_text() -> None:
    vonage = Vonage()
    send(whatsapp("ignored", template=Template(name="order_update", language="pt_BR")), vonage)
    assert vonage.json() == {
        "message_type": "template",
        "to": CUSTOMER,
        "from": BUSINESS,
        "channel": "whatsapp",
        "client_ref": "intercom-bridge",
        "template": {"name": "order_update", "parameters": []},
        "whatsapp": {"policy": "deterministic", "locale": "pt_BR"},
    }


def test_a_template_over_sms_is_refused_without_calling_vonage() -> None:
    vonage = Vonage()
    with pytest.raises(ProviderRejected, match="templates are WhatsApp's"):
        send(sms(template=Template(name="order_update")), vonage)
    assert vonage.requests == []


def test_messages_api_problem_is_rejected_with_its_code() -> None:
    answer = vonage_problem(
        422, "messages-olympus#1120", "Invalid sender", "The `from` parameter is invalid."
    )
    with pytest.raises(ProviderRejected) as caught:
        send(whatsapp(), Vonage(answer))
    rejected = caught.value
    assert (rejected.code, rejected.status) == ("1120", 422)
    assert rejected.message == "The `from` parameter is invalid."


@pytest.mark.parametrize(
    ("problem_type", "code"),
    [
        ("https://developer.nexmo.com/api-errors/messages-olympus#1120", "1120"),
        ("https://developer.vonage.com/api-errors/messages#1150", "1150"),
        ("https://developer.vonage.com/api-errors#unauthorized", "unauthorized"),
        ("https://developer.vonage.com/api-errors/low-balance", "low-balance"),
        ("", None),
        (None, None),
    ],
)
def test_problem_code_is_the_type_fragment_or_last_segment(problem_type: object, code: str | None) -> None:
    assert problem_code(problem_type) == code


def test_messages_api_problem_without_type_uses_its_title() -> None:
    answer = httpx.Response(403, json={"title": "Forbidden", "detail": "Not allowed"})
    with pytest.raises(ProviderRejected) as caught:
        send(whatsapp(), Vonage(answer))
    assert caught.value.code == "Forbidden"


# --- failure reasons ---


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("1340", "template"),  # WhatsApp's 24-hour window
        ("1300", "not a user"),
        ("1240", "opted out"),
        ("1360", "expired"),
        ("unauthorized", "VONAGE_API_SECRET"),
        ("2", "Absent Subscriber - Temporary: the customer's phone was off"),  # a receipt's err-code
        ("7", "Handset Busy"),
        ("sms-api-7", "barred"),  # the same number from a refused send
        ("sms-api-9", "top it up"),
        (" 1340 ", "template"),
    ],
)
def test_failure_reason(code: str, words: str) -> None:
    assert words in (ADAPTER.failure_reason(code) or "")


def test_every_receipt_error_code_has_advice() -> None:
    assert SMS_DELIVERY_ADVICE.keys() == SMS_ERROR_CODES.keys()


def test_only_throttling_and_platform_trouble_are_transient() -> None:
    transient = {status for status, known in SMS_SEND_STATUSES.items() if known.retry}
    assert transient == {"1", "5", "10"}
    assert all(code.isdigit() or code.islower() for code in MESSAGES_ERRORS)


# --- against the stand-in, over real HTTP ---


def send_to_standin(message: OutboundMessage) -> str:
    return send_over_http(ADAPTER, message, get_settings())


def add_faults(standin: Any, *statuses: int) -> None:
    httpx.post(f"{standin.url}/_standin/faults/vonage", json={"statuses": list(statuses)}).raise_for_status()


def test_standin_long_sms_answers_every_part_and_records_the_message_once(providers_at_standin: Any) -> None:
    text = "word " * 50  # 250 GSM-7 characters: two parts of a concatenated SMS
    message_id = send_to_standin(sms(text))
    (sent,) = providers_at_standin.state.sends
    assert (sent.message_id, sent.text) == (message_id, text)


def test_standin_partial_failure_sends_the_first_part_once_and_is_not_retried(
    providers_at_standin: Any,
) -> None:
    add_faults(providers_at_standin, -1)  # the last part throttled, the others sent
    text = "word " * 50
    with pytest.raises(PartiallySent) as caught:
        send_to_standin(sms(text))
    (sent,) = providers_at_standin.state.sends
    assert sent.text == text[:153]
    assert caught.value.message_ids == (sent.message_id,)
    assert caught.value.refused == (RefusedPart(2, "sms-api-1", "Throttled"),)
    assert [r["path"] for r in providers_at_standin.state.requests] == ["/sms/json"]


def test_standin_whatsapp_media_travels_as_media(providers_at_standin: Any) -> None:
    message_id = send_to_standin(whatsapp("See this", IMAGE))
    (sent,) = providers_at_standin.state.sends
    assert (sent.message_id, sent.to, sent.sender) == (message_id, CUSTOMER, BUSINESS)
    assert (sent.text, sent.media) == ("See this", [IMAGE])
    assert sent.request["channel"] == "whatsapp"


def test_standin_mms_media_travels_as_media(providers_at_standin: Any) -> None:
    message_id = send_to_standin(sms("Your receipt", IMAGE))
    (sent,) = providers_at_standin.state.sends
    assert (sent.message_id, sent.text, sent.media) == (message_id, "Your receipt", [IMAGE])
    assert sent.request["channel"] == "mms"


def test_standin_whatsapp_template(providers_at_standin: Any) -> None:
    send_to_standin(whatsapp("", template=Template(name="order_update")))
    (sent,) = providers_at_standin.state.sends
    assert (sent.template, sent.text) == ("order_update", "")


# The ways the SMS API takes the account's key and secret (sms.yml `NewMessage`: form, JSON or
# query parameters), and the Vonage python SDK v4's: HTTP Basic, no key in the body (`Sms.send`
# posts with the `basic` auth type; vonage_http_client `Auth.create_basic_auth_string`).
SMS_FORM = {"from": BUSINESS, "to": CUSTOMER, "text": "Hello"}
SMS_AUTH_VARIANTS: dict[str, Callable[[str, str], dict[str, Any]]] = {
    "form": lambda key, secret: {"data": SMS_FORM | {"api_key": key, "api_secret": secret}},
    "json": lambda key, secret: {"json": SMS_FORM | {"api_key": key, "api_secret": secret}},
    "query": lambda key, secret: {"data": SMS_FORM, "params": {"api_key": key, "api_secret": secret}},
    "basic": lambda key, secret: {"data": SMS_FORM, "auth": (key, secret)},
    "basic, scheme in lower case": lambda key, secret: {
        "data": SMS_FORM,
        "headers": {"Authorization": "basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()},
    },
}


def post_sms(standin: Any, variant: str, key: str, secret: str) -> dict[str, Any]:
    """A one-part SMS posted to the stand-in with the credentials as `variant` carries them; the
    SMS API's one entry in its answer."""
    response = httpx.post(f"{standin.url}/sms/json", **SMS_AUTH_VARIANTS[variant](key, secret))
    assert response.status_code == 200
    [part] = response.json()["messages"]
    return dict(part)


@pytest.mark.parametrize("variant", SMS_AUTH_VARIANTS)
def test_standin_sms_api_takes_every_way_vonage_takes_the_credentials(
    providers_at_standin: Any, variant: str
) -> None:
    part = post_sms(providers_at_standin, variant, API_KEY, API_SECRET)
    assert part["status"] == "0"
    assert [sent.message_id for sent in providers_at_standin.state.sends] == [part["message-id"]]


@pytest.mark.parametrize("variant", SMS_AUTH_VARIANTS)
@pytest.mark.parametrize(("key", "secret"), [(API_KEY, "wrong-secret"), ("wrong123", API_SECRET), ("", "")])
def test_standin_sms_api_refuses_wrong_credentials_however_they_come(
    providers_at_standin: Any, variant: str, key: str, secret: str
) -> None:
    assert post_sms(providers_at_standin, variant, key, secret) == {
        "status": "4",
        "error-text": "Bad Credentials",
    }
    assert providers_at_standin.state.sends == []
