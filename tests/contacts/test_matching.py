"""The search the bridge runs for a number, and the rule that picks among several contacts."""

from __future__ import annotations

import pytest

from bridge.contacts.matching import (
    ContactPriority,
    MatchRule,
    choose_contact,
    chosen_text,
    decide_from_search,
    phone_search_query,
)
from bridge.core.settings import Settings
from bridge.intercom.models import Contact


def contact(id: str, role: str = "lead", updated_at: int = 100, created_at: int = 1) -> Contact:
    return Contact(id=id, role=role, updated_at=updated_at, created_at=created_at)


def test_the_latest_updated_contact_wins_users_and_leads_alike():
    winner = choose_contact([contact("a", "user", updated_at=100), contact("b", "lead", updated_at=200)])
    assert winner is not None and winner.id == "b"


def test_ties_prefer_a_user_then_the_older_contact_then_the_smaller_id():
    assert choose_contact([contact("a", "lead"), contact("b", "user")]).id == "b"
    assert choose_contact([contact("a", created_at=5), contact("b", created_at=2)]).id == "b"
    assert choose_contact([contact("b"), contact("a")]).id == "a"


def test_the_choice_does_not_depend_on_the_order_intercom_answers_in():
    candidates = [contact("a", "user", 100, 3), contact("b", "lead", 100, 3), contact("c", "user", 100, 2)]
    assert {choose_contact(candidates).id, choose_contact(candidates[::-1]).id} == {"c"}


def test_no_candidates_no_choice():
    assert choose_contact([]) is None
    assert decide_from_search([]) is None


def test_a_search_decision_keeps_every_candidate_once():
    decision = decide_from_search(
        [contact("a", updated_at=1), contact("b", updated_at=2), contact("a", updated_at=1)]
    )
    assert decision.contact_id == "b"
    assert decision.rule is MatchRule.SEARCH_LATEST
    assert [c.id for c in decision.candidates] == ["b", "a"]
    assert decision.ambiguous


def test_a_single_match_is_not_ambiguous():
    decision = decide_from_search([contact("a")])
    assert decision.rule is MatchRule.SEARCH and not decision.ambiguous


USER, LEAD, LATEST = ContactPriority.USER, ContactPriority.LEAD, ContactPriority.LATEST_UPDATED
OLD_USER, NEW_LEAD = contact("u", "user", updated_at=100), contact("l", "lead", updated_at=200)


@pytest.mark.parametrize(
    ("candidates", "priority", "winner", "rule", "chosen_by"),
    [
        # latest_updated, the default: users and leads alike.
        ([OLD_USER, NEW_LEAD], LATEST, "l", MatchRule.SEARCH_LATEST, LATEST),
        # user: a user beats any lead, however much newer; the latest updated among the users.
        ([OLD_USER, NEW_LEAD], USER, "u", MatchRule.SEARCH_USER, USER),
        (
            [OLD_USER, NEW_LEAD, contact("u2", "user", updated_at=150)],
            USER,
            "u2",
            MatchRule.SEARCH_USER,
            USER,
        ),
        # lead: the other way round.
        ([contact("u", "user", updated_at=300), NEW_LEAD], LEAD, "l", MatchRule.SEARCH_LEAD, LEAD),
        # Nobody of the preferred role, or everybody: the role decides nothing, the latest update does.
        ([NEW_LEAD, contact("l0", "lead", updated_at=50)], USER, "l", MatchRule.SEARCH_LATEST, LATEST),
        ([OLD_USER, contact("u9", "user", updated_at=900)], USER, "u9", MatchRule.SEARCH_LATEST, LATEST),
    ],
)
def test_the_priority_decides_among_several_and_names_the_rule_that_did(
    candidates, priority, winner, rule, chosen_by
):
    decision = decide_from_search(candidates, priority)
    assert (decision.contact_id, decision.rule, decision.chosen_by) == (winner, rule, chosen_by)
    assert choose_contact(candidates, priority).id == winner
    assert decision.candidates[0].id == winner and len(decision.candidates) == len(candidates)
    assert decision.to_record()["chosen_by"] == chosen_by.value


def test_with_one_candidate_no_rule_chose_anything():
    decision = decide_from_search([contact("a", "lead")], USER)
    assert (decision.rule, decision.chosen_by, decision.to_record()["chosen_by"]) == (
        MatchRule.SEARCH,
        None,
        None,
    )


def test_the_chosen_text_says_the_rule_used():
    assert chosen_text(LATEST) == "the most recently updated"
    assert chosen_text(USER) == "the most recently updated user (users come before leads here)"
    assert chosen_text(LEAD) == "the most recently updated lead (leads come before users here)"


def test_the_priority_is_read_from_the_setting():
    assert ContactPriority.configured(Settings(_env_file=None)) is LATEST
    assert ContactPriority.configured(Settings(_env_file=None, contact_priority="user")) is USER


def test_the_phone_query_matches_formatted_phone_or_any_written_form():
    query = phone_search_query(["+14133881111"])
    assert query["operator"] == "OR"
    normalized, written = query["value"]
    assert normalized == {"field": "formatted_phone", "operator": "=", "value": "+14133881111"}
    assert written["field"] == "phone" and written["operator"] == "IN"
    assert "+14133881111" in written["value"] and "(413) 388-1111" in written["value"]


def test_several_numbers_search_formatted_phone_with_in():
    query = phone_search_query(["+5511912345678", "+551112345678"])
    assert query["value"][0] == {
        "field": "formatted_phone",
        "operator": "IN",
        "value": ["+5511912345678", "+551112345678"],
    }
