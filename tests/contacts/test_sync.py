"""`bridge contacts sync`: every Intercom contact's number into the identity map, resumably, reading only.

Real parts throughout: the sandbox over HTTP, a real Redis, the real Intercom client.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from click.testing import CliRunner

from bridge.cli import contacts as cli_contacts
from bridge.cli.contacts import contacts
from bridge.contacts.matching import ContactPriority
from bridge.contacts.resolution import IdentityMap
from bridge.contacts.sync import KeyHolders, SyncProgress, SyncStore, contact_keys, sync_contacts
from bridge.core.errors import IntercomUnavailable
from bridge.infra import keys
from bridge.intercom.models import Contact, ContactRef


def run_sync(
    redis_client,
    intercom,
    *,
    region: str = "US",
    per_page: int = 3,
    priority: ContactPriority = ContactPriority.LATEST_UPDATED,
    **options: Any,
):
    return sync_contacts(
        redis_client=redis_client,
        intercom=intercom,
        default_region=region,
        per_page=per_page,
        priority=priority,
        **options,
    )


def seed_numbers(sandbox, count: int) -> list[dict[str, Any]]:
    return [
        sandbox.seed_contact(role="lead", phone=f"+1415555{n:04d}", updated_at=1_000 + n)
        for n in range(count)
    ]


def list_requests(sandbox) -> list[dict[str, Any]]:
    return [e for e in sandbox.requests() if e["method"] == "GET" and e["path"] == "/contacts"]


def cursor_of(exchange: dict[str, Any]) -> str | None:
    return parse_qs(exchange["query"]).get("starting_after", [None])[0]


def forget_requests(sandbox) -> None:
    httpx.delete(f"{sandbox.url}/_sandbox/requests").raise_for_status()


# --- the pass ---


def test_a_sync_over_several_pages_maps_every_phone(redis_client, sandbox, intercom):
    seeded = seed_numbers(sandbox, 8)
    summary = run_sync(redis_client, intercom, per_page=3)
    identities = IdentityMap(redis_client)
    for contact in seeded:
        assert identities.get(f"phone:{contact['phone']}") == ContactRef(id=contact["id"], role="lead")
    assert (summary.contacts_read, summary.pages, summary.mapped) == (8, 3, 8)
    assert (summary.already_mapped, summary.ambiguous, summary.unreadable_phones) == (0, 0, 0)
    assert [cursor_of(e) is None for e in list_requests(sandbox)] == [True, False, False]
    assert all(parse_qs(e["query"])["per_page"] == ["3"] for e in list_requests(sandbox))


def test_numbers_written_any_way_are_mapped_by_their_e164_and_unreadable_ones_counted(
    redis_client, sandbox, intercom
):
    stored = {
        "+1 (415) 555-0123": "+14155550123",
        "0871234567": "+353871234567",  # national, in the default region IE
        "00 44 20 7946 0958": "+442079460958",  # IE's international prefix
        "+353 (0)1 234 5678": "+35312345678",
    }
    ids = {phone: sandbox.seed_contact(role="user", phone=phone)["id"] for phone in stored}
    for unreadable in ("n/a", "call me", "+999 123"):
        sandbox.seed_contact(role="lead", phone=unreadable)
    sandbox.seed_contact(role="lead", name="no phone at all")
    summary = run_sync(redis_client, intercom, region="IE")
    identities = IdentityMap(redis_client)
    for phone, e164 in stored.items():
        assert identities.get(f"phone:{e164}") == ContactRef(id=ids[phone], role="user"), phone
    assert (summary.contacts_read, summary.mapped, summary.unreadable_phones) == (8, 4, 3)


def test_two_contacts_with_one_number_the_latest_updated_wins_and_it_is_reported_ambiguous(
    redis_client, sandbox, intercom
):
    # The winner is listed first and the loser pages later: the order must not matter.
    newer = sandbox.seed_contact(role="lead", phone="+14155550123", updated_at=2_000)
    seed_numbers(sandbox, 3)
    older = sandbox.seed_contact(role="user", phone="(415) 555-0123", updated_at=1_000)
    also = sandbox.seed_contact(role="lead", phone="+14155550999", updated_at=500)
    latest = sandbox.seed_contact(role="lead", phone="+1 415 555 0999", updated_at=900)
    summary = run_sync(redis_client, intercom, per_page=2)
    identities = IdentityMap(redis_client)
    assert identities.get("phone:+14155550123") == ContactRef(id=newer["id"], role="lead")
    assert identities.get("phone:+14155550999") == ContactRef(id=latest["id"], role="lead")
    assert (summary.ambiguous, summary.mapped, summary.repointed) == (2, 5, 0)
    assert older["id"] != newer["id"] and also["id"] != latest["id"]


def test_under_user_priority_a_user_wins_the_number_over_a_newer_lead_and_a_later_run_repoints_it(
    redis_client, sandbox, intercom
):
    user = sandbox.seed_contact(role="user", phone="+14155550123", updated_at=1_000)
    lead = sandbox.seed_contact(role="lead", phone="(415) 555-0123", updated_at=2_000)
    identities = IdentityMap(redis_client)

    summary = run_sync(redis_client, intercom, per_page=1, priority=ContactPriority.USER)
    assert identities.get("phone:+14155550123") == ContactRef(id=user["id"], role="user")
    assert (summary.ambiguous, summary.priority) == (1, ContactPriority.USER)

    # The workspace goes back to the default: the next run moves the number to the newer lead.
    again = run_sync(redis_client, intercom, per_page=1)
    assert identities.get("phone:+14155550123") == ContactRef(id=lead["id"], role="lead")
    assert again.repointed == 1


def test_an_entry_the_map_had_is_kept_unless_a_contact_holding_the_number_beats_it(
    redis_client, sandbox, intercom
):
    identities = IdentityMap(redis_client)
    stale = sandbox.seed_contact(role="lead", phone="+14155550100", updated_at=1_000)
    fresh = sandbox.seed_contact(role="user", phone="+1 415-555-0100", updated_at=3_000)
    identities.set("phone:+14155550100", ContactRef(id=stale["id"], role="lead"))
    # Matched once through a variant (or a merge): the list never shows this contact with the number.
    identities.set("phone:+14155550200", ContactRef(id="bridge-matched-elsewhere", role="lead"))
    sandbox.seed_contact(role="lead", phone="+14155550200", updated_at=9_000)
    agreeing = sandbox.seed_contact(role="lead", phone="+14155550300")
    identities.set("phone:+14155550300", ContactRef(id=agreeing["id"], role="lead"))

    summary = run_sync(redis_client, intercom)

    assert identities.get("phone:+14155550100") == ContactRef(id=fresh["id"], role="user")
    assert identities.get("phone:+14155550200") == ContactRef(id="bridge-matched-elsewhere", role="lead")
    assert identities.get("phone:+14155550300") == ContactRef(id=agreeing["id"], role="lead")
    assert (summary.mapped, summary.repointed, summary.already_mapped, summary.kept_unseen) == (0, 1, 2, 1)
    assert "phone:+14155550100" not in identities.identities_of(stale["id"])  # reverse index in step


def test_contacts_with_a_bridge_identity_map_that_identity_too(redis_client, sandbox, intercom):
    sandbox.api("POST", "/data_attributes", json={"name": "bridge_identity", "model": "contact"})
    user = sandbox.seed_contact(
        role="lead", name="Sanne", custom_attributes={"bridge_identity": "whatsapp_user:US.1349120865530"}
    )
    sandbox.seed_contact(role="lead", custom_attributes={"bridge_identity": "not an identity key"})
    summary = run_sync(redis_client, intercom)
    identities = IdentityMap(redis_client)
    assert identities.get("whatsapp_user:US.1349120865530") == ContactRef(id=user["id"], role="lead")
    assert (summary.mapped, summary.sender_ids) == (1, 1)


def test_sync_only_reads_intercom(redis_client, sandbox, intercom):
    seed_numbers(sandbox, 5)
    forget_requests(sandbox)
    run_sync(redis_client, intercom, per_page=2)
    exchanges = sandbox.requests()
    assert exchanges and {(e["method"], e["path"]) for e in exchanges} == {("GET", "/contacts")}
    assert len(sandbox.contacts()) == 5


# --- resuming ---


def fail_after_first_page(sandbox):
    """An `on_page` hook: from the second page on, Intercom answers 500 (until cleared)."""

    def hook(progress) -> None:
        if progress.pages == 1:
            sandbox.fault(500, times=None, path_prefix="/contacts")

    return hook


def test_an_interrupted_run_continues_from_the_last_completed_page(redis_client, sandbox, intercom):
    seeded = seed_numbers(sandbox, 8)
    with pytest.raises(IntercomUnavailable):
        run_sync(redis_client, intercom, on_page=fail_after_first_page(sandbox))
    stopped = SyncStore(redis_client).progress()
    assert stopped is not None and (stopped.pages, stopped.contacts_read) == (1, 3)
    sandbox.clear_faults()
    forget_requests(sandbox)

    summary = run_sync(redis_client, intercom)

    assert summary.resumed and (summary.contacts_read, summary.pages, summary.mapped) == (8, 3, 8)
    assert [cursor_of(e) for e in list_requests(sandbox)][0] == stopped.cursor  # not page 1 again
    assert all(cursor_of(e) for e in list_requests(sandbox))
    identities = IdentityMap(redis_client)
    assert all(identities.get(f"phone:{c['phone']}") for c in seeded)
    assert not redis_client.exists(keys.CONTACTS_SYNC)  # a completed run leaves nothing behind


def test_ctrl_c_between_pages_keeps_the_position(redis_client, sandbox, intercom):
    seed_numbers(sandbox, 7)

    def interrupt(progress) -> None:
        if progress.pages == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sync(redis_client, intercom, on_page=interrupt)
    summary = run_sync(redis_client, intercom)
    assert (summary.contacts_read, summary.pages, summary.mapped) == (7, 3, 7)


def test_a_page_applied_twice_after_a_crash_counts_once(redis_client, sandbox, intercom, monkeypatch):
    # A crash after the page reached the map but before its progress was saved: the page is
    # read again, and neither the counters nor the outcomes may change.
    seed_numbers(sandbox, 6)
    original = SyncStore.save_progress
    calls = {"n": 0}

    def crash_on_second_page(self, progress) -> None:
        calls["n"] += 1
        if progress.pages == 2 and calls["n"] == 3:
            raise ConnectionError("the process died here")
        original(self, progress)

    monkeypatch.setattr(SyncStore, "save_progress", crash_on_second_page)
    with pytest.raises(ConnectionError):
        run_sync(redis_client, intercom)
    summary = run_sync(redis_client, intercom)
    assert (summary.contacts_read, summary.mapped, summary.already_mapped) == (6, 6, 0)


def test_restart_starts_over_from_the_first_page(redis_client, sandbox, intercom):
    seed_numbers(sandbox, 8)
    with pytest.raises(IntercomUnavailable):
        run_sync(redis_client, intercom, on_page=fail_after_first_page(sandbox))
    sandbox.clear_faults()
    forget_requests(sandbox)
    summary = run_sync(redis_client, intercom, restart=True)
    assert not summary.resumed and (summary.contacts_read, summary.pages) == (8, 3)
    assert cursor_of(list_requests(sandbox)[0]) is None
    # What the stopped run mapped is now already in the map.
    assert (summary.mapped, summary.already_mapped) == (5, 3)


def test_a_completed_run_is_not_resumed_the_next_run_reads_everything_again(redis_client, sandbox, intercom):
    seed_numbers(sandbox, 4)
    run_sync(redis_client, intercom)
    forget_requests(sandbox)
    summary = run_sync(redis_client, intercom)
    assert not summary.resumed and summary.contacts_read == 4 and summary.already_mapped == 4
    assert cursor_of(list_requests(sandbox)[0]) is None


# --- the pure parts ---


@pytest.mark.parametrize(
    ("item", "expected", "unreadable"),
    [
        ({"phone": "+1 (415) 555-0123"}, ("phone:+14155550123",), False),
        ({"phone": "(415) 555-0123"}, ("phone:+14155550123",), False),
        ({"phone": "00 44 20 7946 0958"}, ("phone:+442079460958",), False),  # Europe's exit code in the US
        ({"phone": "call me"}, (), True),
        ({"phone": None}, (), False),
        ({"phone": "  "}, (), False),
        (
            {"phone": "+14155550123", "custom_attributes": {"bridge_identity": "short_code:12345"}},
            ("phone:+14155550123", "short_code:12345"),
            False,
        ),
        ({"custom_attributes": {"bridge_identity": "nonsense"}}, (), False),
        ({"custom_attributes": {"bridge_identity": 7}}, (), False),
    ],
)
def test_the_keys_a_listed_contact_holds(item, expected, unreadable):
    found = contact_keys({"id": "c", **item}, default_region="US")
    assert (found.keys, found.unreadable_phone) == (expected, unreadable)


def contact(cid: str, updated_at: int, role: str = "lead", created_at: int = 0) -> Contact:
    return Contact(id=cid, role=role, updated_at=updated_at, created_at=created_at)


@pytest.mark.parametrize(
    ("before", "holders", "current", "written", "outcome"),
    [
        (None, [contact("a", 1)], None, "a", "mapped"),
        (None, [contact("a", 1), contact("b", 2)], "a", "b", "mapped"),  # this run's own entry moves
        ("a", [contact("a", 1), contact("b", 2)], "a", "b", "repointed"),
        ("b", [contact("a", 1), contact("b", 2)], "b", None, "already_mapped"),
        ("z", [contact("a", 1)], "z", None, "already_mapped"),  # the map's own decision stays
        # Equal updated_at: a user before a lead, then the older contact (bridge.contacts.matching).
        (None, [contact("a", 5), contact("b", 5, role="user")], None, "b", "mapped"),
        (None, [contact("b", 5, created_at=9), contact("a", 5, created_at=1)], None, "a", "mapped"),
    ],
)
def test_which_entry_a_keys_holders_lead_to(before, holders, current, written, outcome):
    record = KeyHolders(before=before).adding(holders)
    current_ref = ContactRef(id=current, role="lead") if current else None
    entry = record.entry_to_write(current_ref)
    assert (entry.id if entry else None, record.outcome.value) == (written, outcome)


def test_holders_survive_storage_and_a_contact_seen_twice_keeps_its_latest_update():
    record = KeyHolders(before="x").adding([contact("a", 1)]).adding([contact("a", 7), contact("b", 3)])
    assert KeyHolders.from_json(record.to_json()) == record
    assert {c.id: c.updated_at for c in record.contacts} == {"a": 7, "b": 3}


# --- the sandbox's list serves Intercom's cursor semantics ---


def test_the_list_cursor_goes_on_after_the_last_contact_served(sandbox):
    first = [sandbox.seed_contact(role="lead", name=f"c{n}") for n in range(3)]
    page = sandbox.api("GET", "/contacts", params={"per_page": 2}).json()
    assert [c["id"] for c in page["data"]] == [c["id"] for c in first[:2]]
    assert (page["total_count"], page["pages"]["total_pages"]) == (3, 2)
    late = sandbox.seed_contact(role="lead", name="created during the pass")
    cursor = page["pages"]["next"]["starting_after"]
    rest = sandbox.api("GET", "/contacts", params={"per_page": 2, "starting_after": cursor}).json()
    assert [c["id"] for c in rest["data"]] == [first[2]["id"], late["id"]]
    assert "next" not in rest["pages"]


def test_the_list_leaves_out_merged_contacts_and_refuses_a_cursor_it_did_not_issue(sandbox):
    user = sandbox.seed_contact(role="user", phone="+14155550123")
    lead = sandbox.seed_contact(role="lead", phone="+14155550123")
    sandbox.api("POST", "/contacts/merge", json={"from": lead["id"], "into": user["id"]})
    assert [c["id"] for c in sandbox.api("GET", "/contacts").json()["data"]] == [user["id"]]
    refused = sandbox.api("GET", "/contacts", params={"starting_after": "bm90IGEgY3Vyc29y"})
    assert refused.status_code == 400 and refused.json()["errors"][0]["code"] == "client_error"


# --- the command ---


def test_the_command_reports_progress_and_the_summary(bridge_env, redis_client, sandbox):
    seed_numbers(sandbox, 3)
    sandbox.seed_contact(role="lead", phone="+1 415-555-0001", updated_at=5_000)
    sandbox.seed_contact(role="lead", phone="n/a")
    result = CliRunner().invoke(contacts, ["sync"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "page 1: 5 of 5 contacts read" in result.output
    assert "Contacts read:                 5 (1 page)" in result.output
    assert "Numbers mapped:                3" in result.output
    assert (
        "Numbers with several contacts: 1 (the most recently updated contact wins, users and leads "
        "alike: BRIDGE_CONTACT_PRIORITY=latest_updated)"
    ) in result.output
    assert "Phones that could not be read: 1" in result.output


def test_the_command_says_what_failed_and_continues_a_stopped_run(
    bridge_env, redis_client, sandbox, intercom
):
    for n in range(160):  # more than one page of 150, the command's page size
        sandbox.seed_contact(role="lead", phone=f"+1415556{n:04d}")
    sandbox.fault(500, times=None, path_prefix="/contacts")
    failed = CliRunner().invoke(contacts, ["sync"])
    assert failed.exit_code == 2
    assert "Intercom answered 500" in failed.output
    assert "Stopped before the first page was read." in failed.output
    sandbox.clear_faults()
    with pytest.raises(IntercomUnavailable):
        run_sync(redis_client, intercom, per_page=150, on_page=fail_after_first_page(sandbox))
    sandbox.clear_faults()
    done = CliRunner().invoke(contacts, ["sync"])
    assert done.exit_code == 0, done.output
    assert "Contacts read:                 160 (2 pages; continued a stopped run)" in done.output
    again = CliRunner().invoke(contacts, ["sync", "--restart"])
    assert "Numbers already mapped:        160" in again.output


def test_ctrl_c_in_the_command_says_where_it_stopped(bridge_env, redis_client, sandbox, monkeypatch):
    def interrupted(**options: Any) -> None:
        options["on_page"](SyncStore(redis_client).progress())
        raise KeyboardInterrupt

    SyncStore(redis_client).save_progress(SyncProgress(cursor="c", pages=2, contacts_read=300))
    monkeypatch.setattr(cli_contacts, "sync_contacts", interrupted)
    result = CliRunner().invoke(contacts, ["sync"])
    assert result.exit_code == 130
    assert "Stopped after page 2 (300 contacts read)" in result.output
    assert "--restart" in result.output
