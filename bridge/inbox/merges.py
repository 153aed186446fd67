"""Merging a contact into another from the inbox app: deliberate, explained, audited, and rerouted.

Intercom merges only a lead into a user, deletes the lead, and (API 2.16) refuses unless the two
share an email or a phone (`invalid_merge`) unless told to skip that check. It cannot be undone.
So: the rules are checked before Intercom is asked (with a message saying what to do instead),
every attempt is recorded with both contacts as they were, and after a merge everything the
bridge keeps about the lead (identities, threads) points at the user, plus an alias lead -> user
for anything that still names the lead (a late delivery report, a job queued before the merge).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from redis import Redis

from bridge.contacts.resolution import IdentityMap
from bridge.conversations.rerouting import reroute
from bridge.conversations.threads import ThreadStore
from bridge.core.errors import IntercomGone, IntercomNotFound, IntercomRejected
from bridge.infra import keys
from bridge.intercom.client import IntercomClient
from bridge.intercom.models import Contact
from bridge.model.phones import to_e164

# An Intercom contact id. Matched whole (`fullmatch`): `$` would let a trailing newline through.
_CONTACT_ID = re.compile(r"[0-9a-f]{24}")


class MergeOutcome(StrEnum):
    MERGED = "merged"
    SAME_CONTACT = "refused_same_contact"
    WRONG_ROLES = "refused_roles"
    NOT_FOUND = "not_found"
    NOT_DUPLICATES = "refused_not_duplicates"  # Intercom's invalid_merge: nothing shared
    FAILED = "failed"


@dataclass(frozen=True)
class MergeResult:
    outcome: MergeOutcome
    message: str
    source: Contact | None = None
    target: Contact | None = None

    @property
    def merged(self) -> bool:
        return self.outcome is MergeOutcome.MERGED


@dataclass(frozen=True)
class MergeAttempt:
    """One row of the audit."""

    at: float
    admin: dict[str, str]
    from_id: str
    into_id: str
    outcome: str
    message: str
    override: bool = False
    from_snapshot: dict[str, Any] | None = None
    into_snapshot: dict[str, Any] | None = None
    rerouted: dict[str, list[str]] = field(default_factory=dict)


def why_not(source: Contact, target: Contact) -> tuple[MergeOutcome, str] | None:
    """Why Intercom would refuse to merge `source` into `target`, and what to do instead."""
    if source.id == target.id:
        return MergeOutcome.SAME_CONTACT, "That is this contact itself: choose the contact to merge it into."
    if source.role != "lead":
        return MergeOutcome.WRONG_ROLES, (
            f"{label(source)} is a user, and Intercom merges only a lead into a user. Merge the other "
            "contact into this one from its own conversation, or ask Intercom support to merge two users."
        )
    if target.role != "user":
        return MergeOutcome.WRONG_ROLES, (
            f"{label(target)} is a lead, and Intercom merges a lead only into a user. Choose a user, or "
            "make that lead a user in Intercom first."
        )
    return None


def share_identity(source: Contact, target: Contact, *, region: str) -> bool:
    """Whether Intercom 2.16 will see them as duplicates: the same email or the same phone."""
    if source.email and target.email and source.email.lower() == target.email.lower():
        return True
    a = to_e164(source.phone, region=region) if source.phone else None
    b = to_e164(target.phone, region=region) if target.phone else None
    return a is not None and a == b


def label(contact: Contact) -> str:
    return f"{contact.role} {contact.name or contact.email or contact.id}"


class MergeAudit:
    def __init__(self, redis_client: Redis) -> None:
        self._redis = redis_client

    def record(self, attempt: MergeAttempt) -> None:
        self._redis.rpush(keys.MERGES, json.dumps(asdict(attempt)))

    def recent(self, limit: int = 100) -> list[dict[str, Any]]:
        """The latest `limit` attempts, newest first."""
        rows = self._redis.lrange(keys.MERGES, -limit, -1)
        return [json.loads(row) for row in reversed(rows)]


class Merger:
    def __init__(self, redis_client: Redis, intercom: IntercomClient, *, default_region: str) -> None:
        self._redis = redis_client
        self._intercom = intercom
        self._region = default_region
        self._identities = IdentityMap(redis_client)
        self._threads = ThreadStore(redis_client)
        self._audit = MergeAudit(redis_client)

    def find(self, query: str) -> Contact | None:
        """The contact an agent named: an Intercom contact id, an email, or an external user_id."""
        query = query.strip()
        if not query:
            return None
        if _CONTACT_ID.fullmatch(query):
            try:
                return self._intercom.get_contact(query)
            except (IntercomNotFound, IntercomGone):
                return None
        field_name = "email" if "@" in query else "external_id"
        found = self._intercom.search_contacts({"field": field_name, "operator": "=", "value": query})
        return found[0] if found else None

    def contact(self, contact_id: str) -> Contact | None:
        """The contact by Intercom id; None when there is none. Ids come from the agent's request
        (stored_data, what they typed), so anything that is not an id names no contact and never
        becomes part of a URL."""
        if not _CONTACT_ID.fullmatch(contact_id):
            return None
        try:
            return self._intercom.get_contact(contact_id)
        except (IntercomNotFound, IntercomGone):
            return None

    def preview(self, source: Contact, target: Contact) -> tuple[MergeOutcome, str] | None:
        """None when the merge can go ahead; else the refusal an agent should read."""
        return why_not(source, target)

    def shares_identity(self, source: Contact, target: Contact) -> bool:
        return share_identity(source, target, region=self._region)

    def merge(
        self, *, from_id: str, into_id: str, admin: dict[str, str], override: bool = False
    ) -> MergeResult:
        """Merge after checking; record the attempt whatever happens."""
        source, target = self.contact(from_id), self.contact(into_id)
        result = self._attempt(source, target, from_id, into_id, override)
        rerouted: dict[str, list[str]] = {}
        if result.merged and source is not None and target is not None:
            rerouted = self._reroute(source, target)
        self._record(
            from_id,
            into_id,
            admin,
            result.outcome,
            result.message,
            source,
            target,
            override=override,
            rerouted=rerouted,
        )
        return result

    def record_refusal(
        self, *, from_id: str, into_id: str, admin: dict[str, str], outcome: MergeOutcome, message: str
    ) -> None:
        """Audit an attempt refused before Intercom was asked (unknown id, same contact, roles)."""
        source, target = self.contact(from_id), self.contact(into_id) if into_id else None
        self._record(from_id, into_id, admin, outcome, message, source, target)

    def _record(
        self,
        from_id: str,
        into_id: str,
        admin: dict[str, str],
        outcome: MergeOutcome,
        message: str,
        source: Contact | None,
        target: Contact | None,
        *,
        override: bool = False,
        rerouted: dict[str, list[str]] | None = None,
    ) -> None:
        """One audit row, with both contacts as they were before the attempt: every row has the
        same fields, whether Intercom was asked or not."""
        self._audit.record(
            MergeAttempt(
                at=time.time(),
                admin=admin,
                from_id=from_id,
                into_id=into_id,
                outcome=outcome.value,
                message=message,
                override=override,
                from_snapshot=_snapshot(source),
                into_snapshot=_snapshot(target),
                rerouted=rerouted or {},
            )
        )

    def _attempt(
        self, source: Contact | None, target: Contact | None, from_id: str, into_id: str, override: bool
    ) -> MergeResult:
        if source is None or target is None:
            missing = from_id if source is None else into_id
            return MergeResult(
                MergeOutcome.NOT_FOUND,
                f"No contact {missing} in Intercom (deleted or merged).",
                source,
                target,
            )
        refusal = why_not(source, target)
        if refusal is not None:
            return MergeResult(refusal[0], refusal[1], source, target)
        try:
            merged = self._intercom.merge_contacts(source.id, target.id, skip_duplicate_validation=override)
        except IntercomRejected as exc:
            if exc.code == "invalid_merge" and "duplicate" in exc.message.lower():
                return MergeResult(
                    MergeOutcome.NOT_DUPLICATES,
                    (
                        f"Intercom refused: {label(source)} and {label(target)} share no email or phone, so "
                        "it cannot tell they are the same person. Merge anyway only if you are sure."
                    ),
                    source,
                    target,
                )
            return MergeResult(
                MergeOutcome.FAILED, f"Intercom refused the merge: {exc.message or exc.code}", source, target
            )
        return MergeResult(
            MergeOutcome.MERGED,
            (f"Merged {label(source)} into {label(target)}: its conversations are now {label(merged)}'s."),
            source,
            merged,
        )

    def _reroute(self, source: Contact, target: Contact) -> dict[str, list[str]]:
        rerouted = {
            "identities": self._identities.identities_of(source.id),
            "threads": [thread.key for thread in self._threads.of_contact(source.id)],
        }
        reroute(self._redis, source.id, target.ref)
        return rerouted


def _snapshot(contact: Contact | None) -> dict[str, Any] | None:
    return asdict(contact) if contact is not None else None
