"""What an inbound message becomes in Intercom."""

from __future__ import annotations

from bridge.model.messages import InboundMessage, Media
from tests.helpers import inbound_sms


def message(text: str = "", media: int = 0) -> InboundMessage:
    return inbound_sms(text=text, media=tuple(Media(url=f"https://media.test/{n}") for n in range(media)))


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
