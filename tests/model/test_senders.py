"""Classifying the sender ids providers give: phone, short code, alphanumeric, WhatsApp user."""

from __future__ import annotations

import pytest

from bridge.model.senders import IdentityKind, classify_sender


@pytest.mark.parametrize(
    ("raw", "address", "international", "kind", "e164"),
    [
        ("+14133881111", None, False, IdentityKind.PHONE, "+14133881111"),
        ("whatsapp:+31612345678", "+31612345678", True, IdentityKind.PHONE, "+31612345678"),
        ("16505551234", None, True, IdentityKind.PHONE, "+16505551234"),  # Meta's wa_id
        ("0871234567", None, False, IdentityKind.PHONE, "+353871234567"),  # national, region IE
        ("00353871234567", None, False, IdentityKind.PHONE, "+353871234567"),
        ("558299448232", None, True, IdentityKind.PHONE, "+558299448232"),  # invalid, still a phone
        ("21512", None, False, IdentityKind.SHORT_CODE, None),
        ("384387", None, True, IdentityKind.SHORT_CODE, None),
        ("+2020", None, False, IdentityKind.SHORT_CODE, None),
        ("MTN", None, True, IdentityKind.ALPHANUMERIC, None),
        ("Twilio", None, False, IdentityKind.ALPHANUMERIC, None),
        (
            "whatsapp:US.13491208655302741918",
            "US.13491208655302741918",
            True,
            IdentityKind.WHATSAPP_USER,
            None,
        ),
        ("US.ENT.abc123", None, True, IdentityKind.WHATSAPP_USER, None),
        ("", None, False, IdentityKind.UNKNOWN, None),
        ("#!?*", None, False, IdentityKind.UNKNOWN, None),
    ],
)
def test_classify_sender(raw, address, international, kind, e164):
    identity = classify_sender(raw, address=address, country_code_included=international, default_region="IE")
    assert identity.kind is kind
    assert identity.e164 == e164
    assert identity.raw == raw


def test_the_raw_id_is_kept_exactly_for_replies():
    identity = classify_sender(
        "whatsapp:+31612345678", address="+31612345678", country_code_included=True, default_region="US"
    )
    assert identity.raw == "whatsapp:+31612345678"


def test_phone_identities_share_a_key_across_channels_and_written_forms():
    sms = classify_sender("+31612345678", country_code_included=False, default_region="US")
    whatsapp = classify_sender(
        "whatsapp:+31612345678", address="31612345678", country_code_included=True, default_region="US"
    )
    assert sms.key == whatsapp.key == "phone:+31612345678"


def test_non_phone_identities_are_keyed_by_kind_and_bare_id():
    identity = classify_sender("MTN", country_code_included=True, default_region="US")
    assert identity.key == "alphanumeric:MTN"


def test_a_whatsapp_user_is_one_identity_through_meta_and_through_twilio():
    meta = classify_sender("US.13491208655302741918", country_code_included=True, default_region="US")
    twilio = classify_sender(
        "whatsapp:US.13491208655302741918",
        address="US.13491208655302741918",
        country_code_included=True,
        default_region="US",
    )
    assert meta.key == twilio.key == "whatsapp_user:US.13491208655302741918"
    assert twilio.raw == "whatsapp:US.13491208655302741918"  # replies still go to what Twilio gave
