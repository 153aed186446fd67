"""`bridge contacts lookup NUMBER`: the bridge's matching decision, explained, with nothing created."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from bridge.cli.contacts import contacts
from bridge.contacts.lookup import build_lookup, render_lookup
from bridge.contacts.matching import ContactPriority
from bridge.contacts.resolution import IdentityMap
from bridge.core.settings import reset_settings_cache
from bridge.intercom.models import ContactRef


@pytest.fixture
def identities(redis_client) -> IdentityMap:
    return IdentityMap(redis_client)


def lookup(number, identities, intercom, region="US", priority=ContactPriority.LATEST_UPDATED):
    return build_lookup(number, region=region, identities=identities, intercom=intercom, priority=priority)


def assert_nothing_written(sandbox, redis_client) -> None:
    """Intercom was only read (a search is a POST that reads), and the identity map is untouched."""
    for exchange in sandbox.requests():
        assert (exchange["method"], exchange["path"]) in {
            ("GET", "/data_attributes"),
            ("POST", "/contacts/search"),
        }, exchange["path"]
    assert redis_client.keys("bridge:*") == []


def test_a_brazilian_mobile_finds_the_contact_stored_without_its_9th_digit(
    identities, intercom, sandbox, redis_client
):
    stored = sandbox.seed_contact(role="user", name="Ana", phone="+55 82 9944-8232", updated_at=1_700_000_000)
    report = lookup("+5582999448232", identities, intercom)

    assert (report.sender.kind.value, report.sender.e164) == ("phone", "+5582999448232")
    [own, variant] = report.entries
    assert (own.key, own.rules, own.contact) == ("phone:+5582999448232", (), None)
    assert variant.key == "phone:+558299448232"
    assert variant.rules == ("brazil: drop the mobile 9th digit",)
    assert report.query is not None and "+558299448232" in str(report.query)
    assert [c.id for c in report.candidates] == [stored["id"]]
    assert report.rule == "variant"
    assert report.decision is not None and report.decision.contact_id == stored["id"]
    assert report.decision.variant == "+558299448232"
    text = "\n".join(render_lookup(report))
    assert "[variant: brazil: drop the mobile 9th digit]" in text
    assert f"* {stored['id']}  user  Ana  updated 2023-11-14 22:13:20 UTC  phone +55 82 9944-8232" in text
    assert "Rule:     variant" in text
    assert_nothing_written(sandbox, redis_client)


def test_several_candidates_the_latest_updated_wins(identities, intercom, sandbox, redis_client):
    older = sandbox.seed_contact(role="user", phone="(415) 555-0123", updated_at=1_000)
    newer = sandbox.seed_contact(role="lead", phone="+1 415-555-0123", updated_at=2_000)
    report = lookup("(415) 555-0123", identities, intercom)
    assert report.sender.e164 == "+14155550123"
    assert [c.id for c in report.candidates] == [newer["id"], older["id"]]
    assert report.rule == "search_latest_updated"
    assert report.decision is not None and report.decision.contact_id == newer["id"]
    text = "\n".join(render_lookup(report))
    assert (
        "Priority: latest_updated (BRIDGE_CONTACT_PRIORITY): the most recently updated contact wins, "
        "users and leads alike"
    ) in text
    assert f"Decision: contact {newer['id']} (lead), chosen among 2 as the most recently updated" in text
    assert_nothing_written(sandbox, redis_client)


def test_under_user_priority_the_user_beats_a_newer_lead_and_the_lookup_says_why(
    identities, intercom, sandbox, redis_client
):
    user = sandbox.seed_contact(role="user", phone="(415) 555-0123", updated_at=1_000)
    newer = sandbox.seed_contact(role="lead", phone="+1 415-555-0123", updated_at=2_000)
    report = lookup("(415) 555-0123", identities, intercom, priority=ContactPriority.USER)
    assert [c.id for c in report.candidates] == [user["id"], newer["id"]]
    assert report.rule == "search_user_first"
    assert report.decision is not None and report.decision.contact_id == user["id"]
    text = "\n".join(render_lookup(report))
    assert "Priority: user (BRIDGE_CONTACT_PRIORITY): a user wins over any lead" in text
    assert f"* {user['id']}  user" in text and f"  {newer['id']}  lead" in text
    assert "Rule:     search_user_first" in text
    assert (
        f"Decision: contact {user['id']} (user), chosen among 2 as the most recently updated user "
        "(users come before leads here)"
    ) in text
    assert_nothing_written(sandbox, redis_client)


def test_the_identity_map_decides_first_and_the_search_is_still_shown(identities, intercom, sandbox):
    searched = sandbox.seed_contact(role="lead", phone="+14155550123", updated_at=2_000)
    identities.set("phone:+14155550123", ContactRef(id="known0000000000000000000", role="user"))
    report = lookup("+14155550123", identities, intercom)
    assert report.rule == "identity_map"
    assert report.decision is not None and report.decision.contact_id == "known0000000000000000000"
    assert [c.id for c in report.candidates] == [searched["id"]]
    text = "\n".join(render_lookup(report))
    assert "phone:+14155550123 -> known0000000000000000000 (user)" in text
    assert f"the search alone would pick {searched['id']} (the map wins)" in text


def test_the_map_entry_of_a_variant_decides_too(identities, intercom, sandbox):
    identities.set("phone:+525512345678", ContactRef(id="mx00000000000000000000000", role="lead"))
    report = lookup("+5215512345678", identities, intercom)
    assert [e.rules for e in report.entries] == [(), ("mexico: 521 (WhatsApp) to 52",)]
    assert report.rule == "identity_map"
    assert report.decision is not None and report.decision.variant == "+525512345678"


def test_an_unknown_number_would_create_a_lead_and_nothing_is_created(
    identities, intercom, sandbox, redis_client
):
    sandbox.seed_contact(role="lead", phone="+14155550999")
    report = lookup("+14155550123", identities, intercom)
    assert report.candidates == () and report.decision is None and report.rule == "created"
    assert "a new lead would be created" in render_lookup(report)[-1]
    assert len(sandbox.contacts()) == 1
    assert_nothing_written(sandbox, redis_client)


def test_a_national_number_is_read_in_the_region_given(identities, intercom, sandbox):
    stored = sandbox.seed_contact(role="lead", phone="+353 87 123 4567")
    report = lookup("087 123 4567", identities, intercom, region="IE")
    assert report.sender.e164 == "+353871234567" and report.region == "IE"
    assert report.decision is not None and report.decision.contact_id == stored["id"]
    assert report.rule == "search"


def test_a_whatsapp_user_id_is_looked_up_by_bridge_identity_without_defining_it(
    identities, intercom, sandbox, redis_client
):
    report = lookup("US.13491208655302741918", identities, intercom)
    assert report.sender.kind.value == "whatsapp_user" and report.entries[0].contact is None
    assert report.query == {
        "field": "custom_attributes.bridge_identity",
        "operator": "=",
        "value": "whatsapp_user:US.13491208655302741918",
    }
    assert report.search_note is not None and report.rule == "created"
    assert_nothing_written(sandbox, redis_client)  # the attribute was not created


def test_a_whatsapp_user_id_is_found_by_its_attribute(identities, intercom, sandbox):
    sandbox.api("POST", "/data_attributes", json={"name": "bridge_identity", "model": "contact"})
    held = sandbox.seed_contact(
        role="lead", custom_attributes={"bridge_identity": "whatsapp_user:US.13491208655302741918"}
    )
    report = lookup("US.13491208655302741918", identities, intercom)
    assert report.rule == "external_identity"
    assert report.decision is not None and report.decision.contact_id == held["id"]


def test_a_sender_that_is_no_id_at_all_is_refused(identities, intercom, sandbox):
    report = lookup("???", identities, intercom)
    assert report.problem is not None and report.decision is None
    assert "would not be delivered" in render_lookup(report)[-1]
    assert sandbox.requests() == []


def test_the_command_prints_the_report(bridge_env, sandbox, redis_client):
    stored = sandbox.seed_contact(role="lead", name="Ana", phone="+558299448232")
    result = CliRunner().invoke(contacts, ["lookup", "+5582999448232"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Kind:     phone, E.164 +5582999448232" in result.output
    assert "phone:+558299448232  [variant: brazil: drop the mobile 9th digit] -> no entry" in result.output
    assert f"* {stored['id']}" in result.output
    assert "Rule:     variant" in result.output
    national = CliRunner().invoke(contacts, ["lookup", "0871234567", "--region", "ie"])
    assert "E.164 +353871234567" in national.output
    assert "a new lead would be created" in national.output
    assert redis_client.keys("bridge:*") == []


def test_the_command_applies_the_configured_priority(bridge_env, sandbox, monkeypatch):
    user = sandbox.seed_contact(role="user", phone="+14155550123", updated_at=1_000)
    sandbox.seed_contact(role="lead", phone="+14155550123", updated_at=2_000)
    monkeypatch.setenv("BRIDGE_CONTACT_PRIORITY", "user")
    reset_settings_cache()
    result = CliRunner().invoke(contacts, ["lookup", "+14155550123"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Priority: user (BRIDGE_CONTACT_PRIORITY)" in result.output
    assert f"Decision: contact {user['id']} (user), chosen among 2" in result.output
