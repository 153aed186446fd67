"""Forgetting a person: every trace of a number, and of its country variants, out of the bridge.

`bridge contacts forget NUMBER` and `POST /admin/contacts/forget` forget a number the operator
names; Intercom's `contact.deleted` forgets the numbers that led to that contact
(`forget_deleted_contact`, run by a job: `bridge.replies.deletions`, `workers.forget`). Nothing is
asked of Intercom, nor changed there: the contact and its conversations are Intercom's to delete.

The person is a set of identity keys: the number's (`phone:+52…`), its country variants' (Mexico's
`+521…`, Brazil's 9th digit), and the WhatsApp user ids their messages named beside it. What goes:

- the identity map's entries and the contacts' reverse index of them; the sender lanes (FIFO, lock);
- their threads (found by key: a thread's key ends with its customer's identity key), each
  conversation's index to it, and in those conversations the reply parts, the sent messages and
  their delivery reports, the notes said once, the reply catch-up's marks;
- the inbound ledger's entries they sent (found by scanning: the ledger is keyed by message id),
  their long-SMS groups, their media files, and the messages the team wrote first to them;
- every RQ job working on any of those records, queued, scheduled or failed;
- consent: every record and the audit trail, except that each opt-out stays, under a keyed hash
  of the identity key (`bridge.consent.store`, `bridge.core.pseudonyms`), so the number stays
  blocked where the customer said STOP;
- where the number is only written in text: a stored webhook's payload (the record stays, with
  nothing of theirs, so the provider's retry of the same request is still recognised; one not
  read yet is dropped), another customer's raw payload that named it (a batched webhook), a
  merge's contact snapshot, a traceback or result RQ kept, a media file's name;
- and then Redis's own files are rewritten (`bridge.infra.persistence`).

What other customers and agents wrote stays theirs, even if it mentions the number. A message
still arriving while a person is forgotten (a job mid-delivery) can bring part of it back: forget
after the conversation ended, or again.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from pydantic import ValidationError
from redis import Redis

from bridge.consent.store import ConsentStore
from bridge.contacts.resolution import IdentityMap
from bridge.contacts.sync import SyncStore
from bridge.conversations.media import MediaStore, media_store
from bridge.conversations.rerouting import canonical
from bridge.conversations.threads import ThreadStore
from bridge.core.logs import mask_number
from bridge.core.pseudonyms import Pseudonyms
from bridge.core.settings import Settings
from bridge.infra import keys
from bridge.infra.persistence import rewrite_files
from bridge.infra.queueing import INBOUND_JOB, OUTREACH_JOB, REPLY_JOB, STATUS_JOB, WEBHOOK_JOB, JobType
from bridge.intake.ledger import fragment_group
from bridge.intercom.client import IntercomClient
from bridge.intercom.models import ContactRef
from bridge.model.messages import DeliveryStatus, InboundMessage
from bridge.model.senders import IdentityKind, SenderIdentity
from bridge.model.traces import mentions, number_forms
from bridge.model.variants import family_key, phone_variants
from bridge.ops.forget_jobs import delete_jobs, scrub_jobs
from bridge.ops.scanning import scanned_hashes, scanned_strings, text

log = logging.getLogger(__name__)

_MEDIA_LINK = "/media/"
# How often the set of ids is widened by what the found messages named (a WhatsApp user id
# beside the number): enough for number -> user id -> the user id's other messages.
_WIDENINGS = 3


@dataclass
class Person:
    """The identity keys a forget removes, and how the numbers among them are written in text."""

    identities: set[str]
    forms: set[str] = field(default_factory=set)
    # WhatsApp user ids (`US.1349…`) as written: specific enough to look for in anyone's text.
    # A short code's or a sender name's (`INFO`) would be found in everybody's.
    users: set[str] = field(default_factory=set)
    ids: set[str] = field(default_factory=set)  # every id's bare value, to pick a message out

    @classmethod
    def of(cls, identity_keys: Iterable[str]) -> Person:
        person = cls(set())
        person.add(identity_keys)
        return person

    def add(self, identity_keys: Iterable[str]) -> bool:
        """Take in `identity_keys` and their numbers' variants; whether any was new."""
        before = len(self.identities)
        for key in identity_keys:
            kind, _, value = key.partition(":")
            if kind == "phone" and value.startswith("+"):
                numbers = (value, *phone_variants(value))
                self.identities.update(f"phone:{number}" for number in numbers)
                self.forms |= number_forms(value)
            elif value:
                self.identities.add(key)
                self.ids.add(value)
                if kind == IdentityKind.WHATSAPP_USER.value:
                    self.users.add(value)
        return len(self.identities) > before

    def written_in(self, content: str) -> bool:
        """Whether `content` writes one of the person's numbers or WhatsApp user ids."""
        return mentions(content, self.forms) or any(user in content for user in self.users)

    def maybe_in(self, content: str) -> bool:
        """Whether a stored message may be the person's: it writes one of their ids (the sender
        read from it decides)."""
        return self.written_in(content) or any(value in content for value in self.ids)

    def lanes(self) -> set[str]:
        """The sender lanes their messages queue in (`SenderIdentity.lane_key`)."""
        return {
            f"phone:{family_key(key.removeprefix('phone:'))}" if key.startswith("phone:+") else key
            for key in self.identities
        }


@dataclass
class Forgotten:
    """What a forget removed, counted by kind (what the command prints), and what it kept."""

    removed: Counter[str] = field(default_factory=Counter)
    kept_hashed: list[str] = field(default_factory=list)  # consent scopes whose opt-out stays hashed
    files: str = ""  # what became of Redis's own files

    def to_json(self) -> dict[str, object]:
        return {
            "removed": {kind: count for kind, count in sorted(self.removed.items()) if count},
            "kept_hashed": sorted(self.kept_hashed),
            "redis_files": self.files,
        }


@dataclass
class _Found:
    """The person's records, as the scans find them."""

    inbound: dict[str, InboundMessage] = field(default_factory=dict)
    conversations: set[str] = field(default_factory=set)
    media: set[str] = field(default_factory=set)
    parts: set[str] = field(default_factory=set)
    outreach: set[str] = field(default_factory=set)
    outbound: set[str] = field(default_factory=set)  # sent messages' keys
    statuses: set[str] = field(default_factory=set)
    webhooks: set[str] = field(default_factory=set)


class Forgetter:
    def __init__(self, redis_client: Redis, settings: Settings, *, media: MediaStore | None = None) -> None:
        self._redis = redis_client
        self._settings = settings
        self._media = media or media_store(settings.data_dir, settings.retention_days)

    def number(self, customer: SenderIdentity) -> Forgotten:
        """Forget `customer` (a number, or a WhatsApp user id) and everything that leads to them."""
        return self.identities([customer.key])

    def identities(self, identity_keys: Iterable[str]) -> Forgotten:
        """Forget the person these identity keys (and their variants) are; then rewrite Redis's files."""
        person = Person.of(identity_keys)
        report = Forgotten()
        found = self._find(person)
        report.removed["jobs"] += delete_jobs(self._redis, _job_records(found))
        self._delete(person, found, report)
        report.removed["jobs' tracebacks and results"] += scrub_jobs(self._redis, person.written_in)
        report.removed["media files"] += self._forget_media(person, found.media)
        report.files = rewrite_files(self._redis)
        log.info("forgot a person (%d ids): %s", len(person.identities), dict(report.removed))
        return report

    # --- finding ---

    def _find(self, person: Person) -> _Found:
        found = _Found()
        for _ in range(_WIDENINGS):
            if not self._inbound(person, found):
                break
        for key in person.identities:
            for name in self._redis.scan_iter(match=keys.thread(f"*:{_literal(key)}"), count=1000):
                thread = ThreadStore(self._redis).get(text(name).removeprefix(keys.thread("")))
                if thread is not None and thread.customer_key in person.identities:
                    found.conversations.add(thread.conversation_id)
        self._outreach(person, found)
        for name, data in scanned_hashes(self._redis, keys.reply("*"), ("conversation_id",)):
            if data.get("conversation_id") in found.conversations:
                found.parts.add(name.removeprefix(keys.reply("")))
        for name, data in scanned_hashes(
            self._redis, keys.outbound("*", "*"), ("conversation_id", "part_id")
        ):
            if data.get("conversation_id") in found.conversations or data.get("part_id") in found.parts:
                found.outbound.add(name)
        for name, value in scanned_strings(self._redis, keys.status("*")):
            if self._persons_report(value, person, found):
                found.statuses.add(name.removeprefix(keys.status("")))
        return found

    def _inbound(self, person: Person, found: _Found) -> bool:
        """The inbound entries the person sent, from the ledger (widening `person` by the ids
        they named); whether the person grew."""
        grew = False
        for name, data in scanned_hashes(
            self._redis, keys.inbound("*"), ("message", "attachments", "conversation_id")
        ):
            entry_id = name.removeprefix(keys.inbound(""))
            message_json = data.get("message") or ""
            if entry_id in found.inbound or not person.maybe_in(message_json):
                continue
            try:
                message = InboundMessage.model_validate_json(message_json)
            except ValidationError:
                continue
            ids = {message.sender.key, *(alias.key for alias in message.aliases)}
            if message.new_identity is not None:
                ids.add(message.new_identity.key)
            if not ids & person.identities:
                continue
            found.inbound[entry_id] = message
            grew = person.add(ids) or grew
            if data.get("conversation_id"):
                found.conversations.add(data["conversation_id"])
            found.media |= _media_tokens(data.get("attachments") or "")
        return grew

    def _outreach(self, person: Person, found: _Found) -> None:
        lanes = person.lanes()
        for name, data in scanned_hashes(self._redis, keys.outreach("*"), None):
            try:
                customer = SenderIdentity.model_validate_json(data.get("customer") or "{}")
            except ValidationError:
                continue
            if customer.key not in person.identities and customer.lane_key not in lanes:
                continue
            found.outreach.add(name.removeprefix(keys.outreach("")))
            if data.get("conversation_id"):
                found.conversations.add(data["conversation_id"])
            provider = data.get("provider", "")
            found.outbound |= {
                keys.outbound(provider, value)
                for field_name, value in data.items()
                if field_name.startswith("sent.")
            }

    def _persons_report(self, value: str, person: Person, found: _Found) -> bool:
        """Whether a stored delivery report is about a message sent to the person."""
        try:
            report = DeliveryStatus.model_validate_json(value)
        except ValidationError:
            return person.written_in(value)
        sent = keys.outbound(report.provider, report.provider_message_id)
        return sent in found.outbound or person.written_in(report.recipient or "")

    # --- removing ---

    def _delete(self, person: Person, found: _Found, report: Forgotten) -> None:
        removed = report.removed
        removed["inbound messages"] += self._delete_keys(keys.inbound(entry) for entry in found.inbound)
        removed["parts of long messages"] += self._delete_keys(
            keys.fragments(fragment_group(message)) for message in found.inbound.values() if message.fragment
        )
        removed["conversations (threads)"] += self._forget_threads(person)
        removed["reply parts"] += self._delete_keys(keys.reply(part) for part in found.parts)
        self._delete_keys(keys.own_part(part) for part in found.parts)
        removed["sent messages"] += self._delete_keys(found.outbound)
        removed["delivery reports"] += self._delete_keys(keys.status(status) for status in found.statuses)
        removed["messages the team wrote first"] += self._delete_keys(
            keys.outreach(m) for m in found.outreach
        )
        removed["notes said once"] += self._delete_keys(
            name
            for name, value in scanned_strings(self._redis, keys.note("*"))
            if value in found.conversations
        )
        self._delete_keys(
            key
            for conversation in found.conversations
            for key in (keys.own_pending(conversation), keys.reply_catchup_seen(conversation))
        )
        removed["identity map entries"] += self._forget_identities(person)
        removed["sender lanes"] += self._delete_keys(
            key for lane in person.lanes() for key in (keys.mailbox(lane), keys.sender_lock(lane))
        )
        removed["contacts sync notes"] += SyncStore(self._redis).forget(person.identities)
        self._forget_consent(person, report)
        removed["stored webhooks emptied"] += self._scrub_webhooks(person, found)
        removed["other customers' raw payloads emptied"] += self._scrub_raw_payloads(person)
        removed["merge audit entries redacted"] += self._redact_merges(person)

    def _delete_keys(self, names: Iterable[str]) -> int:
        batch = list(dict.fromkeys(names))
        deleted = 0
        for start in range(0, len(batch), 500):
            deleted += int(self._redis.delete(*batch[start : start + 500]))
        return deleted

    def _forget_threads(self, person: Person) -> int:
        threads = ThreadStore(self._redis)
        names = {
            text(name).removeprefix(keys.thread(""))
            for key in person.identities
            for name in self._redis.scan_iter(match=keys.thread(f"*:{_literal(key)}"), count=1000)
        }
        return sum(1 for name in names if threads.forget(name) is not None)

    def _forget_identities(self, person: Person) -> int:
        identities = IdentityMap(self._redis)
        known = [key for key in person.identities if identities.get(key) is not None]
        for key in person.identities:
            identities.forget(key)
        return len(known)

    def _forget_consent(self, person: Person, report: Forgotten) -> None:
        pseudonyms = Pseudonyms.configured(self._settings, create=True)
        assert pseudonyms is not None  # created when absent
        store = ConsentStore(self._redis, pseudonyms=lambda: pseudonyms)
        for key in sorted(person.identities):
            consent = store.forget(key, pseudonyms, forms=person.forms)
            report.removed["consent records"] += consent.records
            report.removed["consent audit entries"] += consent.audit_entries
            report.kept_hashed.extend(consent.kept_hashed)

    def _scrub_webhooks(self, person: Person, found: _Found) -> int:
        """Empty the stored webhooks whose payload writes the person's number: the record stays,
        so the provider's retry of the same request is still a duplicate; one not read yet is
        dropped (read now, it would bring the person back)."""
        scrubbed = 0
        for name, data in scanned_hashes(
            self._redis, keys.webhook("*"), ("body", "query", "reason", "read_at")
        ):
            if not any(person.written_in(data.get(part) or "") for part in ("body", "query", "reason")):
                continue
            webhook_id = name.removeprefix(keys.webhook(""))
            found.webhooks.add(webhook_id)
            with self._redis.pipeline() as pipe:
                pipe.hdel(name, "body", "query", "reason")
                if not data.get("read_at"):
                    pipe.hset(name, mapping={"read_at": "0", "claimed": "0", "forgotten": "1"})
                pipe.zrem(keys.WEBHOOKS_PENDING, webhook_id)
                pipe.execute()
            scrubbed += 1
        if found.webhooks:
            delete_jobs(self._redis, {WEBHOOK_JOB: found.webhooks})
        return scrubbed

    def _scrub_raw_payloads(self, person: Person) -> int:
        """Another customer's entry whose raw payload also names the person (a webhook that
        carried both their messages) keeps its message and loses only the payload."""
        scrubbed = 0
        for name, data in scanned_hashes(self._redis, keys.inbound("*"), ("raw",)):
            if data.get("raw") and person.written_in(data["raw"]):
                scrubbed += int(self._redis.hdel(name, "raw"))
        return scrubbed

    def _redact_merges(self, person: Person) -> int:
        """Merge audit rows naming the person: their contact snapshot and rerouted ids replaced."""
        rows = [text(row) for row in self._redis.lrange(keys.MERGES, 0, -1)]
        redacted = [_redacted(row, person) for row in rows]
        changed = sum(1 for old, new in zip(rows, redacted, strict=True) if old != new)
        if changed:
            with self._redis.pipeline() as pipe:  # MULTI: no reader sees the list half written
                pipe.delete(keys.MERGES)
                pipe.rpush(keys.MERGES, *redacted)
                pipe.execute()
        return changed

    def _forget_media(self, person: Person, tokens: Collection[str]) -> int:
        named = {token for token, name in self._media.names() if name and person.written_in(name)}
        gone = 0
        for token in {*tokens, *named}:
            if self._media.get(token) is not None:
                gone += 1
            self._media.discard(token)
        return gone


def forget_deleted_contact(
    redis_client: Redis, intercom: IntercomClient, settings: Settings, contact_id: str
) -> dict[str, object]:
    """Intercom deleted `contact_id`: forget the numbers that led to it, unless it was a lead
    merged into another contact, whose numbers now lead to the survivor and stay (only the lead's
    own leftovers go). What was done, for the job's result."""
    survivor = canonical(redis_client, intercom, ContactRef(contact_id, "lead"))
    leftovers = (keys.contact_identities(contact_id), keys.contact_threads(contact_id))
    if survivor is not None and survivor.id != contact_id:
        redis_client.delete(*leftovers)
        return {"outcome": "merged", "into": survivor.id}
    if survivor is not None:
        return {"outcome": "still in Intercom: nothing forgotten"}
    identities = IdentityMap(redis_client).identities_of(contact_id)
    threads = ThreadStore(redis_client)
    for thread in threads.of_contact(contact_id):
        if thread.customer_key not in identities:  # the number leads to someone else now
            threads.forget(thread.key)
    report = Forgetter(redis_client, settings).identities(identities) if identities else Forgotten()
    redis_client.delete(*leftovers)
    return {"outcome": "forgotten", "ids": len(identities), **report.to_json()}


def masked(customer: SenderIdentity) -> str:
    """The customer as the command shows them: never in full."""
    return mask_number(customer.e164 or customer.bare)


def _job_records(found: _Found) -> dict[JobType, set[str]]:
    return {
        INBOUND_JOB: set(found.inbound),
        REPLY_JOB: found.parts,
        STATUS_JOB: found.statuses,
        OUTREACH_JOB: found.outreach,
    }


def _media_tokens(attachments: str) -> set[str]:
    """The media tokens an inbound entry's attachments record names: files held, links given."""
    try:
        record = json.loads(attachments) if attachments else {}
    except ValueError:
        return set()
    tokens = {str(file.get("token")) for file in record.get("files") or [] if isinstance(file, dict)}
    for line in [*(record.get("urls") or []), *(record.get("notes") or [])]:
        for piece in str(line).split(_MEDIA_LINK)[1:]:
            tokens.add(piece[:43])
    return {token for token in tokens if token}


def _redacted(row: str, person: Person) -> str:
    """A merge audit row without the person: a snapshot naming them becomes its id only; an id
    of theirs among the rerouted ones, `(forgotten)`."""
    if not person.written_in(row):
        return row
    try:
        data = json.loads(row)
    except ValueError:
        return json.dumps({"redacted": "named a forgotten customer"})
    for side in ("from_snapshot", "into_snapshot"):
        snapshot = data.get(side)
        if isinstance(snapshot, dict) and person.written_in(json.dumps(snapshot)):
            data[side] = {"id": snapshot.get("id"), "forgotten": True}
    rerouted = data.get("rerouted")
    if isinstance(rerouted, dict):
        data["rerouted"] = {
            kind: ["(forgotten)" if person.written_in(str(item)) else item for item in items]
            for kind, items in rerouted.items()
            if isinstance(items, list)
        }
    return json.dumps(data)


def _literal(text_: str) -> str:
    """`text_` matched literally by SCAN's MATCH."""
    return "".join(f"\\{ch}" if ch in "\\*?[]" else ch for ch in text_)
