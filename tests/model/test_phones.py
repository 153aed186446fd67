"""E.164 normalization and the written forms a number may be stored under."""

from __future__ import annotations

import pytest

from bridge.model.phones import (
    international_digits_to_e164,
    strip_formatting,
    to_e164,
    written_exit_codes,
    written_forms,
)


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


# (stored, the deployment's BRIDGE_DEFAULT_REGION, the number): a number typed after an exit code other
# than the deployment's own. Each is read back as the number (contacts sync, the search's winner) and
# is one of the number's written forms (the search itself), so no sync is needed to find it.
EXIT_CODE_VECTORS = [
    ("00 44 20 7946 0958", "US", "+442079460958"),  # Europe's 00 where the deployment dials 011
    ("0044 20 7946 0958", "US", "+442079460958"),
    ("00442079460958", "US", "+442079460958"),
    ("011 44 20 7946 0958", "GB", "+442079460958"),  # North America's 011 where the deployment dials 00
    ("01144 20 7946 0958", "GB", "+442079460958"),
    ("011442079460958", "GB", "+442079460958"),
    ("0011 44 20 7946 0958", "US", "+442079460958"),  # Australia's 0011
    ("0011 1 415-555-0123", "GB", "+14155550123"),
    ("010 81 3-1234-5678", "US", "+81312345678"),  # Japan's 010
    ("810 1 415-555-0123", "GB", "+14155550123"),  # Russia's 810
    ("001 976 8812 3456", "US", "+97688123456"),  # Mongolia's 001
    ("000 254 712 345678", "US", "+254712345678"),  # Kenya's 000
    ("009 44 20 7946 0958", "GB", "+442079460958"),  # Nigeria's 009
    ("119 44 20 7946 0958", "US", "+442079460958"),  # Cuba's 119
]


@pytest.mark.parametrize(("stored", "region", "e164"), EXIT_CODE_VECTORS)
def test_a_number_after_any_countrys_exit_code_reads_as_itself(stored, region, e164):
    assert to_e164(stored, region=region) == e164


@pytest.mark.parametrize(("stored", "region", "e164"), EXIT_CODE_VECTORS)
def test_a_number_after_any_countrys_exit_code_is_one_of_its_written_forms(stored, region, e164):
    assert stored in written_forms(e164)


@pytest.mark.parametrize(
    ("stored", "region", "e164"),
    [
        ("8~10 1 415-555-0123", "GB", "+14155550123"),  # Russia's preferred form, `~` for the dial tone
        ("0015 44 20 7946 0958", "US", "+442079460958"),  # a Brazilian carrier's exit code
        ("00 55 82 9944 8232", "US", "+558299448232"),  # invalid, but its 9th-digit variant is valid
    ],
)
def test_exit_codes_only_phonenumbers_patterns_know_are_read_but_not_searched(stored, region, e164):
    assert to_e164(stored, region=region) == e164


@pytest.mark.parametrize(
    ("stored", "region", "e164"),
    [
        ("0114 496 0958", "GB", "+441144960958"),  # Sheffield, national: its 011 is no exit code
        ("020 7946 0958", "GB", "+442079460958"),  # London, national: its 020 is not Mauritius's
        ("0 44 20 7946 0958", "US", "+10442079460958"),  # a lone 0 is a trunk prefix, never an exit code
    ],
)
def test_a_valid_national_reading_or_a_lone_0_is_never_read_as_an_exit_code(stored, region, e164):
    assert to_e164(stored, region=region) == e164


def test_the_written_exit_codes_come_from_phonenumbers_most_countries_first():
    codes = written_exit_codes()
    assert codes[:2] == ("00", "011")
    assert {"0011", "010", "810"} <= set(codes)
    assert "0" not in codes and all(code.isdigit() for code in codes)
