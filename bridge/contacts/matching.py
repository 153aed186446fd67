"""Matching a sender to Intercom contacts: the search to run and the rule that picks a winner.

Pure functions. The rule is Octopods' "Latest Updated": among every contact holding the number,
users and leads alike, the one Intercom updated last wins. Ties are broken so the same inputs
always give the same answer: a user before a lead, then the older contact, then the smaller id.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bridge.intercom.models import Contact
from bridge.model.phones import written_forms


class MatchRule(StrEnum):
    IDENTITY_MAP = "identity_map"  # the bridge already knew this sender
    SEARCH = "search"  # one contact holds the number
    SEARCH_LATEST = "search_latest_updated"  # several do; the latest updated_at won
    EXTERNAL_IDENTITY = "external_identity"  # a non-phone sender found by its bridge_identity attribute
    CONFLICT = "create_conflict"  # creating a lead hit an existing contact (409), which wins
    CREATED = "created"  # nobody holds it: a new lead


@dataclass(frozen=True)
class MatchDecision:
    """Which contact a message goes to, why, and who else could have been it."""

    contact_id: str
    role: str
    rule: MatchRule
    candidates: tuple[Contact, ...] = field(default=())
    # The other form of the number that matched (Brazil's 9th digit, Mexico's 521…), if not the exact one.
    variant: str | None = None

    @property
    def ambiguous(self) -> bool:
        return len(self.candidates) > 1

    def to_record(self) -> dict[str, Any]:
        return {
            "contact_id": self.contact_id,
            "role": self.role,
            "rule": self.rule.value,
            "variant": self.variant,
            "candidates": [candidate.summary() for candidate in self.candidates],
        }


def phone_search_query(e164_numbers: Sequence[str]) -> dict[str, Any]:
    """Contacts whose normalized phone is one of the numbers, or whose stored phone is written
    in one of their common forms (Intercom's `phone` matches the stored string exactly)."""
    # One search call whatever the number: every written form (~35 per number with the exit codes
    # of bridge.model.phones.written_exit_codes, at most two numbers: a number and its country variant)
    # goes into a single `IN` filter, so a group holds 2 filters of Intercom's 15 and a sender
    # costs one request against the rate limit (intercom-api.md §2.4, §6.1; it records no limit on
    # an `IN` list's length). Suffix filters (`$`) would catch more spellings, but also other
    # people's numbers, and page through them.
    forms: list[str] = []
    for number in e164_numbers:
        forms.extend(form for form in written_forms(number) if form not in forms)
    normalized: dict[str, Any] = (
        {"field": "formatted_phone", "operator": "=", "value": e164_numbers[0]}
        if len(e164_numbers) == 1
        else {"field": "formatted_phone", "operator": "IN", "value": list(e164_numbers)}
    )
    return {"operator": "OR", "value": [normalized, {"field": "phone", "operator": "IN", "value": forms}]}


def _rank(contact: Contact) -> tuple[int, int, int, str]:
    return (-contact.updated_at, 0 if contact.role == "user" else 1, contact.created_at, contact.id)


def choose_contact(candidates: Iterable[Contact]) -> Contact | None:
    """The latest updated contact, ties broken deterministically; None when there is none."""
    ranked = sorted(_unique(candidates), key=_rank)
    return ranked[0] if ranked else None


def decide_from_search(candidates: Sequence[Contact]) -> MatchDecision | None:
    """The decision a search result leads to, or None when nobody matched."""
    unique = tuple(sorted(_unique(candidates), key=_rank))
    if not unique:
        return None
    winner = unique[0]
    rule = MatchRule.SEARCH_LATEST if len(unique) > 1 else MatchRule.SEARCH
    return MatchDecision(contact_id=winner.id, role=winner.role, rule=rule, candidates=unique)


def _unique(contacts: Iterable[Contact]) -> list[Contact]:
    seen: dict[str, Contact] = {}
    for contact in contacts:
        seen.setdefault(contact.id, contact)
    return list(seen.values())
