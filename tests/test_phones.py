"""E.164 normalization and the written forms a number may be stored under."""

from __future__ import annotations

import pytest

from bridge.phones import international_digits_to_e164, strip_formatting, to_e164, written_forms


@pytest.mark.parametrize(
    ("number", "region", "e164"),
    [
        ("+14133881111", None, "+14133881111"),
        ("+1 (413) 388-1111", None, "+14133881111"),
        ("0871234567", "IE", "+353871234567"),
        ("00353871234567", "IE", "+353871234567"),
        ("(413) 388-1111", "US", "+14133881111"),
        # Invalid to libphonenumber, but real WhatsApp ids: kept as they are, never dropped.
        ("+558299448232", None, "+558299448232"),
        ("+5215512345678", None, "+5215512345678"),
        ("+99912345678", None, None),  # no such country code
        ("hello", "US", None),
    ],
)
def test_to_e164(number, region, e164):
    assert to_e164(number, region=region) == e164


def test_international_digits_never_get_a_second_country_code():
    # Parsed with region IL this would become +972972987654321.
    assert international_digits_to_e164("972987654321") == "+972987654321"


def test_strip_formatting_removes_what_people_type_around_digits():
    assert strip_formatting(" +1 (413) 388-1111 ") == "+14133881111"


def test_written_forms_cover_how_crms_store_a_number():
    forms = written_forms("+14133881111")
    assert forms[0] == "+14133881111"
    for form in ("14133881111", "0014133881111", "+1 413-388-1111", "(413) 388-1111", "4133881111"):
        assert form in forms
    assert len(forms) == len(set(forms))


def test_written_forms_of_a_number_with_a_trunk_prefix():
    forms = written_forms("+353871234567")
    assert "087 123 4567" in forms
    assert "0871234567" in forms
    assert "+353 87 123 4567" in forms
