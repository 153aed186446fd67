"""Matching a sender to Intercom contacts: the search to run and the rule that picks a winner.

Pure functions. The rule is the workspace's (`BRIDGE_CONTACT_PRIORITY`, Octopods' contact
priority): `latest_updated` (the default), among every contact holding the number, users and
leads alike, the one Intercom updated last wins; `user`, a user wins over any lead, the latest
updated among the users; `lead`, the other way round. When every holder has the same role, the
role decides nothing and the latest updated wins whatever the setting. Ties are broken so the same
inputs always give the same answer: a user before a lead, then the older contact, then the
smaller id.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bridge.core.settings import Settings
from bridge.intercom.models import Contact
from bridge.model.phones import written_forms


class ContactPriority(StrEnum):
    """Which contact wins when several hold a number (`BRIDGE_CONTACT_PRIORITY`)."""

    LATEST_UPDATED = "latest_updated"  # the one Intercom updated last, users and leads alike
    USER = "user"  # a user before any lead; the latest updated among them
    LEAD = "lead"  # a lead before any user; the latest updated among them

    @classmethod
    def configured(cls, settings: Settings) -> ContactPriority:
        return cls(settings.contact_priority)


class MatchRule(StrEnum):
    IDENTITY_MAP = "identity_map"  # the bridge already knew this sender
    SEARCH = "search"  # one contact holds the number
    SEARCH_LATEST = "search_latest_updated"  # several do; the latest updated_at won
    SEARCH_USER = "search_user_first"  # several do, users and leads; the latest updated user won
    SEARCH_LEAD = "search_lead_first"  # several do, users and leads; the latest updated lead won
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
    # How the winner was picked among several candidates: the rule that decided (`chosen_by`);
    # None with fewer than two.
    chosen_by: ContactPriority | None = None

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
            "chosen_by": self.chosen_by.value if self.chosen_by else None,
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


def _rank(contact: Contact, priority: ContactPriority) -> tuple[int, int, int, int, str]:
    preferred = priority is ContactPriority.LATEST_UPDATED or contact.role == priority.value
    return (
        0 if preferred else 1,
        -contact.updated_at,
        0 if contact.role == "user" else 1,
        contact.created_at,
        contact.id,
    )


def choose_contact(
    candidates: Iterable[Contact], priority: ContactPriority = ContactPriority.LATEST_UPDATED
) -> Contact | None:
    """The contact `priority` picks, ties broken deterministically; None when there is none."""
    ranked = sorted(_unique(candidates), key=lambda contact: _rank(contact, priority))
    return ranked[0] if ranked else None


def chosen_by(candidates: Sequence[Contact], priority: ContactPriority) -> ContactPriority:
    """The rule that actually decides among `candidates`: `priority`, when its role is among them
    and some other role too; otherwise the latest update alone (the role told them nothing apart)."""
    if priority is ContactPriority.LATEST_UPDATED:
        return priority
    roles = {contact.role for contact in candidates}
    return priority if priority.value in roles and len(roles) > 1 else ContactPriority.LATEST_UPDATED


_SEARCH_RULES = {
    ContactPriority.LATEST_UPDATED: MatchRule.SEARCH_LATEST,
    ContactPriority.USER: MatchRule.SEARCH_USER,
    ContactPriority.LEAD: MatchRule.SEARCH_LEAD,
}


def decide_from_search(
    candidates: Sequence[Contact], priority: ContactPriority = ContactPriority.LATEST_UPDATED
) -> MatchDecision | None:
    """The decision a search result leads to under `priority`, or None when nobody matched."""
    unique = tuple(sorted(_unique(candidates), key=lambda contact: _rank(contact, priority)))
    if not unique:
        return None
    winner = unique[0]
    if len(unique) == 1:
        return MatchDecision(contact_id=winner.id, role=winner.role, rule=MatchRule.SEARCH, candidates=unique)
    decided_by = chosen_by(unique, priority)
    return MatchDecision(
        contact_id=winner.id,
        role=winner.role,
        rule=_SEARCH_RULES[decided_by],
        candidates=unique,
        chosen_by=decided_by,
    )


def chosen_text(decided_by: ContactPriority) -> str:
    """How the winner was chosen among several, for the people who read it (notes, lookups)."""
    if decided_by is ContactPriority.LATEST_UPDATED:
        return "the most recently updated"
    other = "lead" if decided_by is ContactPriority.USER else "user"
    return f"the most recently updated {decided_by.value} ({decided_by.value}s come before {other}s here)"


PRIORITY_TEXT = {
    ContactPriority.LATEST_UPDATED: "the most recently updated contact wins, users and leads alike",
    ContactPriority.USER: "a user wins over any lead; the most recently updated among them",
    ContactPriority.LEAD: "a lead wins over any user; the most recently updated among them",
}


def _unique(contacts: Iterable[Contact]) -> list[Contact]:
    seen: dict[str, Contact] = {}
    for contact in contacts:
        seen.setdefault(contact.id, contact)
    return list(seen.values())
