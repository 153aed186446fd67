"""Replies through Meta's Cloud API: requests as Meta documents them (text, media, BSUID
recipients, templates), its Graph errors and throttles, the failure-reason table, and the same
sends against the stand-in over real HTTP."""

from __future__ import annotations

import json
from collections import deque
from typing import Any

import httpx
import pytest

from bridge.core.errors import ConfigurationError, ProviderRateLimited, ProviderRejected
from bridge.core.settings import Settings, get_settings
from bridge.dev.standins import StoredMedia
from bridge.model.messages import Channel, Media
from bridge.model.outgoing import (
    Draft,
    HeaderKind,
    MediaKind,
    OutboundMessage,
    SendLimits,
    Template,
    TemplateHeader,
    plan,
)
from bridge.providers.whatsapp import FAILURE_REASONS, THROTTLING_CODES, WhatsAppAdapter
from tests.media_hosts import memory_sink
from tests.providers.support import graph_error, send_over_http, send_with

ADAPTER = WhatsAppAdapter()
TOKEN = "test-access-token"
API_URL = "https://graph.facebook.com/v23.0"
PHONE_NUMBER_ID = "106540352242922"
CUSTOMER = "16505551234"
BSUID = "US.13491208655302741918"
IMAGE = "https://downloads.intercomcdn.com/i/o/1/abc/photo.jpg?expires=1"


def settings(**fields: Any) -> Settings:
    values: dict[str, Any] = {"whatsapp_access_token": TOKEN, "whatsapp_api_url": API_URL}
    return Settings(_env_file=None, **(values | fields))


def reply(text: str = "", *media: str, to: str = CUSTOMER, **fields: Any) -> OutboundMessage:
    values: dict[str, Any] = {"sender": PHONE_NUMBER_ID} | fields
    return OutboundMessage(channel=Channel.WHATSAPP, to=to, text=text, media_urls=media, **values)


def accepted(message_id: str = "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI") -> httpx.Response:
    """Meta's documented success answer."""
    return httpx.Response(
        200,
        json={
            "messaging_product": "whatsapp",
            "contacts": [{"input": CUSTOMER, "wa_id": CUSTOMER}],
            "messages": [{"id": message_id}],
        },
    )


class Meta:
    """A MockTransport that records requests and answers from a script (then `accepted`)."""

    def __init__(self, *answers: httpx.Response) -> None:
        self.answers = deque(answers)
        self.requests: list[httpx.Request] = []
        self.ids = iter(f"wamid.{n}" for n in range(1, 100))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answers.popleft() if self.answers else accepted(next(self.ids))

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(request.content) for request in self.requests]

    def send(self, message: OutboundMessage, config: Settings | None = None) -> str:
        return send_with(ADAPTER, message, self, config or settings())


# --- the request ------------------------------------------------------------------------------


def test_a_text_reply_is_posted_to_the_business_numbers_messages_endpoint():
    meta = Meta()
    message_id = meta.send(reply("Your order shipped"))
    [request] = meta.requests
    assert request.method == "POST"
    assert str(request.url) == f"{API_URL}/{PHONE_NUMBER_ID}/messages"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": CUSTOMER,
        "type": "text",
        "text": {"body": "Your order shipped", "preview_url": True},
    }
    assert message_id == "wamid.1"


def test_the_recipient_is_sent_exactly_as_meta_gave_it():
    meta = Meta()
    meta.send(reply("hi", to="5491155551234"))  # Argentina without the 9 Meta adds or drops
    assert meta.bodies()[0]["to"] == "5491155551234"


@pytest.mark.parametrize("bsuid", [BSUID, "BR.ENT.7ab3Cx91"])
def test_a_username_customer_is_addressed_by_recipient_not_to(bsuid: str):
    meta = Meta()
    meta.send(reply("hi", to=bsuid))
    [body] = meta.bodies()
    assert body["recipient"] == bsuid
    assert "to" not in body


# --- media ------------------------------------------------------------------------------------


def test_an_image_carries_a_short_text_as_its_caption():
    meta = Meta()
    meta.send(reply("Here is the label", IMAGE))
    [body] = meta.bodies()
    assert body["type"] == "image"
    assert body["image"] == {"link": IMAGE, "caption": "Here is the label"}
    assert "text" not in body


def test_a_document_keeps_its_file_name():
    url = "https://downloads.intercomcdn.com/i/o/1/abc/Invoice%20May.pdf"
    meta = Meta()
    meta.send(reply("Your invoice", url))
    [body] = meta.bodies()
    assert body["type"] == "document"
    assert body["document"] == {"link": url, "filename": "Invoice May.pdf", "caption": "Your invoice"}


def test_media_alone_has_no_caption():
    meta = Meta()
    meta.send(reply("", IMAGE))
    assert meta.bodies()[0]["image"] == {"link": IMAGE}


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("photo.jpg", "image"),
        ("photo.JPEG", "image"),
        ("screen.png", "image"),
        ("clip.mp4", "video"),
        ("clip.3gp", "video"),
        ("note.mp3", "audio"),
        ("voice.ogg", "audio"),
        ("song.m4a", "audio"),
        ("manual.pdf", "document"),
        ("sheet.xlsx", "document"),
        ("animation.gif", "document"),  # WhatsApp images are JPEG or PNG only
        ("sticker.webp", "document"),
        ("attachment", "document"),
    ],
)
def test_the_media_type_follows_the_urls_extension(path: str, kind: str):
    url = f"https://downloads.intercomcdn.com/i/o/1/abc/{path}?expires=1&signature=x"
    meta = Meta()
    meta.send(reply("", url))
    [body] = meta.bodies()
    assert body["type"] == kind
    assert body[kind]["link"] == url


def test_text_longer_than_a_caption_is_refused_beside_an_attachment_without_a_request():
    text = "word " * 300  # 1500 characters: a text, not a caption
    meta = Meta()
    with pytest.raises(ValueError, match="1500-character text.*captions hold 1024"):
        meta.send(reply(text, IMAGE))
    assert meta.requests == []


def test_text_longer_than_a_caption_is_planned_as_its_own_message_before_the_attachment():
    text = ("word " * 300).strip()  # 1499 characters: a text, not a caption
    messages = plan(Draft(text=text, attachment_urls=(IMAGE,)), ADAPTER.send_limits(reply()), reply())
    meta = Meta()
    ids = [meta.send(message) for message in messages]
    first, second = meta.bodies()
    assert first["text"] == {"body": text, "preview_url": True}
    assert second["image"] == {"link": IMAGE}
    assert ids == ["wamid.1", "wamid.2"]  # one id per message: each one's reports are tracked


def test_a_caption_of_exactly_1024_characters_stays_a_caption():
    text = "x" * 1024
    meta = Meta()
    meta.send(reply(text, IMAGE))
    [body] = meta.bodies()
    assert body["image"]["caption"] == text


def test_audio_with_text_is_refused_without_a_request():
    url = "https://downloads.intercomcdn.com/i/o/1/abc/message.mp3"
    meta = Meta()
    with pytest.raises(ValueError, match="audio takes no caption"):
        meta.send(reply("Listen to this", url))
    assert meta.requests == []


def test_audio_takes_no_caption_so_its_text_is_planned_first():
    url = "https://downloads.intercomcdn.com/i/o/1/abc/message.mp3"
    draft = Draft(text="Listen to this", attachment_urls=(url,))
    meta = Meta()
    for message in plan(draft, ADAPTER.send_limits(reply()), reply()):
        meta.send(message)
    first, second = meta.bodies()
    assert first["text"]["body"] == "Listen to this"
    assert second["audio"] == {"link": url}


def test_several_attachments_in_one_message_are_refused_without_a_request():
    video = "https://downloads.intercomcdn.com/i/o/1/abc/clip.mp4"
    meta = Meta()
    with pytest.raises(ValueError, match="2 attachments in one message"):
        meta.send(reply("both files", IMAGE, video))
    assert meta.requests == []


def test_several_attachments_are_planned_one_per_message_the_text_on_the_first():
    video = "https://downloads.intercomcdn.com/i/o/1/abc/clip.mp4"
    draft = Draft(text="both files", attachment_urls=(IMAGE, video))
    meta = Meta()
    for message in plan(draft, ADAPTER.send_limits(reply()), reply()):
        meta.send(message)
    assert [(body["type"], body[body["type"]].get("caption")) for body in meta.bodies()] == [
        ("image", "both files"),
        ("video", None),
    ]


def test_a_planned_reply_reaches_meta_as_planned():
    """Text too long for a caption goes first, split at 4096; every message is one request."""
    base = reply()
    limits = ADAPTER.send_limits(base)
    text = "paragraph " * 500  # 5000 characters
    messages = plan(Draft(text=text, attachment_urls=(IMAGE,)), limits, base)
    meta = Meta()
    for message in messages:
        meta.send(message)
    kinds = [body["type"] for body in meta.bodies()]
    assert kinds == ["text", "text", "image"]
    assert len(meta.requests) == len(messages)
    assert " ".join(body["text"]["body"] for body in meta.bodies()[:2]).split() == text.split()
    assert meta.bodies()[2]["image"] == {"link": IMAGE}


# --- templates --------------------------------------------------------------------------------


def test_a_template_replaces_the_text():
    meta = Meta()
    meta.send(reply("ignored", template=Template(name="order_update", language="nl")))
    [body] = meta.bodies()
    assert body == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": CUSTOMER,
        "type": "template",
        "template": {"name": "order_update", "language": {"code": "nl"}},
    }


ORDER_PHOTO = TemplateHeader(HeaderKind.IMAGE, url="https://cdn.example.com/orders/4711.jpg")
INVOICE = TemplateHeader(HeaderKind.DOCUMENT, url="https://cdn.example.com/invoices/4711.pdf")


def test_a_document_header_keeps_its_file_name_and_a_text_header_its_text():
    meta = Meta()
    meta.send(reply(template=Template("invoice_ready", variables=("4711",), header=INVOICE)))
    meta.send(
        reply(
            template=Template(
                "appointment_reminder",
                variables=("Monday", "9:00"),
                header=TemplateHeader(HeaderKind.TEXT, text="Ada"),
            )
        )
    )
    document, text = (body["template"]["components"][0] for body in meta.bodies())
    media = {"link": INVOICE.url, "filename": "4711.pdf"}
    assert document == {"type": "header", "parameters": [{"type": "document", "document": media}]}
    assert text == {"type": "header", "parameters": [{"type": "text", "text": "Ada"}]}


def test_a_template_to_a_username_customer_uses_recipient():
    meta = Meta()
    meta.send(reply(to=BSUID, template=Template(name="hello_world")))
    [body] = meta.bodies()
    assert body["recipient"] == BSUID
    assert body["template"] == {"name": "hello_world", "language": {"code": "en_US"}}


# --- what the bridge refuses before calling Meta ----------------------------------------------


def test_text_longer_than_whatsapp_takes_is_refused_without_a_request():
    meta = Meta()
    with pytest.raises(ProviderRejected, match="4097 characters"):
        meta.send(reply("x" * 4097))
    assert meta.requests == []


def test_an_empty_message_is_refused_without_a_request():
    meta = Meta()
    with pytest.raises(ProviderRejected, match="nothing to send"):
        meta.send(reply("  "))
    assert meta.requests == []


def test_sms_is_not_sent_through_meta():
    meta = Meta()
    message = OutboundMessage(channel=Channel.SMS, to=CUSTOMER, sender=PHONE_NUMBER_ID, text="hi")
    with pytest.raises(ProviderRejected, match="WhatsApp only"):
        ADAPTER.send_limits(message)
    with pytest.raises(ProviderRejected, match="WhatsApp only"):
        meta.send(message)
    assert meta.requests == []


def test_a_message_without_a_phone_number_id_is_refused_without_a_request():
    meta = Meta()
    with pytest.raises(ProviderRejected, match="phone-number id"):
        meta.send(reply("hi", sender=""))
    assert meta.requests == []


def test_an_empty_access_token_names_the_variable():
    with pytest.raises(ConfigurationError, match="WHATSAPP_ACCESS_TOKEN"):
        Meta().send(reply("hi"), settings(whatsapp_access_token=""))


# --- Meta's answers ---------------------------------------------------------------------------


def test_a_graph_error_is_rejected_with_metas_code():
    meta = Meta(
        graph_error(
            400,
            131047,
            "(#131047) Re-engagement message",
            "Message failed to send because more than 24 hours have passed since the customer last replied",
        )
    )
    with pytest.raises(ProviderRejected) as caught:
        meta.send(reply("hi"))
    assert caught.value.code == "131047"
    assert caught.value.status == 400
    assert "Re-engagement message: Message failed to send" in caught.value.message
    assert len(meta.requests) == 1


@pytest.mark.parametrize("code", sorted(THROTTLING_CODES))
def test_a_throttle_in_a_400_is_retried_later_not_refused(code: str):
    meta = Meta(graph_error(400, int(code), f"(#{code}) Rate limit"))
    with pytest.raises(ProviderRateLimited, match=code):
        meta.send(reply("hi"))
    assert len(meta.requests) == 1  # no sub-second retries into a throttle window


def test_an_error_without_graphs_envelope_keeps_the_status():
    meta = Meta(httpx.Response(403, text="<html>Forbidden</html>"))
    with pytest.raises(ProviderRejected) as caught:
        meta.send(reply("hi"))
    assert caught.value.code is None
    assert caught.value.status == 403


def test_an_answer_without_a_message_id_is_refused_not_retried():
    meta = Meta(httpx.Response(200, json={"messaging_product": "whatsapp", "messages": []}))
    with pytest.raises(ProviderRejected, match="messages"):
        meta.send(reply("hi"))
    assert len(meta.requests) == 1


# --- limits and reasons -----------------------------------------------------------------------


def test_whatsapp_takes_4096_characters_and_one_attachment_as_media_with_1024_character_captions():
    assert ADAPTER.send_limits(reply()) == SendLimits(
        max_text=4096,
        media=True,
        max_media=1,
        max_caption=1024,
        captioned=frozenset({MediaKind.IMAGE, MediaKind.VIDEO, MediaKind.DOCUMENT}),  # not audio
    )


@pytest.mark.parametrize(
    "code",
    [
        "131047",
        "131026",
        "131051",
        "131030",
        "131056",
        "130472",
        "131049",
        "131048",
        "131053",
        "131000",
        "368",
        "131031",
        "132000",
        "132001",
        "470",
    ],
)
def test_common_delivery_errors_are_explained(code: str):
    reason = ADAPTER.failure_reason(code)
    assert reason and reason.endswith(".")
    assert FAILURE_REASONS[code] == reason


def test_the_24_hour_window_explains_what_to_do():
    reason = ADAPTER.failure_reason("131047") or ""
    assert "24 hours" in reason and "template" in reason
    assert ADAPTER.failure_reason("470") == reason


# --- against the stand-in ---------------------------------------------------------------------


def send_to_standin(message: OutboundMessage) -> str:
    # get_settings(): after providers_at_standin pointed WHATSAPP_API_URL at it
    return send_over_http(ADAPTER, message, get_settings())


def test_an_image_reaches_the_standin_as_media_with_its_caption(providers_at_standin):
    message_id = send_to_standin(reply("the label", IMAGE))
    [sent] = providers_at_standin.state.sends
    assert (sent.text, sent.media, sent.message_id) == ("the label", [IMAGE], message_id)
    assert sent.request["type"] == "image"


def test_a_long_text_with_media_reaches_the_standin_as_two_messages(providers_at_standin):
    text = ("word " * 300).strip()
    messages = plan(Draft(text=text, attachment_urls=(IMAGE,)), ADAPTER.send_limits(reply()), reply())
    ids = [send_to_standin(message) for message in messages]
    words, media = providers_at_standin.state.sends
    assert (words.media, words.text, words.message_id) == ([], text, ids[0])
    assert (media.media, media.text, media.message_id) == ([IMAGE], "", ids[1])


def test_audio_with_text_is_accepted_by_the_standin(providers_at_standin):
    url = "https://downloads.intercomcdn.com/i/o/1/abc/message.mp3"
    messages = plan(Draft(text="Listen", attachment_urls=(url,)), ADAPTER.send_limits(reply()), reply())
    for message in messages:
        send_to_standin(message)
    words, audio = providers_at_standin.state.sends
    assert (audio.media, audio.text, words.text) == ([url], "", "Listen")


def test_a_username_customer_is_recorded_by_bsuid(providers_at_standin):
    send_to_standin(reply("hi", to=BSUID))
    [sent] = providers_at_standin.state.sends
    assert sent.to == BSUID
    assert sent.request["recipient"] == BSUID


def test_a_template_is_recorded_by_the_standin(providers_at_standin):
    send_to_standin(reply(template=Template(name="order_update")))
    [sent] = providers_at_standin.state.sends
    assert (sent.template, sent.text) == ("order_update", "")


@pytest.mark.parametrize(
    ("template", "code"),
    [
        (Template("no_such_template", "en_US"), "132001"),
        (Template("order_shipped", "nl", ("Ada", "4711"), ORDER_PHOTO), "132001"),  # not in Dutch
        (Template("win_a_prize", "en_US", ("a car",)), "132001"),  # rejected: never approved
        (Template("spring_sale", "en_US", ("20%",)), "132015"),  # paused
        (Template("order_shipped", "en_US", ("Ada",), ORDER_PHOTO), "132000"),  # one variable short
        (Template("order_update", "en_US", (), ORDER_PHOTO), "132000"),  # it has no header
        (Template("order_shipped", "en_US", ("Ada", "4711")), "132012"),  # its image header missing
        (Template("order_shipped", "en_US", ("Ada", "4711"), INVOICE), "132012"),  # not an image
        (Template("appointment_reminder", "en_US", ("Monday", "9:00")), "132012"),  # its text header
    ],
    ids=[
        "unknown",
        "other-language",
        "rejected",
        "paused",
        "too-few-variables",
        "header-where-none",
        "header-missing",
        "header-of-another-kind",
        "text-header-missing",
    ],
)
def test_the_standin_refuses_a_template_as_meta_does(providers_at_standin, template, code):
    with pytest.raises(ProviderRejected) as refused:
        send_to_standin(reply(template=template))
    assert refused.value.code == code
    assert ADAPTER.failure_reason(code)
    assert providers_at_standin.state.sends == []


@pytest.mark.parametrize(
    ("template", "header"),
    [
        (Template("invoice_ready", "en_US", ("4711",), INVOICE), INVOICE.url),
        (
            Template(
                "appointment_reminder",
                "en_US",
                ("Monday", "9:00"),
                TemplateHeader(HeaderKind.TEXT, text="Ada"),
            ),
            "Ada",
        ),
    ],
    ids=["document", "text"],
)
def test_the_standin_records_a_templates_header(providers_at_standin, template, header):
    send_to_standin(reply(template=template))
    [sent] = providers_at_standin.state.sends
    assert (sent.template, sent.variables, sent.header) == (template.name, list(template.variables), header)


def test_the_standins_page_shows_a_template_with_its_values(providers_at_standin):
    send_to_standin(reply(template=Template("order_shipped", variables=("Ada", "4711"), header=ORDER_PHOTO)))
    page = httpx.get(providers_at_standin.url + "/", timeout=10.0).text
    assert f"order_shipped (Ada, 4711) header: {ORDER_PHOTO.url}" in page


def test_media_lookups_still_work_beside_the_send_route(providers_at_standin):
    providers_at_standin.state.media["4490709327384033"] = StoredMedia(b"\x89PNG", "image/png")
    sink = memory_sink()
    with httpx.Client(timeout=10.0) as http:
        ADAPTER.fetch_media(
            Media(provider_id="4490709327384033", content_type="image/png"), get_settings(), http, into=sink
        )
    assert sink.file.getvalue() == b"\x89PNG"
