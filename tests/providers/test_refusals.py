"""A provider's refusal text, as the bridge shows it: never the customer's full number."""

from __future__ import annotations

import pytest

from bridge.providers.refusals import without_recipient


@pytest.mark.parametrize(
    ("recipient", "echoed"),
    [
        ("+14155550123", "+14155550123"),  # as sent
        ("+14155550123", "14155550123"),  # Vonage, MessageBird: digits without `+`
        ("14155550123", "14155550123"),
        ("+44 7700 900123", "447700900123"),  # written with spaces, echoed compact
    ],
)
def test_the_recipient_is_masked_in_whichever_form_the_provider_echoes(recipient, echoed):
    shown = without_recipient(f"Invalid destination {echoed}: not a mobile", recipient)
    assert echoed not in shown
    assert shown.startswith("Invalid destination ") and shown.endswith(": not a mobile")


def test_other_numbers_and_link_queries_are_masked_as_in_the_logs():
    shown = without_recipient("sender +12025550100 barred; see https://x.example/e?token=abc", "+14155550123")
    assert "+12025550100" not in shown
    assert "token=abc" not in shown


def test_a_short_or_empty_recipient_masks_nothing_of_its_own():
    assert without_recipient("error 1234567 at step 12", "") == "error 1234567 at step 12"
    assert without_recipient("error 12 at step 12", "12") == "error 12 at step 12"
