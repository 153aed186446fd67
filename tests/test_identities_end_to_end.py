"""Identities as they really arrive, matched to contacts however their numbers were stored."""

from __future__ import annotations

import time

import pytest

from bridge.settings import get_settings, reset_settings_cache
from tests.helpers import conversation_bodies, signed_twilio

BUSINESS = "+14155550100"


def seed(sandbox, phone: str, name: str = "Stored") -> dict:
    now = int(time.time())
    return sandbox.seed_contact(
        role="user", phone=phone, name=name, updated_at=now - 60, created_at=now - 86400
    )


def deliver(bridge, settings, drain, http, sender: str, *, whatsapp: bool, text: str = "hi") -> None:
    response = signed_twilio(
        bridge.url, settings, sender=sender, recipient=BUSINESS, text=text, whatsapp=whatsapp
    ).send(http)
    assert response.status_code == 200
    drain()


def only_conversation_contact(sandbox) -> str:
    [conversation] = sandbox.conversations()
    return conversation["contacts"]["contacts"][0]["id"]


@pytest.mark.parametrize(
    ("stored", "sender", "whatsapp"),
    [
        ("+55 11 98765-4321", "+551187654321", True),  # Brazil: WhatsApp id without the 9th digit
        ("+55 11 8765-4321", "+5511987654321", False),  # Brazil: stored without it, texting with it
        ("+52 55 1234 5678", "+5215512345678", True),  # Mexico: WhatsApp's 521 form
        ("+52 1 55 1234 5678", "+525512345678", False),  # Mexico: the other way round
        ("+54 11 1234-5678", "+5491112345678", True),  # Argentina: 549 finds 54
    ],
)
def test_a_contact_is_found_whatever_form_its_number_was_stored_in(
    stored, sender, whatsapp, bridge, settings, sandbox, drain, http
):
    contact = seed(sandbox, stored)
    deliver(bridge, settings, drain, http, sender, whatsapp=whatsapp)

    assert only_conversation_contact(sandbox) == contact["id"]
    assert len(sandbox.contacts()) == 1
    assert sandbox.contacts()[0]["phone"] == stored  # never rewritten


def test_argentina_is_one_way_a_54_sender_does_not_take_a_549_contact(bridge, settings, sandbox, drain, http):
    stored = seed(sandbox, "+54 9 11 1234-5678")
    deliver(bridge, settings, drain, http, "+541112345678", whatsapp=False)

    assert only_conversation_contact(sandbox) != stored["id"]
    assert len(sandbox.contacts()) == 2


def test_a_national_number_stored_in_ireland_matches_its_e164_sender(
    bridge_env, monkeypatch, sandbox, redis_client, http
):
    monkeypatch.setenv("BRIDGE_DEFAULT_REGION", "IE")
    reset_settings_cache()
    settings = get_settings()
    from bridge.app import create_app
    from bridge.serving import BackgroundServer
    from tests.conftest import run_workers_in_process

    contact = seed(sandbox, "0871234567")
    with BackgroundServer(create_app(settings)) as server:
        signed_twilio(server.url, settings, sender="+353871234567", recipient=BUSINESS, text="dia duit").send(
            http
        )
        run_workers_in_process(redis_client)

    assert only_conversation_contact(sandbox) == contact["id"]


def test_the_identity_map_knows_a_number_by_its_variants_before_search_does(
    bridge, settings, sandbox, drain, http
):
    sandbox.configure(search_lag=300)  # search cannot help: only the identity map can
    deliver(bridge, settings, drain, http, "+551187654321", whatsapp=True, text="without the 9")
    deliver(bridge, settings, drain, http, "+5511987654321", whatsapp=False, text="with the 9")

    [lead] = sandbox.contacts()
    assert {c["contacts"]["contacts"][0]["id"] for c in sandbox.conversations()} == {lead["id"]}


def test_a_whatsapp_username_only_sender_gets_one_lead_by_its_user_id_and_one_conversation(
    bridge, settings, sandbox, drain, http
):
    sandbox.configure(search_lag=300)
    for text in ("hello", "again"):
        deliver(bridge, settings, drain, http, "US.13491208655302741918", whatsapp=True, text=text)

    [lead] = sandbox.contacts()
    assert lead["role"] == "lead"
    assert lead["phone"] is None
    assert lead["custom_attributes"] == {"bridge_identity": "whatsapp_user:US.13491208655302741918"}
    [conversation] = sandbox.conversations()
    assert conversation_bodies(conversation) == ["hello", "again"]


def test_a_username_only_sender_is_found_by_its_attribute_when_the_bridge_has_forgotten_it(
    bridge, settings, sandbox, drain, http, redis_client
):
    deliver(bridge, settings, drain, http, "US.13491208655302741918", whatsapp=True, text="hello")
    [lead] = sandbox.contacts()
    redis_client.delete(*redis_client.keys("bridge:identity:*"))  # e.g. a fresh Redis

    deliver(bridge, settings, drain, http, "US.13491208655302741918", whatsapp=True, text="remember me?")
    assert [c["id"] for c in sandbox.contacts()] == [lead["id"]]
