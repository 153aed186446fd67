"""What an inbound message becomes in Intercom."""

from __future__ import annotations

from datetime import UTC, datetime

from bridge.model.messages import Channel, InboundMessage, Media
from bridge.model.senders import classify_sender


def message(text: str = "", media: int = 0) -> InboundMessage:
    return InboundMessage(
        provider="twilio",
        channel=Channel.SMS,
        provider_message_id="SM1",
        sender=classify_sender("+14155550123", country_code_included=False, default_region="US"),
        business_number="+14155550100",
        text=text,
        received_at=datetime(2026, 11, 23, tzinfo=UTC),
        media=tuple(Media(url=f"https://media.test/{n}") for n in range(media)),
    )


def test_text_goes_in_the_body():
    assert message("hello").intercom_content() == ("hello", [])


def test_media_only_messages_still_have_a_body():
    assert message(media=1).intercom_content() == ("(sent 1 attachment)", ["https://media.test/0"])


def test_media_past_intercoms_ten_attachments_are_linked_not_dropped():
    body, urls = message("look", media=12).intercom_content()
    assert urls == [f"https://media.test/{n}" for n in range(10)]
    assert body == "look\nhttps://media.test/10\nhttps://media.test/11"


def test_a_message_survives_its_json_round_trip():
    original = message("hi", media=2)
    assert InboundMessage.model_validate_json(original.model_dump_json()) == original
