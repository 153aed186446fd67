"""The consent store on a real Redis: per business address, changes only, every change audited."""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor

import pytest

from bridge.consent.store import ConsentStore, Source, scope_of

CUSTOMER = "phone:+14155550123"


@pytest.mark.parametrize(
    ("channel", "business", "scope"),
    [
        ("sms", "+12025550100", "sms:+12025550100"),
        ("sms", "12025550100", "sms:+12025550100"),  # Vonage writes it without the +
        ("sms", "+1 (202) 555-0100", "sms:+12025550100"),
        ("sms", "12345", "sms:12345"),  # a short code stays itself
        ("sms", "ACME", "sms:acme"),
        ("whatsapp", "whatsapp:+12025550100", "whatsapp:+12025550100"),  # Twilio
        ("whatsapp", "106540352242922", "whatsapp:106540352242922"),  # Meta's phone number id
    ],
)
def test_a_business_address_has_one_scope_however_a_provider_writes_it(channel, business, scope):
    assert scope_of(channel, business) == scope


def test_an_opt_out_holds_for_that_number_only_until_the_customer_opts_back_in(redis_client):
    store = ConsentStore(redis_client)
    out = store.change(
        "sms:+12025550100", CUSTOMER, opted_out=True, source=Source.KEYWORD, reason="texted STOP", by="in-1"
    )
    assert out is not None and store.opted_out("sms:+12025550100", CUSTOMER) == out
    assert store.opted_out("sms:+12025550199", CUSTOMER) is None  # another number of the business
    assert store.opted_out("whatsapp:+12025550100", CUSTOMER) is None  # WhatsApp is its own channel

    back = store.change(
        "sms:+12025550100", CUSTOMER, opted_out=False, source=Source.KEYWORD, reason="texted START", by="in-2"
    )
    assert back is not None and not back.opted_out
    assert store.opted_out("sms:+12025550100", CUSTOMER) is None


def test_a_repeated_choice_changes_nothing_and_adds_nothing_to_the_trail(redis_client):
    store = ConsentStore(redis_client)
    scope = "sms:+12025550100"
    assert (
        store.change(scope, CUSTOMER, opted_out=False, source=Source.KEYWORD, reason="START", by="in-0")
        is None
    )
    assert store.change(scope, CUSTOMER, opted_out=True, source=Source.KEYWORD, reason="STOP", by="in-1")
    assert (
        store.change(scope, CUSTOMER, opted_out=True, source=Source.PROVIDER, reason="21610", by="st-1")
        is None
    )
    history = store.history(CUSTOMER)
    assert [(entry["opted_out"], entry["reason"], entry["by"]) for entry in history] == [
        (True, "STOP", "in-1")
    ]


def test_concurrent_changes_leave_a_trail_that_matches_the_state(redis_client):
    store = ConsentStore(redis_client)
    scope = "sms:+12025550100"

    def flip(index: int) -> None:
        store.change(
            scope, CUSTOMER, opted_out=index % 2 == 0, source=Source.KEYWORD, reason=str(index), by=str(index)
        )

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(flip, range(40)))
    history = store.history(CUSTOMER)
    # Each recorded change flips the state, and the last one is the state in force.
    assert all(a["opted_out"] != b["opted_out"] for a, b in itertools.pairwise(history))
    assert history[-1]["opted_out"] == store.get(scope, CUSTOMER).opted_out
    assert [consent.scope for consent in store.of_customer(CUSTOMER)] == [scope]
