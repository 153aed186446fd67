"""`bridge contacts lookup NUMBER`: how an inbound message from NUMBER would be matched.

An operator's tool: it runs the bridge's own matching steps (classify the sender, the identity
map with the number's variants, Intercom's search, the winner rule of `BRIDGE_CONTACT_PRIORITY`,
which it names and explains) without writing anything,
neither to the identity map nor to Intercom (for a non-phone sender it only reads whether the
`bridge_identity` attribute exists, where the bridge would define it). The search is shown even
when the map decides, so an operator can see whether Intercom agrees with the map.

Full numbers appear in the report, which goes to the operator's screen; nothing here logs them.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from typing import Any

from bridge.contacts.matching import (
    PRIORITY_TEXT,
    ContactPriority,
    MatchDecision,
    MatchRule,
    chosen_text,
    phone_search_query,
)
from bridge.contacts.resolution import (
    IDENTITY_ATTRIBUTE,
    IdentityMap,
    decide_from_identity_map,
    decide_identity_search,
    decide_phone_search,
    identity_search_query,
    phone_search_numbers,
)
from bridge.intercom.client import IntercomClient
from bridge.intercom.models import Contact, ContactRef
from bridge.model.senders import IdentityKind, SenderIdentity, classify_sender, sender_problem
from bridge.model.variants import RULES

CREATED = "created"
VARIANT = "variant"
SEARCH_RULES = frozenset(
    {MatchRule.SEARCH, MatchRule.SEARCH_LATEST, MatchRule.SEARCH_USER, MatchRule.SEARCH_LEAD}
)


@dataclass(frozen=True)
class MapEntry:
    """One identity-map key the bridge checks, the variant rules that produced it, its contact."""

    key: str
    rules: tuple[str, ...]  # empty for the sender's own key
    contact: ContactRef | None


@dataclass(frozen=True)
class LookupReport:
    """Everything `lookup` found; `decision` None means a new lead would be created."""

    number: str
    region: str
    sender: SenderIdentity
    problem: str | None  # why a message from it would not be delivered at all
    entries: tuple[MapEntry, ...]
    query: dict[str, Any] | None
    search_note: str | None
    search_decision: MatchDecision | None  # what the search alone would decide
    decision: MatchDecision | None  # what the bridge would decide
    priority: ContactPriority = ContactPriority.LATEST_UPDATED  # the winner rule in force

    @property
    def candidates(self) -> tuple[Contact, ...]:
        """What the search returned, the winner first (the bridge's ranking)."""
        return self.search_decision.candidates if self.search_decision else ()

    @property
    def rule(self) -> str:
        """identity_map, search, search_latest_updated, search_user_first, search_lead_first,
        variant, external_identity or created."""
        if self.decision is None:
            return CREATED
        searched = self.decision.rule in SEARCH_RULES
        return VARIANT if searched and self.decision.variant else self.decision.rule.value


def build_lookup(
    number: str,
    *,
    region: str,
    identities: IdentityMap,
    intercom: IntercomClient,
    priority: ContactPriority,
) -> LookupReport:
    """The report for a message from `number`, national forms read in `region`, several holders
    decided by `priority`. Reads only."""
    sender = classify_sender(number, country_code_included=False, default_region=region)
    return sender_lookup(
        sender, number=number, region=region, identities=identities, intercom=intercom, priority=priority
    )


def sender_lookup(
    sender: SenderIdentity,
    *,
    number: str,
    region: str,
    identities: IdentityMap,
    intercom: IntercomClient,
    priority: ContactPriority,
) -> LookupReport:
    """The report for a message from an already classified `sender` (a stored message's). Reads only."""
    problem = sender_problem(sender)
    if problem is not None:
        return LookupReport(
            number=number,
            region=region,
            sender=sender,
            problem=problem,
            entries=(),
            query=None,
            search_note=None,
            search_decision=None,
            decision=None,
            priority=priority,
        )
    entries = tuple(
        MapEntry(key=key, rules=_variant_rules(sender, key), contact=identities.get(key))
        for key in (sender.key, *sender.variant_keys)
    )
    note = None
    if sender.kind is IdentityKind.PHONE and sender.e164:
        query = phone_search_query(phone_search_numbers(sender))
        found = intercom.search_contacts(query)
        search = decide_phone_search(sender, found, default_region=region, priority=priority)
    else:
        query = identity_search_query(sender)
        if intercom.has_data_attribute(IDENTITY_ATTRIBUTE):
            search = decide_identity_search(intercom.search_contacts(query), priority)
        else:
            search = None
            note = f"the workspace has no `{IDENTITY_ATTRIBUTE}` attribute yet, so no contact can hold it"
    return LookupReport(
        number=number,
        region=region,
        sender=sender,
        problem=None,
        entries=entries,
        query=query,
        search_note=note,
        search_decision=search,
        decision=decide_from_identity_map(sender, (), identities) or search,
        priority=priority,
    )


def _variant_rules(sender: SenderIdentity, key: str) -> tuple[str, ...]:
    """The names of the rules in `bridge.model.variants` that turn the sender's number into `key`'s."""
    if key == sender.key or sender.e164 is None:
        return ()
    digits, variant = sender.e164.lstrip("+"), key.removeprefix("phone:+")
    return tuple(rule.name for rule in RULES if rule.apply(digits) == variant)


# --- rendering (kept apart: the report is data, this is one way to show it) ---


def render_lookup(report: LookupReport) -> list[str]:
    """The report as lines for a terminal."""
    sender = report.sender
    lines = [f"Number:   {report.number} (national forms read in {report.region})"]
    kind = sender.kind.value + (f", E.164 {sender.e164}" if sender.e164 else "")
    lines.append(f"Kind:     {kind}")
    if report.problem is not None:
        lines.append(f"Decision: a message from it would not be delivered: {report.problem}")
        return lines
    lines.append("Identity map (checked in this order; the first entry found decides):")
    for entry in report.entries:
        rules = f"  [variant: {'; '.join(entry.rules)}]" if entry.rules else ""
        known = f"{entry.contact.id} ({entry.contact.role})" if entry.contact else "no entry"
        lines.append(f"  {entry.key}{rules} -> {known}")
    lines.append(f"Search:   POST /contacts/search {json.dumps(report.query)}")
    if report.search_note:
        lines.append(f"          {report.search_note}")
    winner_id = report.search_decision.contact_id if report.search_decision else None
    lines.append(f"Candidates: {len(report.candidates) or 'none'}")
    for contact in report.candidates:
        mark = "*" if contact.id == winner_id else " "
        lines.append(
            f"  {mark} {contact.id}  {contact.role:<4}  {contact.name or '-'}  "
            f"updated {_when(contact.updated_at)}  phone {contact.phone or '-'}"
        )
    priority = report.priority
    lines.append(f"Priority: {priority.value} (BRIDGE_CONTACT_PRIORITY): {PRIORITY_TEXT[priority]}")
    lines.append(f"Rule:     {report.rule}")
    lines.append(f"Decision: {_decision_text(report)}")
    return lines


def _decision_text(report: LookupReport) -> str:
    decision = report.decision
    if decision is None:
        return "no contact matches: a new lead would be created"
    text = f"contact {decision.contact_id} ({decision.role})"
    if decision.chosen_by is not None:
        text += f", chosen among {len(decision.candidates)} as {chosen_text(decision.chosen_by)}"
    if decision.variant:
        text += f", through the variant {decision.variant}"
    search = report.search_decision
    if decision.rule is MatchRule.IDENTITY_MAP and search and search.contact_id != decision.contact_id:
        text += f"; the search alone would pick {search.contact_id} (the map wins)"
    return text


def _when(timestamp: int) -> str:
    if not timestamp:
        return "-"
    return datetime.datetime.fromtimestamp(timestamp, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
