"""Where a number shows in stored text: the digits it is written with, found as whole numbers only."""

from __future__ import annotations

import pytest

from bridge.model.traces import mentions, number_forms


@pytest.mark.parametrize(
    ("e164", "forms"),
    [
        ("+14155550123", {"14155550123", "0014155550123", "4155550123"}),
        # Mexico: the number and WhatsApp's 521 form, each international, after 00 and national.
        (
            "+525587143926",
            {
                "525587143926",
                "00525587143926",
                "5587143926",
                "5215587143926",
                "005215587143926",
                "15587143926",
            },
        ),
        # Germany: national with the trunk 0, and without it.
        ("+4930123456789", {"4930123456789", "004930123456789", "030123456789", "30123456789"}),
    ],
)
def test_a_number_is_written_internationally_after_an_exit_code_and_nationally_with_its_variants(e164, forms):
    assert number_forms(e164) == forms


FORMS = number_forms("+525587143926")


@pytest.mark.parametrize(
    "text",
    [
        "From=%2B525587143926&To=%2B14155550100",  # Twilio's form body
        '{"contacts": [{"wa_id": "5215587143926"}]}',  # Meta's JSON, WhatsApp's form
        "msisdn=525587143926&to=14155550100",  # Vonage's digits
        "TEL;TYPE=CELL:+52 55 8714 3926",  # written with spaces
        "call me on 55 8714 3926",  # nationally
        "From=whatsapp%3A%2B5215587143926",  # URL-encoded, channel-prefixed
    ],
)
def test_a_text_writing_the_number_in_any_form_mentions_it(text):
    assert mentions(text, FORMS)


@pytest.mark.parametrize(
    "text",
    [
        "From=%2B14155550123",  # another customer
        "id 95215587143926",  # the digits inside a longer number are another number
        "at 1795587143926.5",  # a timestamp that happens to end with them
        "",
    ],
)
def test_a_text_that_does_not_write_the_number_does_not_mention_it(text):
    assert not mentions(text, FORMS)


def test_digits_bounded_by_letters_count_as_the_number_there_is_no_telling_them_apart():
    """A payload's `SM525587143926` is read as the number: forgetting errs towards removing."""
    assert mentions("SM525587143926a", FORMS)
