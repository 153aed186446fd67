"""`bridge contacts sync`: filling the identity map from every Intercom contact.

The identity map is what stops duplicate leads (Intercom's search lags minutes behind a new
contact), and on a fresh install it is empty. One pass over `GET /contacts` fills it: every
contact's phone (normalized to E.164, national forms read in `BRIDGE_DEFAULT_REGION`) and its
`bridge_identity` attribute become identity keys pointing at it. Intercom is only read.

Why the list and not `POST /contacts/search`: the list is Intercom's enumeration of every contact
(merged-away ones left out) and needs no query, whereas a search needs a filter that matches
everyone: date filters match by calendar day, and a filter on `custom_attributes.bridge_identity`
is refused in a workspace where the bridge never defined that attribute. The list's cursor goes in
the query string (`starting_after`); search's would go in the body.

Several contacts holding one key: the winner is the bridge's own rule (`choose_contact` under
`BRIDGE_CONTACT_PRIORITY`: latest `updated_at` by default, or users, or leads, first; ties
deterministic), chosen across every contact this run saw holding it, so the order pages come in
does not matter. An entry the map already had is re-pointed only to a contact that beats it by
that rule (so a run after the setting changed moves entries to what it now picks); an entry
naming a contact this run never saw holding the key (the bridge matched it through a variant,
say) is the bridge's own decision and is kept.

Resumable: one Redis hash (`keys.CONTACTS_SYNC`) holds the run: `progress` (cursor of the next
page, counters) and, per identity key seen, its holders and the map's entry before the run. Each
page is applied in three steps, (A) holders, (B) identity map, (C) progress, so a run stopped
anywhere re-reads at most the page it was on, and re-applying a page changes nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from redis import Redis

from bridge.contacts.matching import ContactPriority, choose_contact
from bridge.contacts.resolution import IDENTITY_ATTRIBUTE, IdentityMap
from bridge.infra import keys
from bridge.intercom.client import LIST_MAX_PER_PAGE, IntercomClient
from bridge.intercom.models import Contact, ContactRef
from bridge.model.phones import to_e164
from bridge.model.senders import IdentityKind

log = logging.getLogger(__name__)

# An abandoned run (never resumed) is forgotten after this long without a page.
SYNC_IDLE_SECONDS = 7 * 24 * 3600
_PROGRESS = "progress"
_HOLDERS = "key:"  # field prefix: one field per identity key seen in the run
_IDENTITY_KINDS = {kind.value for kind in IdentityKind}


# --- pure: what a contact holds, and what a key's holders decide ---


@dataclass(frozen=True)
class ContactKeys:
    """The identity keys one listed contact holds, and whether it had a phone that did not parse."""

    keys: tuple[str, ...]
    unreadable_phone: bool = False


def contact_keys(item: dict[str, Any], *, default_region: str) -> ContactKeys:
    """`phone:<e164>` for the contact's phone, and its `bridge_identity` value when it has one."""
    found: list[str] = []
    unreadable = False
    phone = item.get("phone")
    if isinstance(phone, str) and phone.strip():
        e164 = to_e164(phone, region=default_region)
        if e164 is None:
            unreadable = True
        else:
            found.append(f"phone:{e164}")
    attributes = item.get("custom_attributes")
    identity = attributes.get(IDENTITY_ATTRIBUTE) if isinstance(attributes, dict) else None
    if isinstance(identity, str) and _is_identity_key(identity) and identity not in found:
        found.append(identity)
    return ContactKeys(keys=tuple(found), unreadable_phone=unreadable)


def _is_identity_key(value: str) -> bool:
    kind, _, rest = value.partition(":")
    return kind in _IDENTITY_KINDS and bool(rest.strip())


class Outcome(StrEnum):
    MAPPED = "mapped"  # the map had no entry; it now names the winner
    REPOINTED = "repointed"  # the map named a contact the winner beats
    KEPT = "already_mapped"  # the map's entry stays (it named the winner, or a contact not seen here)


@dataclass(frozen=True)
class KeyHolders:
    """The contacts this run saw holding one identity key, and whom the map gave it to before;
    `priority` picks the winner among them (the run's setting, not stored with the record)."""

    before: str | None
    contacts: tuple[Contact, ...] = ()
    priority: ContactPriority = field(default=ContactPriority.LATEST_UPDATED, compare=False)

    def adding(self, seen: Iterable[Contact]) -> KeyHolders:
        """With `seen` added; a contact seen twice keeps its latest `updated_at`."""
        by_id = {contact.id: contact for contact in self.contacts}
        for contact in seen:
            known = by_id.get(contact.id)
            if known is None or contact.updated_at >= known.updated_at:
                by_id[contact.id] = contact
        return replace(self, contacts=tuple(sorted(by_id.values(), key=lambda c: c.id)))

    @property
    def winner(self) -> Contact:
        chosen = choose_contact(self.contacts, self.priority)
        assert chosen is not None, "a key is recorded only with a contact holding it"
        return chosen

    @property
    def ambiguous(self) -> bool:
        return len(self.contacts) > 1

    @property
    def outcome(self) -> Outcome:
        if self.before is None:
            return Outcome.MAPPED
        if self.before != self.winner.id and self.before in {c.id for c in self.contacts}:
            return Outcome.REPOINTED
        return Outcome.KEPT

    @property
    def kept_unseen(self) -> bool:
        """The map's entry names a contact this run never saw holding the key, so it was kept."""
        return self.before is not None and self.before not in {c.id for c in self.contacts}

    def entry_to_write(self, current: ContactRef | None) -> ContactRef | None:
        """What the map entry should become given what it holds now; None to leave it."""
        winner = self.winner.ref
        if current is None:
            return winner
        if current.id == winner.id:
            return winner if current.role != winner.role else None  # a lead became a user
        if current.id in {c.id for c in self.contacts}:
            return winner
        return None

    def to_json(self) -> str:
        rows = [[c.id, c.role, c.updated_at, c.created_at] for c in self.contacts]
        return json.dumps({"before": self.before, "contacts": rows}, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str, priority: ContactPriority = ContactPriority.LATEST_UPDATED) -> KeyHolders:
        data = json.loads(text)
        contacts = tuple(
            Contact(id=str(cid), role=str(role), updated_at=int(updated), created_at=int(created))
            for cid, role, updated, created in data["contacts"]
        )
        return cls(before=data["before"], contacts=contacts, priority=priority)


@dataclass(frozen=True)
class SyncProgress:
    """Where a run is: the cursor of the next page (None before the first), and its counters."""

    cursor: str | None = None
    pages: int = 0
    contacts_read: int = 0
    unreadable_phones: int = 0
    total_count: int | None = None
    done: bool = False
    resumed: bool = field(default=False, compare=False)  # this process continued a stored run

    def to_json(self) -> str:
        fields = {
            "cursor": self.cursor,
            "pages": self.pages,
            "contacts_read": self.contacts_read,
            "unreadable_phones": self.unreadable_phones,
            "total_count": self.total_count,
            "done": self.done,
        }
        return json.dumps(fields, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> SyncProgress:
        data = json.loads(text)
        return cls(
            cursor=data.get("cursor"),
            pages=int(data.get("pages", 0)),
            contacts_read=int(data.get("contacts_read", 0)),
            unreadable_phones=int(data.get("unreadable_phones", 0)),
            total_count=data.get("total_count"),
            done=bool(data.get("done", False)),
        )


@dataclass(frozen=True)
class SyncSummary:
    """What a completed run did. Counts are of identity keys (phone numbers, and sender ids from
    `bridge_identity`), each counted once however many contacts hold it."""

    contacts_read: int
    pages: int
    mapped: int  # new entries
    repointed: int  # entries moved to a contact that beats the one they named
    already_mapped: int  # entries left as they were
    kept_unseen: int  # of those, entries naming a contact the list never showed with that key
    ambiguous: int  # keys several contacts hold (the winner rule picked one)
    unreadable_phones: int  # contacts whose phone does not parse as a number
    sender_ids: int  # keys from `bridge_identity` rather than a phone
    resumed: bool
    priority: ContactPriority = ContactPriority.LATEST_UPDATED  # the winner rule the run applied


def summarize(
    progress: SyncProgress,
    holders: Iterable[tuple[str, KeyHolders]],
    priority: ContactPriority = ContactPriority.LATEST_UPDATED,
) -> SyncSummary:
    """The summary of a run from its progress and every key's holders."""
    counts = {outcome: 0 for outcome in Outcome}
    kept_unseen = ambiguous = sender_ids = 0
    for key, record in holders:
        counts[record.outcome] += 1
        kept_unseen += record.kept_unseen
        ambiguous += record.ambiguous
        sender_ids += not key.startswith("phone:")
    return SyncSummary(
        contacts_read=progress.contacts_read,
        pages=progress.pages,
        mapped=counts[Outcome.MAPPED],
        repointed=counts[Outcome.REPOINTED],
        already_mapped=counts[Outcome.KEPT],
        kept_unseen=kept_unseen,
        ambiguous=ambiguous,
        unreadable_phones=progress.unreadable_phones,
        sender_ids=sender_ids,
        resumed=progress.resumed,
        priority=priority,
    )


# --- the run's state in Redis ---


class SyncStore:
    """The one hash a run lives in (`keys.CONTACTS_SYNC`); records read back decide by `priority`."""

    def __init__(
        self, redis_client: Redis, priority: ContactPriority = ContactPriority.LATEST_UPDATED
    ) -> None:
        self._redis = redis_client
        self._priority = priority

    def progress(self) -> SyncProgress | None:
        raw = self._redis.hget(keys.CONTACTS_SYNC, _PROGRESS)
        return SyncProgress.from_json(_text(raw)) if raw is not None else None

    def holders(self, identity_keys: Iterable[str]) -> dict[str, KeyHolders]:
        wanted = list(identity_keys)
        if not wanted:
            return {}
        values = self._redis.hmget(keys.CONTACTS_SYNC, [_HOLDERS + key for key in wanted])
        return {
            key: KeyHolders.from_json(_text(v), self._priority)
            for key, v in zip(wanted, values, strict=True)
            if v
        }

    def all_holders(self) -> Iterator[tuple[str, KeyHolders]]:
        for name, value in self._redis.hscan_iter(keys.CONTACTS_SYNC, match=f"{_HOLDERS}*", count=1000):
            yield _text(name).removeprefix(_HOLDERS), KeyHolders.from_json(_text(value), self._priority)

    def save_holders(self, records: dict[str, KeyHolders]) -> None:
        if records:
            mapping = {_HOLDERS + key: record.to_json() for key, record in records.items()}
            self._redis.hset(keys.CONTACTS_SYNC, mapping=mapping)  # type: ignore[arg-type]

    def save_progress(self, progress: SyncProgress) -> None:
        with self._redis.pipeline() as pipe:
            pipe.hset(keys.CONTACTS_SYNC, _PROGRESS, progress.to_json())
            pipe.expire(keys.CONTACTS_SYNC, SYNC_IDLE_SECONDS)
            pipe.execute()

    def clear(self) -> None:
        self._redis.delete(keys.CONTACTS_SYNC)

    def forget(self, identity_keys: Iterable[str]) -> int:
        """Drop what a stopped run noted about `identity_keys` (a customer forgotten); how many."""
        fields = [_HOLDERS + key for key in identity_keys]
        return int(self._redis.hdel(keys.CONTACTS_SYNC, *fields)) if fields else 0


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


# --- the run ---


def sync_contacts(
    *,
    redis_client: Redis,
    intercom: IntercomClient,
    default_region: str,
    priority: ContactPriority,
    restart: bool = False,
    per_page: int = LIST_MAX_PER_PAGE,
    on_page: Callable[[SyncProgress], None] | None = None,
) -> SyncSummary:
    """Read every contact, page by page, into the identity map, a key several contacts hold
    going to the one `priority` picks; continue a stopped run unless `restart`. `on_page` hears
    the progress after each page (for a progress bar)."""
    store = SyncStore(redis_client, priority)
    identities = IdentityMap(redis_client)
    stored = None if restart else store.progress()
    if stored is None or stored.done:
        store.clear()
        progress = SyncProgress()
        store.save_progress(progress)  # so a run stopped on its first page resumes with its holders
    else:
        progress = replace(stored, resumed=True)
    while not progress.done:
        page = intercom.list_contacts(per_page=per_page, starting_after=progress.cursor)
        unreadable = _apply_page(
            page.items, store=store, identities=identities, default_region=default_region, priority=priority
        )
        progress = replace(
            progress,
            cursor=page.next_cursor,
            pages=progress.pages + 1,
            contacts_read=progress.contacts_read + len(page.items),
            unreadable_phones=progress.unreadable_phones + unreadable,
            total_count=page.total_count if page.total_count is not None else progress.total_count,
            done=page.next_cursor is None,
        )
        store.save_progress(progress)  # (C)
        if on_page is not None:
            on_page(progress)
    summary = summarize(progress, store.all_holders(), priority)
    store.clear()
    log.info(
        "contacts sync: %d contacts on %d pages; keys mapped %d, re-pointed %d, already mapped %d, "
        "ambiguous %d; %d phones unreadable",
        summary.contacts_read,
        summary.pages,
        summary.mapped,
        summary.repointed,
        summary.already_mapped,
        summary.ambiguous,
        summary.unreadable_phones,
    )
    return summary


def _apply_page(
    items: Iterable[dict[str, Any]],
    *,
    store: SyncStore,
    identities: IdentityMap,
    default_region: str,
    priority: ContactPriority,
) -> int:
    """Record one page's holders (A) and bring the map in line (B); the unreadable phones."""
    seen: dict[str, list[Contact]] = {}
    unreadable = 0
    for item in items:
        held = contact_keys(item, default_region=default_region)
        unreadable += held.unreadable_phone
        contact = Contact.from_json(item)
        for key in held.keys:
            seen.setdefault(key, []).append(contact)
    known = store.holders(seen)
    records: dict[str, KeyHolders] = {}
    for key, contacts in seen.items():
        record = known.get(key)
        if record is None:  # first sight in this run: remember what the map said before it
            before = identities.get(key)
            record = KeyHolders(before=before.id if before else None, priority=priority)
        records[key] = record.adding(contacts)
    store.save_holders(records)  # (A)
    for key, record in records.items():
        entry = record.entry_to_write(identities.get(key))
        if entry is not None:
            identities.set(key, entry)  # (B)
    return unreadable
