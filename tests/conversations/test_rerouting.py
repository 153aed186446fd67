"""Which contact a stored contact id stands for after merges, and the bridge's records following it:
against the sandbox (which merges and deletes as Intercom 2.16 does) and a real Redis."""

from __future__ import annotations

from typing import Any

import redis

from bridge.contacts.resolution import IdentityMap
from bridge.conversations.rerouting import MAX_HOPS, canonical, follow_alias, forget_deleted, reroute
from bridge.conversations.threads import ThreadStore
from bridge.infra import keys
from bridge.intercom.models import ContactRef
from tests.conversations.support import CUSTOMER, opened_thread
from tests.helpers import SandboxControl

NUMBER = f"phone:{CUSTOMER}"


def remember(
    redis_client: redis.Redis, contact: ContactRef, *, customer: str = CUSTOMER, conversation: str = "101"
) -> None:
    """What the bridge keeps about a contact after its first message: its number, its thread."""
    IdentityMap(redis_client).set(f"phone:{customer}", contact)
    opened_thread(redis_client, contact.id, conversation_id=conversation, customer=customer)


def lead_and_user(sandbox: SandboxControl) -> tuple[dict[str, Any], dict[str, Any]]:
    lead = sandbox.seed_contact(role="lead", phone="+14155550123")
    user = sandbox.seed_contact(role="user", email="ada@example.com", phone="+14155550123")
    return lead, user


def contact_calls(sandbox: SandboxControl) -> list[str]:
    return [
        e["path"] for e in sandbox.requests() if e["method"] == "GET" and e["path"].startswith("/contacts/")
    ]


# --- aliases ---


def test_a_contact_without_an_alias_is_itself(redis_client):
    lead = ContactRef("a" * 24, "lead")
    assert follow_alias(redis_client, lead) is lead


def test_aliases_are_followed_hop_by_hop_to_a_user(redis_client):
    redis_client.set(keys.alias("lead1"), "lead2")
    redis_client.set(keys.alias("lead2"), "user1")
    assert follow_alias(redis_client, ContactRef("lead1", "lead")) == ContactRef("user1", "user")


def test_a_cycle_of_aliases_ends_after_a_bounded_number_of_hops(redis_client):
    redis_client.set(keys.alias("a"), "b")
    redis_client.set(keys.alias("b"), "a")
    assert follow_alias(redis_client, ContactRef("a", "lead")).id in {"a", "b"}


def test_a_chain_longer_than_the_hops_stops_where_they_run_out(redis_client):
    chain = [f"c{n}" for n in range(MAX_HOPS + 3)]
    for old, new in zip(chain, chain[1:], strict=False):
        redis_client.set(keys.alias(old), new)
    assert follow_alias(redis_client, ContactRef("c0", "lead")).id == chain[MAX_HOPS]


# --- reroute ---


def test_rerouting_moves_the_number_and_the_thread_and_leaves_an_alias(redis_client):
    remember(redis_client, ContactRef("lead1", "lead"))
    reroute(redis_client, "lead1", ContactRef("user1", "user"))
    assert IdentityMap(redis_client).get(NUMBER) == ContactRef("user1", "user")
    assert IdentityMap(redis_client).identities_of("lead1") == []
    threads = ThreadStore(redis_client)
    assert threads.by_conversation("101").contact_id == "user1"
    assert threads.of_contact("lead1") == [] and len(threads.of_contact("user1")) == 1
    assert follow_alias(redis_client, ContactRef("lead1", "lead")) == ContactRef("user1", "user")


# --- canonical ---


def test_a_live_contact_is_its_own_canonical_and_nothing_moves(redis_client, intercom, sandbox):
    lead, _ = lead_and_user(sandbox)
    ref = ContactRef(lead["id"], "lead")
    remember(redis_client, ref)
    assert canonical(redis_client, intercom, ref) == ref
    assert IdentityMap(redis_client).get(NUMBER) == ref
    assert not redis_client.exists(keys.alias(lead["id"]))


def test_a_lead_merged_in_intercom_leads_to_the_survivor_and_takes_its_records_along(
    redis_client, intercom, sandbox
):
    lead, user = lead_and_user(sandbox)
    remember(redis_client, ContactRef(lead["id"], "lead"))
    sandbox.api("POST", "/contacts/merge", json={"from": lead["id"], "into": user["id"]}).raise_for_status()

    survivor = canonical(redis_client, intercom, ContactRef(lead["id"], "lead"))

    assert survivor == ContactRef(user["id"], "user")
    assert IdentityMap(redis_client).get(NUMBER) == survivor
    assert ThreadStore(redis_client).by_conversation("101").contact_id == user["id"]
    # Asked once: the next time the alias answers without Intercom.
    assert follow_alias(redis_client, ContactRef(lead["id"], "lead")) == survivor
    calls = contact_calls(sandbox)
    canonical(redis_client, intercom, ContactRef(lead["id"], "lead"))
    assert contact_calls(sandbox)[len(calls) :] == [f"/contacts/{user['id']}"]


def test_a_lead_the_bridge_merged_is_looked_up_by_its_alias_and_rerouted(redis_client, intercom, sandbox):
    lead, user = lead_and_user(sandbox)
    ref = ContactRef(lead["id"], "lead")
    remember(redis_client, ref)
    redis_client.set(keys.alias(lead["id"]), user["id"])  # written when the inbox app merged them

    assert canonical(redis_client, intercom, ref) == ContactRef(user["id"], "user")
    assert contact_calls(sandbox) == [f"/contacts/{user['id']}"]
    assert IdentityMap(redis_client).get(NUMBER) == ContactRef(user["id"], "user")
    assert ThreadStore(redis_client).by_conversation("101").contact_id == user["id"]


def test_a_deleted_contact_has_no_canonical_and_keeps_its_records_for_forget_deleted(
    redis_client, intercom, sandbox
):
    lead, _ = lead_and_user(sandbox)
    ref = ContactRef(lead["id"], "lead")
    remember(redis_client, ref)
    sandbox.api("DELETE", f"/contacts/{lead['id']}").raise_for_status()
    assert canonical(redis_client, intercom, ref) is None
    assert not redis_client.exists(keys.alias(lead["id"]))
    assert IdentityMap(redis_client).get(NUMBER) == ref


def test_forgetting_a_deleted_contact_drops_its_numbers_and_threads_and_no_one_else_s(redis_client):
    remember(redis_client, ContactRef("gone", "lead"))
    remember(redis_client, ContactRef("other", "user"), customer="+14155550999", conversation="202")
    forget_deleted(redis_client, "gone")
    threads, identities = ThreadStore(redis_client), IdentityMap(redis_client)
    assert identities.get(NUMBER) is None and identities.identities_of("gone") == []
    assert threads.by_conversation("101") is None and threads.of_contact("gone") == []
    assert identities.get("phone:+14155550999") == ContactRef("other", "user")
    assert threads.by_conversation("202") is not None


def test_forgetting_logs_no_full_number(redis_client, caplog):
    remember(redis_client, ContactRef("gone", "lead"))
    with caplog.at_level("WARNING"):
        forget_deleted(redis_client, "gone")
    assert "1 identities and 1 conversations" in caplog.text
    assert "+14155550123" not in caplog.text
