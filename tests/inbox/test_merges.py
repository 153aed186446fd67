"""Merging a contact into another: the rules checked before Intercom is asked, every attempt audited
with both contacts as they were, and after a merge the bridge's records following the survivor.
Against the sandbox, which merges as Intercom 2.16 does (lead into user, duplicates only unless
told otherwise, the lead gone for good), and a real Redis."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis

from bridge.contacts.resolution import IdentityMap
from bridge.conversations.rerouting import follow_alias
from bridge.conversations.threads import ThreadStore
from bridge.core.settings import Settings
from bridge.inbox.merges import (
    MergeAttempt,
    MergeAudit,
    MergeOutcome,
    Merger,
    label,
    share_identity,
    why_not,
)
from bridge.infra import keys
from bridge.intercom.client import IntercomClient
from bridge.intercom.models import Contact, ContactRef
from tests.conversations.support import BUSINESS, CUSTOMER, opened_thread
from tests.helpers import SandboxControl

ADMIN = {"id": "991267101", "name": "Sandbox Admin", "email": "admin@sandbox.test"}
NUMBER = f"phone:{CUSTOMER}"


def contact(role: str, **fields: Any) -> Contact:
    return Contact(id=fields.pop("id", f"{role}-1"), role=role, updated_at=0, created_at=0, **fields)


@pytest.fixture
def merger(redis_client: redis.Redis, settings: Settings) -> Iterator[Merger]:
    with IntercomClient.from_settings(settings) as intercom:
        yield Merger(redis_client, intercom, default_region="US")


@pytest.fixture
def lead(sandbox: SandboxControl, redis_client: redis.Redis) -> dict[str, Any]:
    """A lead the bridge created for a new number, with its number and thread remembered."""
    created = sandbox.seed_contact(role="lead", phone=CUSTOMER, name="Ada (new phone)")
    IdentityMap(redis_client).set(NUMBER, ContactRef(created["id"], "lead"))
    opened_thread(redis_client, created["id"])
    return created


def merge_calls(sandbox: SandboxControl) -> int:
    return sum(1 for e in sandbox.requests() if e["path"] == "/contacts/merge")


def audit(redis_client: redis.Redis) -> list[dict[str, Any]]:
    return MergeAudit(redis_client).recent()


# --- the rules, before Intercom is asked ---


def test_a_lead_into_a_user_may_be_merged():
    assert why_not(contact("lead"), contact("user")) is None


def test_a_contact_cannot_be_merged_into_itself():
    same = contact("lead", id="x")
    outcome, message = why_not(same, same)  # type: ignore[misc]
    assert outcome is MergeOutcome.SAME_CONTACT and "choose the contact to merge it into" in message


def test_a_user_cannot_be_merged_away_and_the_agent_is_told_the_way_round():
    outcome, message = why_not(contact("user", name="Ada"), contact("user", id="u2"))  # type: ignore[misc]
    assert outcome is MergeOutcome.WRONG_ROLES
    assert "user Ada is a user" in message and "Merge the other contact into this one" in message


def test_a_lead_cannot_be_merged_into_a_lead_and_the_agent_is_told_what_to_do():
    outcome, message = why_not(contact("lead"), contact("lead", id="l2", email="b@x.test"))  # type: ignore[misc]
    assert outcome is MergeOutcome.WRONG_ROLES
    assert "lead b@x.test is a lead" in message and "Choose a user" in message


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ({"email": "Ada@Example.com"}, {"email": "ada@example.com"}),
        ({"phone": "+1 (415) 555-0123"}, {"phone": "4155550123"}),  # the same number, written two ways
        ({"phone": "+14155550123", "email": "a@x.test"}, {"phone": "+14155550123", "email": "b@x.test"}),
    ],
)
def test_contacts_sharing_an_email_or_a_number_are_duplicates_to_intercom(source, target):
    assert share_identity(contact("lead", **source), contact("user", **target), region="US")


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ({}, {}),
        ({"email": "a@x.test"}, {"email": "b@x.test"}),
        ({"phone": "+14155550123"}, {"phone": "+14155550124"}),
        ({"phone": "not a number"}, {"phone": "not a number"}),  # no number at all, shared or not
    ],
)
def test_contacts_sharing_nothing_are_not_duplicates(source, target):
    assert not share_identity(contact("lead", **source), contact("user", **target), region="US")


def test_a_contact_is_named_by_its_role_and_the_best_it_has():
    assert label(contact("lead", id="c1")) == "lead c1"
    assert label(contact("user", id="c1", email="a@x.test")) == "user a@x.test"
    assert label(contact("user", id="c1", email="a@x.test", name="Ada")) == "user Ada"


# --- the audit ---


def test_the_audit_lists_the_latest_attempts_newest_first(redis_client):
    audit_log = MergeAudit(redis_client)
    for n in range(5):
        audit_log.record(
            MergeAttempt(at=n, admin=ADMIN, from_id=f"f{n}", into_id="i", outcome="x", message="")
        )
    assert [row["from_id"] for row in audit_log.recent(limit=3)] == ["f4", "f3", "f2"]


# --- finding the contact an agent named ---


def test_an_agent_finds_a_contact_by_id_email_or_user_id(merger, sandbox):
    user = sandbox.seed_contact(role="user", email="ada@example.com", external_id="cust-42")
    assert merger.find(user["id"]).id == user["id"]
    assert merger.find("  ada@example.com ").id == user["id"]
    assert merger.find("cust-42").id == user["id"]


def test_a_user_id_that_starts_like_an_intercom_id_is_still_a_user_id(merger, sandbox):
    user = sandbox.seed_contact(role="user", external_id="a" * 24 + "-eu")
    assert merger.find("a" * 24 + "-eu").id == user["id"]


def test_nothing_found_is_none(merger, sandbox, lead):
    assert merger.find("") is None
    assert merger.find("nobody@example.com") is None
    assert merger.find("f" * 24) is None  # an id no contact has


@pytest.mark.parametrize("typed", ["../admins", "0" * 24 + "\n", "ABCDEF" * 4, "0" * 23])
def test_what_is_not_a_contact_id_names_no_contact_and_never_reaches_a_url(merger, sandbox, typed):
    assert merger.contact(typed) is None
    assert not [e for e in sandbox.requests() if e["path"].startswith("/contacts")]


# --- merging ---


def test_a_merge_moves_the_lead_s_records_to_the_user_audits_it_and_cannot_be_undone(
    merger, sandbox, redis_client, lead
):
    user = sandbox.seed_contact(role="user", name="Ada Lovelace", phone="+14155550123")

    result = merger.merge(from_id=lead["id"], into_id=user["id"], admin=ADMIN)

    assert result.merged and result.outcome is MergeOutcome.MERGED
    assert result.message == (
        "Merged lead Ada (new phone) into user Ada Lovelace: its conversations are now user Ada Lovelace's."
    )
    assert sandbox.api("GET", f"/contacts/{lead['id']}").status_code == 410
    survivor = ContactRef(user["id"], "user")
    assert IdentityMap(redis_client).get(NUMBER) == survivor
    assert ThreadStore(redis_client).by_conversation("101").contact_id == user["id"]
    assert follow_alias(redis_client, ContactRef(lead["id"], "lead")) == survivor

    [row] = audit(redis_client)
    assert (row["from_id"], row["into_id"], row["outcome"], row["admin"]) == (
        lead["id"],
        user["id"],
        "merged",
        ADMIN,
    )
    assert row["from_snapshot"]["role"] == "lead" and row["from_snapshot"]["name"] == "Ada (new phone)"
    assert row["into_snapshot"]["id"] == user["id"]
    assert row["rerouted"] == {"identities": [NUMBER], "threads": [f"twilio:sms:{BUSINESS}:{NUMBER}"]}

    again = merger.merge(from_id=lead["id"], into_id=user["id"], admin=ADMIN)
    assert again.outcome is MergeOutcome.NOT_FOUND  # the lead is gone for good
    assert [row["outcome"] for row in audit(redis_client)] == ["not_found", "merged"]
    assert IdentityMap(redis_client).get(NUMBER) == survivor


def test_contacts_sharing_nothing_are_refused_by_intercom_and_only_an_override_merges_them(
    merger, sandbox, redis_client, lead
):
    user = sandbox.seed_contact(role="user", email="ada@example.com")

    refused = merger.merge(from_id=lead["id"], into_id=user["id"], admin=ADMIN)
    assert refused.outcome is MergeOutcome.NOT_DUPLICATES
    assert (
        "share no email or phone" in refused.message
        and "Merge anyway only if you are sure" in refused.message
    )
    assert sandbox.api("GET", f"/contacts/{lead['id']}").status_code == 200
    assert IdentityMap(redis_client).get(NUMBER) == ContactRef(lead["id"], "lead")
    assert not redis_client.exists(keys.alias(lead["id"]))

    merged = merger.merge(from_id=lead["id"], into_id=user["id"], admin=ADMIN, override=True)
    assert merged.merged
    assert [(row["outcome"], row["override"]) for row in audit(redis_client)] == [
        ("merged", True),
        ("refused_not_duplicates", False),
    ]
    assert audit(redis_client)[1]["rerouted"] == {}


def test_a_merge_the_rules_forbid_is_refused_without_asking_intercom_and_audited(
    merger, sandbox, redis_client, lead
):
    other_lead = sandbox.seed_contact(role="lead", phone="+14155550123")
    result = merger.merge(from_id=lead["id"], into_id=other_lead["id"], admin=ADMIN)
    assert result.outcome is MergeOutcome.WRONG_ROLES
    assert merge_calls(sandbox) == 0
    [row] = audit(redis_client)
    assert row["outcome"] == "refused_roles" and row["into_snapshot"]["role"] == "lead"


def test_an_unknown_contact_is_not_found_and_the_attempt_still_audited(merger, sandbox, redis_client, lead):
    result = merger.merge(from_id=lead["id"], into_id="e" * 24, admin=ADMIN)
    assert result.outcome is MergeOutcome.NOT_FOUND and "e" * 24 in result.message
    assert merge_calls(sandbox) == 0
    [row] = audit(redis_client)
    assert row["from_snapshot"]["id"] == lead["id"] and row["into_snapshot"] is None


def test_a_refusal_before_intercom_is_audited_with_the_same_fields_as_a_merge(
    merger, sandbox, redis_client, lead
):
    user = sandbox.seed_contact(role="user", phone="+14155550123")
    merger.record_refusal(
        from_id=lead["id"],
        into_id="nobody",
        admin=ADMIN,
        outcome=MergeOutcome.NOT_FOUND,
        message="No contact",
    )
    merger.merge(from_id=lead["id"], into_id=user["id"], admin=ADMIN)
    refusal, merge = reversed(audit(redis_client))
    assert set(refusal) == set(merge)
    assert (refusal["outcome"], refusal["message"], refusal["into_snapshot"]) == (
        "not_found",
        "No contact",
        None,
    )
