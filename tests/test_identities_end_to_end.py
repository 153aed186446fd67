"""Identities as they really arrive, matched to contacts however their numbers were stored."""

from __future__ import annotations

import time

import pytest

from bridge.app import create_app
from bridge.core.settings import get_settings, reset_settings_cache
from bridge.runtime.serving import BackgroundServer
from tests.conftest import run_workers_in_process
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


def deliver_in_region(region: str, monkeypatch, redis_client, http, sender: str, text: str = "hi") -> None:
    """Deliver one SMS through a bridge whose BRIDGE_DEFAULT_REGION is `region`, and drain the queues."""
    deliver_configured({"BRIDGE_DEFAULT_REGION": region}, monkeypatch, redis_client, http, sender, text)


def deliver_configured(
    env: dict[str, str], monkeypatch, redis_client, http, sender: str, text: str = "hi"
) -> None:
    """Deliver one SMS through a bridge configured with `env` besides the test's, and drain the queues."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    reset_settings_cache()
    settings = get_settings()
    with BackgroundServer(create_app(settings)) as server:
        request = signed_twilio(server.url, settings, sender=sender, recipient=BUSINESS, text=text)
        assert request.send(http).status_code == 200
        run_workers_in_process(redis_client)


def contact_searches(sandbox) -> int:
    return sum(1 for r in sandbox.requests() if (r["method"], r["path"]) == ("POST", "/contacts/search"))


def test_a_national_number_stored_in_ireland_matches_its_e164_sender(
    bridge_env, monkeypatch, sandbox, redis_client, http
):
    contact = seed(sandbox, "0871234567")
    deliver_in_region("IE", monkeypatch, redis_client, http, "+353871234567", text="dia duit")

    assert only_conversation_contact(sandbox) == contact["id"]


@pytest.mark.parametrize(
    ("region", "stored", "sender"),
    [
        ("US", "0044 20 7946 0958", "+442079460958"),  # Europe's 00 where the deployment dials 011
        ("US", "00 44 20 7946 0958", "+442079460958"),
        ("GB", "011 44 20 7946 0958", "+442079460958"),  # America's 011 where the deployment dials 00
        ("GB", "011442079460958", "+442079460958"),
        ("GB", "0011 1 415-555-0123", "+14155550123"),  # Australia's 0011
        ("US", "010 81 3-1234-5678", "+81312345678"),  # Japan's 010
        ("GB", "810 1 415-555-0123", "+14155550123"),  # Russia's 810
    ],
)
def test_a_number_stored_with_any_countrys_exit_code_matches_its_sender_without_a_sync(
    region, stored, sender, bridge_env, monkeypatch, sandbox, redis_client, http
):
    contact = seed(sandbox, stored)
    deliver_in_region(region, monkeypatch, redis_client, http, sender)

    assert only_conversation_contact(sandbox) == contact["id"]
    assert [c["phone"] for c in sandbox.contacts()] == [stored]  # no new lead, nothing rewritten
    assert contact_searches(sandbox) == 1  # the written forms share one search (bridge.contacts.matching)


@pytest.mark.parametrize(
    ("env", "winner", "chosen"),
    [
        ({}, "lead", "the most recently updated"),  # the default, latest_updated
        (
            {"BRIDGE_CONTACT_PRIORITY": "user"},
            "user",
            "the most recently updated user (users come before leads here)",
        ),
    ],
    ids=["default", "user"],
)
def test_the_contact_priority_picks_between_a_user_and_a_newer_lead_and_the_note_says_how(
    env, winner, chosen, bridge_env, monkeypatch, sandbox, redis_client, http
):
    now = int(time.time())
    held = {
        "user": sandbox.seed_contact(
            role="user", name="Ada Lovelace", phone="+14155550123", updated_at=now - 86400
        ),
        "lead": sandbox.seed_contact(
            role="lead", name="New caller", phone="(415) 555-0123", updated_at=now - 60
        ),
    }
    other = held["lead" if winner == "user" else "user"]
    deliver_configured(env, monkeypatch, redis_client, http, "+14155550123", text="where is my order?")

    assert only_conversation_contact(sandbox) == held[winner]["id"]
    [conversation] = sandbox.conversations()
    parts = sandbox.api("GET", f"/conversations/{conversation['id']}").json()["conversation_parts"]
    [note] = [p["body"] for p in parts["conversation_parts"] if p["part_type"] == "note"]
    assert (
        f"This number belongs to 2 contacts in Intercom. The bridge chose {held[winner]['id']}, {chosen};"
        in note
    )
    listed = note.split("the others:")[1]
    assert other["id"] in listed and other["name"] in listed and held[winner]["id"] not in listed
    assert len(sandbox.contacts()) == 2  # no new lead


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
