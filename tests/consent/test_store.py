"""The consent store on a real Redis: per business address, changes only, every change audited."""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor

import pytest

from bridge.consent.store import ConsentStore, Source, scope_of
from bridge.core.errors import ConfigurationError
from bridge.core.pseudonyms import Pseudonyms
from bridge.infra import keys
from bridge.model.traces import number_forms

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


# --- a forgotten customer: only their opt-outs stay, hashed ---

FORGOTTEN = "phone:+525587143926"
KEY = Pseudonyms(b"the deployment's forget key, 32b")


def forgotten_customer(redis_client) -> ConsentStore:
    """A customer who opted out of one number, in and out of another, then was forgotten."""
    store = ConsentStore(redis_client, pseudonyms=lambda: KEY)
    for scope, opted_out, reason in [
        ("sms:+12025550100", True, "asked by phone: +52 55 8714 3926, ticket 4711"),
        ("sms:+12025550199", True, "texted STOP"),
        ("sms:+12025550199", False, "texted START"),
    ]:
        store.change(scope, FORGOTTEN, opted_out=opted_out, source=Source.OPERATOR, reason=reason, by="ops")
    store.forget(FORGOTTEN, KEY, forms=number_forms(FORGOTTEN.removeprefix("phone:")))
    return store


def test_a_forgotten_customers_opt_out_still_holds_under_a_hash_and_nothing_names_them(redis_client):
    store = forgotten_customer(redis_client)

    held = store.opted_out("sms:+12025550100", FORGOTTEN)
    assert held is not None and held.reason == "asked an operator"  # their number was in the words
    assert store.opted_out("sms:+12025550199", FORGOTTEN) is None  # they had opted back in there
    assert store.history(FORGOTTEN) == []
    assert [consent.scope for consent in store.of_customer(FORGOTTEN)] == ["sms:+12025550100"]
    stored = [key.decode() for key in redis_client.scan_iter()]
    assert not [key for key in stored if "5587143926" in key]
    assert sorted(stored) == [keys.consent("sms:+12025550100", KEY.of(FORGOTTEN)), keys.FORGET_KEY_ID]


def test_a_forgotten_customers_start_opts_them_back_in_under_their_number(redis_client):
    store = forgotten_customer(redis_client)
    assert (
        store.change(
            "sms:+12025550100",
            FORGOTTEN,
            opted_out=True,
            source=Source.KEYWORD,
            reason="texted STOP",
            by="in-3",
        )
        is None
    )  # already so: nothing recorded

    back = store.change(
        "sms:+12025550100",
        FORGOTTEN,
        opted_out=False,
        source=Source.KEYWORD,
        reason="texted START",
        by="in-4",
    )

    assert back is not None and store.opted_out("sms:+12025550100", FORGOTTEN) is None
    assert not redis_client.exists(keys.consent("sms:+12025550100", KEY.of(FORGOTTEN)))
    assert [entry["reason"] for entry in store.history(FORGOTTEN)] == ["texted START"]


def test_a_process_holding_another_key_is_told_to_configure_it_rather_than_miss_an_opt_out(redis_client):
    forgotten_customer(redis_client)
    elsewhere = ConsentStore(redis_client, pseudonyms=lambda: Pseudonyms(b"another machine's own key, 32 b"))
    with pytest.raises(ConfigurationError, match="BRIDGE_FORGET_SECRET"):
        elsewhere.opted_out("sms:+12025550100", FORGOTTEN)
    without = ConsentStore(redis_client, pseudonyms=lambda: None)
    with pytest.raises(ConfigurationError, match="BRIDGE_FORGET_SECRET"):
        without.opted_out("sms:+12025550100", FORGOTTEN)
    with pytest.raises(ConfigurationError):  # nor can it forget with another key
        elsewhere.forget("phone:+14155550123", Pseudonyms(b"another machine's own key, 32 b"), forms=())


def test_customers_never_forgotten_are_read_without_the_key(redis_client):
    def no_key() -> Pseudonyms:
        raise AssertionError("the key is looked up only once someone was forgotten")

    store = ConsentStore(redis_client, pseudonyms=no_key)
    store.change(
        "sms:+12025550100", CUSTOMER, opted_out=True, source=Source.KEYWORD, reason="STOP", by="in-1"
    )
    assert store.opted_out("sms:+12025550100", CUSTOMER) is not None
    assert store.opted_out("sms:+12025550100", "phone:+14155550199") is None
