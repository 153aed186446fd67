"""Delivering an accepted message into Intercom.

Under the sender's lane lock: deliver every earlier message still waiting for this sender, then
this one. Each delivery resumes from the ledger's recovery points:

1. contact — `contact_id` recorded: reuse it; else resolve (identity map, search, new lead).
2. attachments — `attachments` recorded: reuse them; else fetch the media
   (`bridge.conversations.attachments`).
3. conversation — continue the thread's conversation when it is open, snoozed or recently
   closed (reply as the contact, its files in the same reply); otherwise open a new one from the
   contact, and add the files as its first reply (Intercom opens conversations without files).
   Files past one reply's worth go in further replies. When anything is left to do after the
   first call, where it goes and how far it got is recorded with the attachments
   (`Progress`), and a retry resumes from there instead of posting the text again.
   Both calls carry the customer's own time (`created_at`), and the text says when it arrives
   late (`bridge.conversations.customer_time`).
4. context — once the message and its files are in, the conversation's channel attributes and
   tag, unless its thread records them (`bridge.conversations.labels`: two calls for a new
   conversation, none for a continued one), and for a conversation the bridge opened, its
   assignee from `BRIDGE_ROUTES` (`bridge.conversations.routing`: one call when routed).
5. done — `status=delivered` with the conversation id, and the message leaves the lane, in one
   transaction with a continued thread's record of it and the lock's release; this worker's
   copies of the files go (Intercom holds them).

Each record (the entry, the identity, the thread) is read once under the lane and handed down:
a known contact's message into its open conversation is seven Redis round trips.

A reply Intercom refuses because of its files (a 4xx other than 404, 409 or 410) is posted again
without them, each file linked or withheld with a line saying why: the text always arrives.

Each reply into a conversation is recorded as intended before it is posted, and a retry that finds
the intent without the step recorded looks in the conversation before posting it again
(`bridge.conversations.posting`). The window the ledger cannot close: Intercom opened the
conversation in step 3 (or created the lead in step 1) and the process died before recording it,
with the call in flight or just answered. A retry then opens another conversation (or, search
lagging, creates another lead). Intercom has no idempotency key to prevent that, and its search
does not show new ones for minutes (research/engineering.md §4.3), so each result is recorded the
moment it comes back, and workers wait out a Redis outage rather than fail between the two.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from redis import Redis
from redis.client import Pipeline

from bridge.contacts.matching import ContactPriority, MatchRule, chosen_text
from bridge.contacts.resolution import IdentityMap, resolve_contact
from bridge.conversations.attachments import AttachmentResolver, Attachments, HeldFile, Progress
from bridge.conversations.customer_time import CustomerTime, customer_time
from bridge.conversations.fragments import FRAGMENT_WAIT_SECONDS, FragmentStore, assemble
from bridge.conversations.handover import Handover, batches, files_line
from bridge.conversations.labels import Label, Labeller
from bridge.conversations.lanes import SenderLane
from bridge.conversations.notes import Notes
from bridge.conversations.posting import TEXT, Postings, files_step
from bridge.conversations.rerouting import canonical, follow_alias, forget_deleted
from bridge.conversations.routing import route_for
from bridge.conversations.threads import Thread, ThreadStore, continues, thread_key, with_inbound
from bridge.core import freshness, metrics
from bridge.core.errors import (
    BridgeError,
    IntercomGone,
    IntercomNotFound,
    LedgerRecordMissing,
    UnprocessableMessage,
)
from bridge.core.logs import mask
from bridge.core.settings import Settings
from bridge.infra.worker_timings import JOB_TIMEOUT_SECONDS
from bridge.intake.ledger import InboundEntry, InboundLedger, Status, fragment_group
from bridge.intercom.client import IntercomClient
from bridge.intercom.models import ContactRef
from bridge.model.messages import InboundMessage

log = logging.getLogger(__name__)

# How long a job goes on delivering the lane's later messages before it leaves the rest to a job
# of their own: well inside a job's timeout, whatever one message costs.
DRAIN_SECONDS = JOB_TIMEOUT_SECONDS / 5


class ContactDeleted(Exception):
    """The contact a message was matched to no longer exists in Intercom, and nothing replaced it."""

    def __init__(self, contact_id: str) -> None:
        super().__init__(contact_id)
        self.contact_id = contact_id


def goes_on_in(
    redis_client: Redis, thread: Thread, contact: ContactRef, *, now: float, settings: Settings
) -> bool:
    """Whether `contact`'s new message goes on in `thread`'s conversation (else a new one opens):
    the thread is still that contact's (merges followed) and the conversation still continues.
    `contact` has just been followed through the aliases: a thread of that very id needs no look."""
    if thread.contact_id == contact.id:
        owner = contact
    else:
        owner = follow_alias(redis_client, ContactRef(thread.contact_id, contact.role))
    return owner.id == contact.id and continues(
        thread, now=now, new_conversation_after=settings.new_conversation_after
    )


def _no_conversation(reason: str) -> IntercomNotFound:
    return IntercomNotFound(
        method="POST", path="/conversations", status=404, code="not_found", message=reason
    )


class Result(StrEnum):
    CREATED = "created_conversation"
    CONTINUED = "continued_conversation"
    NUMBER_CHANGED = "number_changed"
    WAITING = "waiting_for_parts"
    ALREADY = "already_delivered"


@dataclass(frozen=True)
class Handoff:
    """A message of the lane this job left for a job of its own: it failed (its job retries it
    and records why), or waits for its parts (`delay`: when to look again), or the drain ran long."""

    inbound_id: str
    delay: float = 0.0
    reason: str = ""


@dataclass(frozen=True)
class Delivery:
    inbound_id: str
    result: Result
    conversation_id: str = ""
    retry_after: float = 0.0  # WAITING: when to look again
    # The message delivered (or waiting), as read under the lane: what the job does next reads it
    # here rather than from the ledger again. None: a delivery made before this was carried.
    message: InboundMessage | None = None
    drained: int = 0  # the lane's later messages this job delivered after its own
    handoffs: tuple[Handoff, ...] = ()  # messages of the lane that need a job of their own


class Deliverer:
    """Delivers ledger entries; one per job, wired to that job's Redis, Intercom and media."""

    def __init__(
        self,
        *,
        redis_client: Redis,
        intercom: IntercomClient,
        attachments: AttachmentResolver,
        settings: Settings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis_client
        self._intercom = intercom
        self._attachments = attachments
        self._settings = settings
        self._clock = clock
        self._ledger = InboundLedger(redis_client, settings)
        self._identities = IdentityMap(redis_client)
        self._threads = ThreadStore(redis_client)
        self._fragments = FragmentStore(redis_client)
        self._notes = Notes(redis_client, intercom, settings)
        self._handover = Handover(intercom, attachments)
        self._postings = Postings(self._ledger, intercom, clock=clock)
        self._labeller = Labeller(redis_client, intercom, admin_id=self._notes.admin_id, clock=clock)
        # The last writes of a message (its delivered mark, the thread's record of it), sent with
        # the lane's leave in one transaction (`SenderLane.leave`). Each is also done again by a
        # retry that finds it missing, so a death before they land loses nothing.
        self._pending: list[Callable[[Pipeline], None]] = []
        # Threads read ahead under the lane, with its queue (`deliver`), each used once (`_thread`).
        self._read_ahead: dict[str, Thread | None] = {}
        # Messages of the lane this delivery leaves to jobs of their own (`Handoff`).
        self._handoffs: list[Handoff] = []

    def deliver(self, inbound_id: str) -> Delivery:
        """Deliver `inbound_id`, after any earlier message of the same sender still waiting, and
        then the lane's messages that came after it (they have no job of their own)."""
        entry = self._ledger.get(inbound_id)
        if entry is None:
            raise LedgerRecordMissing(f"inbound {inbound_id} is not in the ledger (expired or never stored)")
        lane = SenderLane(self._redis, entry.message.sender.lane_key, worker_ttl=self._settings.worker_ttl)
        if entry.status is Status.DELIVERED and not lane.occupied():
            return Delivery(inbound_id, Result.ALREADY, entry.conversation_id or "", message=entry.message)
        self._handoffs = []
        with lane.held():
            # The entry again, under the lock (another job of the lane may have delivered it, or got
            # further), with the lane's queue and the message's thread: one round trip.
            key = thread_key(entry.message)

            def reads(pipe: Pipeline) -> None:
                lane.read_waiting(pipe)
                self._threads.read_later(pipe, key)

            (queued, thread), fresh = self._ledger.get_after(inbound_id, reads)
            earlier = lane.waiting_in(queued, inbound_id)
            self._read_ahead.clear()
            if not earlier and fresh is not None and thread_key(fresh.message) == key:
                self._read_ahead[key] = self._threads.from_answer(key, thread)  # no one else changed it
            for earlier_id in earlier:
                self._deliver_waiting(earlier_id, lane)
                lane.keep_alive()
            try:
                delivery = self._deliver_one(fresh or entry)
            except Exception:
                lane.leave(None, writes=self._take_pending())  # what was done stays recorded
                raise
            done = delivery.result is not Result.WAITING
            waiting = lane.pass_on(inbound_id if done else None, writes=self._take_pending())
            drained = self._drain(lane, waiting, own=inbound_id)
        return replace(
            delivery, message=(fresh or entry).message, drained=drained, handoffs=tuple(self._handoffs)
        )

    def _drain(self, lane: SenderLane, waiting: list[str], *, own: str) -> int:
        """Deliver the lane's messages that came after ours, in order, while it holds any and the
        job has time (`DRAIN_SECONDS`); how many. Those left in the lane are handed off."""
        started, drained = time.monotonic(), 0
        # In the lane for a job of their own (ours, and earlier ones handed off): not ours to deliver.
        left = {own, *(handoff.inbound_id for handoff in self._handoffs)}
        while later := [queued for queued in waiting if queued not in left]:
            if time.monotonic() - started > DRAIN_SECONDS:
                self._handoffs.append(Handoff(later[0], reason="the job's drain of the lane ran long"))
                break
            handoff = self._deliver_waiting(later[0], lane, leave=False)  # `pass_on` kept the lock alive
            if handoff is None:
                waiting = lane.pass_on(later[0], writes=self._take_pending())
                drained += 1
            else:
                left.add(later[0])
                waiting = lane.pass_on(None, writes=self._take_pending())
        lane.release()
        return drained

    def _deliver_waiting(self, inbound_id: str, lane: SenderLane, *, leave: bool = True) -> Handoff | None:
        """Deliver a message of the lane other than the job's own (one before it or after it),
        unless delivered or failed already; None when it can leave the lane, else why it needs a
        job of its own (it may have one: that job finds it so). With `leave`, it leaves (or stays)
        with the delivery's last writes here; else the caller sends them (`SenderLane.pass_on`)."""
        entry = self._ledger.get(inbound_id)
        if entry is None or entry.status in (Status.DELIVERED, Status.FAILED):
            # Gone, done, or in the failed registry waiting for a replay.
            handoff = None
        else:
            try:
                delivery = self._deliver_one(entry)
            except BridgeError as exc:
                # Its own job retries it and records why; ours should not fail for it.
                log.warning("could not deliver message %s of the lane: %s", inbound_id, mask(str(exc)))
                handoff = Handoff(inbound_id, reason=mask(f"{type(exc).__name__}: {exc}"))
            except Exception:
                lane.leave(None, writes=self._take_pending())  # what was done stays recorded
                raise
            else:
                waits = delivery.result is Result.WAITING
                handoff = (
                    Handoff(inbound_id, delivery.retry_after, "waiting for its parts") if waits else None
                )
        if handoff is not None:
            self._handoffs.append(handoff)
        if leave:
            lane.leave(inbound_id if handoff is None else None, writes=self._take_pending())
        return handoff

    def _thread(self, key: str) -> Thread | None:
        """The thread at `key`: as read ahead, the first time, else from Redis."""
        if key in self._read_ahead:
            return self._read_ahead.pop(key)
        return self._threads.get(key)

    def _take_pending(self) -> list[Callable[[Pipeline], None]]:
        pending, self._pending = self._pending, []
        return pending

    def _deliver_one(self, entry: InboundEntry) -> Delivery:
        if entry.status is Status.DELIVERED:
            return Delivery(entry.inbound_id, Result.ALREADY, entry.conversation_id or "")
        if entry.message.problem:
            raise UnprocessableMessage(
                f"message {entry.inbound_id} from {entry.message.provider}: {entry.message.problem}"
            )
        if entry.message.fragment is not None:
            return self._deliver_fragment(entry)
        return self._post(entry, entry.message)

    def _deliver_fragment(self, entry: InboundEntry) -> Delivery:
        message = entry.message
        assert message.fragment is not None
        group = self._fragments.get(fragment_group(message))
        if message.fragment.index in group.delivered:
            self._mark_delivered(entry.inbound_id, group.conversation_id or "")
            return Delivery(entry.inbound_id, Result.ALREADY, group.conversation_id or "")
        entries = {index: self._ledger.get(part_id) for index, part_id in group.pending().items()}
        present = {index: part for index, part in entries.items() if part is not None}
        total = message.fragment.total
        complete = all(index in group.parts for index in range(1, total + 1))
        # The bridge's own receive time: a provider's timestamp can be hours old on a late redelivery.
        waited = self._clock() - min(part.stored_at or 0.0 for part in present.values())
        if not complete and waited < FRAGMENT_WAIT_SECONDS:
            return Delivery(entry.inbound_id, Result.WAITING, retry_after=FRAGMENT_WAIT_SECONDS - waited)
        whole = assemble(
            {i: part.message for i, part in present.items()}, total=total, delivered_before=group.delivered
        )
        carrier = present[min(present)]
        delivery = self._post(carrier, whole)
        self._fragments.mark_delivered(group, set(present), delivery.conversation_id)
        for part_id in {entry.inbound_id, *(part.inbound_id for part in present.values())}:
            self._mark_delivered(part_id, delivery.conversation_id)
        return replace(delivery, inbound_id=entry.inbound_id)

    def _post(self, carrier: InboundEntry, message: InboundMessage) -> Delivery:
        """Post `message` to Intercom, with recovery points on the `carrier` ledger entry. A contact
        deleted in Intercom since the bridge matched it is forgotten, and the message matched
        afresh, once (a contact deleted twice in one delivery is a real failure)."""
        try:
            return self._post_as(*self._contact(carrier, message), message)
        except ContactDeleted as deleted:
            forget_deleted(self._redis, deleted.contact_id)
            self._ledger.forget_contact(carrier.inbound_id)
            carrier = replace(carrier, contact=None, match=None)
        try:
            return self._post_as(*self._contact(carrier, message), message)
        except ContactDeleted as deleted:
            raise _no_conversation(f"contact {deleted.contact_id} no longer exists in Intercom") from None

    def _post_as(self, carrier: InboundEntry, contact: ContactRef, message: InboundMessage) -> Delivery:
        if message.new_identity is not None:
            return self._change_number(carrier, message, contact)
        attachments = self._attachments_for(carrier, message)
        files = batches(attachments.files, self._settings.intercom_files_max_bytes)
        progress = attachments.progress
        if progress is None:
            progress, contact, thread = self._first_call(carrier, message, contact, attachments, files)
        else:  # an earlier attempt made the first call: its bookkeeping again (it is idempotent)
            before = self._thread(thread_key(message))
            thread = self._keep_thread(carrier, message, contact, progress, before)
        created_at = self._customer_time(message).created_at
        for index in range(progress.batches, len(files)):
            step = files_step(index)
            if self._postings.already_posted(carrier, step) is not None:
                self._handover.settled(files[index])
            else:
                self._handover.reply(
                    progress.conversation_id,
                    contact,
                    message,
                    files_line(files[index]),
                    files[index],
                    created_at=created_at,
                    intend=self._postings.intend(
                        carrier.inbound_id, progress.conversation_id, step, created_at=created_at
                    ),
                )
            progress = replace(progress, batches=index + 1)
            # The last one too: labelling the conversation follows, and may fail.
            self._record_progress(carrier, attachments, progress)
        self._label_and_route(message, progress, thread)
        return self._delivered(
            carrier, Result.CREATED if progress.opened else Result.CONTINUED, progress.conversation_id
        )

    def _first_call(
        self,
        carrier: InboundEntry,
        message: InboundMessage,
        contact: ContactRef,
        attachments: Attachments,
        files: list[list[HeldFile]],
    ) -> tuple[Progress, ContactRef, Thread | None]:
        """The message's text into its conversation: a reply carrying the first files when the
        thread continues, else a new conversation (files come after). What is left is recorded;
        the thread as it now stands is returned with where the message went."""
        body, urls = message.intercom_content(attachments.urls, files=len(attachments.files))
        sent = self._customer_time(message)
        body = "\n".join([body, *attachments.notes, *([sent.late_line] if sent.late_line else [])])
        key = thread_key(message)
        thread = self._thread(key) or self._variant_thread(key, message)
        first = files[0] if files else []
        earlier = self._postings.already_posted(carrier, TEXT)
        if earlier is not None:  # an attempt that stopped before recording it had posted the text
            self._handover.settled(first)
            if earlier.sent.contact_id != contact.id:  # it had followed a merge
                contact = ContactRef(earlier.sent.contact_id, contact.role)
            labelled = (
                thread is not None
                and thread.conversation_id == earlier.conversation_id
                and bool(thread.labelled_at)
            )
            progress = Progress(earlier.conversation_id, opened=False, batches=1 if files else 0)
            kept = self._after_first_call(
                carrier, message, contact, attachments, progress, len(files), thread, more=not labelled
            )
            return progress, contact, kept
        now = self._clock()
        if thread is not None and goes_on_in(self._redis, thread, contact, now=now, settings=self._settings):
            intend = self._postings.intend(
                carrier.inbound_id, thread.conversation_id, TEXT, created_at=sent.created_at
            )
            replied, contact = self._as_live_contact(
                contact,
                lambda who: self._handover.reply(
                    thread.conversation_id,
                    who,
                    message,
                    body,
                    first,
                    urls=urls,
                    created_at=sent.created_at,
                    intend=intend,
                ),
            )
            if replied:
                progress = Progress(thread.conversation_id, opened=False, batches=1 if files else 0)
                labelled = bool(thread.labelled_at)
                kept = self._after_first_call(
                    carrier, message, contact, attachments, progress, len(files), thread, more=not labelled
                )
                return progress, contact, kept
            log.warning("conversation %s is gone; opening a new one", thread.conversation_id)
        created, contact = self._as_live_contact(
            contact,
            lambda who: self._intercom.create_conversation(
                contact=who, body=body, attachment_urls=urls, created_at=sent.created_at
            ),
        )
        if not created:
            raise _no_conversation(f"no conversation could be opened for contact {contact.id}, which exists")
        progress = Progress(str(created), opened=True, batches=0)
        kept = self._after_first_call(
            carrier, message, contact, attachments, progress, len(files), thread, more=True
        )
        return progress, contact, kept

    def _after_first_call(
        self,
        carrier: InboundEntry,
        message: InboundMessage,
        contact: ContactRef,
        attachments: Attachments,
        progress: Progress,
        batch_count: int,
        thread: Thread | None,
        *,
        more: bool,
    ) -> Thread | None:
        """Record how far the message got when calls follow the first (`more`: labelling or
        routing the conversation), first, so that a retry never posts the text again."""
        if progress.batches < batch_count or more:
            self._record_progress(carrier, attachments, progress)
        return self._keep_thread(carrier, message, contact, progress, thread)

    def _keep_thread(
        self,
        carrier: InboundEntry,
        message: InboundMessage,
        contact: ContactRef,
        progress: Progress,
        before: Thread | None,
    ) -> Thread | None:
        """The thread's record of the message: a new thread for a conversation it opened, the
        time of the customer's last message for one it continued; the ambiguity note either way.
        `before`: the thread as this job read it (under the lane); the thread as now recorded.
        A continued thread's record goes with the delivery's last writes (`_pending`)."""
        key = thread_key(message)
        now = self._clock()
        # WhatsApp's 24-hour window runs from when the customer sent it, not from when we delivered it.
        sent_at = min(message.received_at.timestamp(), now)
        match = carrier.match or {}
        kept: Thread | None = None
        if progress.opened:
            kept = _new_thread(key, message, progress.conversation_id, contact, now, sent_at, match)
            if before is not None and before.conversation_id == kept.conversation_id:
                # A retry: what was done in the conversation since stays recorded.
                kept = replace(kept, labelled_at=before.labelled_at, routed_to=before.routed_to)
            self._threads.save(kept)
        elif before is not None:
            reference, message_id = message.reply_reference, message.provider_message_id
            kept = with_inbound(before, at=sent_at, reply_reference=reference, message_id=message_id)

            def record(pipe: Pipeline, thread: Thread = before) -> None:
                self._threads.record_inbound(
                    thread, at=sent_at, reply_reference=reference, message_id=message_id, pipe=pipe
                )

            self._pending.append(record)
        self._note_ambiguity(match, progress.conversation_id)
        return kept

    def _label_and_route(self, message: InboundMessage, progress: Progress, thread: Thread | None) -> None:
        """The conversation's channel attributes and tag unless its thread has them
        (`bridge.conversations.labels`), and, when the bridge opened it for this message, its
        assignee from `BRIDGE_ROUTES` (`bridge.conversations.routing`). `thread`: as this job
        recorded it."""
        if thread is None or thread.conversation_id != progress.conversation_id:
            return
        label = Label.of(
            channel=message.channel,
            provider=message.provider,
            business_number=message.business_number,
            media=bool(message.media),
        )
        thread = self._labeller.label(thread, label)
        if progress.opened:
            route = route_for(self._settings, message.channel.value, message.business_number)
            self._labeller.route(thread, route)

    def _customer_time(self, message: InboundMessage) -> CustomerTime:
        now = self._clock()
        return customer_time(message, now=now, oldest=now - freshness.retention_seconds(self._settings))

    def _record_progress(self, carrier: InboundEntry, attachments: Attachments, progress: Progress) -> None:
        self._ledger.record_attachments(
            carrier.inbound_id, replace(attachments, progress=progress).to_record()
        )

    def _variant_thread(self, key: str, message: InboundMessage) -> Thread | None:
        """The thread of another form of the sender's number, moved to this one: the team wrote
        first to `+52 55…` and WhatsApp answers from `521 55…` (Brazil's 9th digit, Argentina's
        `549`). The conversation continues, and replies go to the form the customer wrote from."""
        for variant in message.sender.variant_keys:
            found = self._threads.get(thread_key(message, sender_key=variant))
            if found is not None:
                return self._threads.rekey(found, key, customer_address=message.sender.raw)
        return None

    def _as_live_contact(
        self, contact: ContactRef, action: Callable[[ContactRef], object]
    ) -> tuple[object, ContactRef]:
        """Run `action` as `contact`; if Intercom says the contact is gone (merged: 410 with a Link,
        or 404), run it once more as the contact it became. (None, contact) when the contact is
        alive and the failure was the conversation's (deleted), so the caller can open a new one;
        ContactDeleted when the contact was deleted outright."""
        try:
            return action(contact) or True, contact
        except (IntercomGone, IntercomNotFound) as failure:
            survivor = canonical(self._redis, self._intercom, contact)
            if survivor is None:
                raise ContactDeleted(contact.id) from failure
            if survivor.id == contact.id:
                if isinstance(failure, IntercomGone):
                    raise
                return None, contact
            log.info("contact %s was merged into %s; following it", contact.id, survivor.id)
            return action(survivor) or True, survivor

    def _change_number(self, carrier: InboundEntry, message: InboundMessage, contact: ContactRef) -> Delivery:
        """The customer now writes from another number: it leads to the same contact, and the
        conversation continues there, with replies going to the new number."""
        new = message.new_identity
        assert new is not None
        self._identities.set(new.key, contact)
        old_thread = self._threads.get(thread_key(message))
        conversation_id = ""
        if old_thread is not None:
            moved = message.model_copy(update={"sender": new})
            self._threads.save(replace(old_thread, key=thread_key(moved), customer_address=new.raw))
            conversation_id = old_thread.conversation_id
            if self._settings.intercom_admin_id:
                note = (
                    f"The customer changed their {message.channel.value} number to {new.bare}. {message.text}"
                )
                self._intercom.add_note(
                    conversation_id, admin_id=self._settings.intercom_admin_id, body=note.strip()
                )
        log.info("sender %s changed number to %s", mask(message.sender.key), mask(new.key))
        return self._delivered(carrier, Result.NUMBER_CHANGED, conversation_id)

    def _contact(self, carrier: InboundEntry, message: InboundMessage) -> tuple[InboundEntry, ContactRef]:
        """The message's contact, and `carrier` as it now stands (with the match recorded)."""
        if carrier.contact is not None:
            return carrier, follow_alias(self._redis, carrier.contact)
        decision = resolve_contact(
            sender=message.sender,
            aliases=message.aliases,
            name=message.profile_name,
            identities=self._identities,
            intercom=self._intercom,
            default_region=self._settings.default_region,
            priority=ContactPriority.configured(self._settings),
        )
        contact = follow_alias(self._redis, ContactRef(id=decision.contact_id, role=decision.role))
        match = decision.to_record()
        # A match Intercom was asked for (a search, a new lead) is recorded at once; the identity
        # map's goes with the entry's next write (the reply's intent): a retry finds it again.
        asked = decision.rule is not MatchRule.IDENTITY_MAP
        if asked:
            self._read_ahead.clear()  # the thread may have changed during those calls (a merge)
        self._ledger.record_contact(carrier.inbound_id, contact, match, with_next_write=not asked)
        return replace(carrier, contact=contact, match=match), contact

    def _note_ambiguity(self, match: Mapping[str, Any], conversation_id: str) -> None:
        """Several contacts held the number: tell the agent once per conversation, naming the others,
        so a wrong guess is one merge away (the inbox app lists them as buttons)."""
        others = [c for c in match.get("candidates", []) if c.get("id") != match.get("contact_id")]
        if others:
            self._notes.post_once(
                conversation_id,
                ambiguity_note(match["contact_id"], others, chosen_by=match.get("chosen_by")),
                once=f"ambiguous:{conversation_id}",
            )

    def _attachments_for(self, carrier: InboundEntry, message: InboundMessage) -> Attachments:
        recorded = carrier.attachments
        if recorded:
            return Attachments.from_record(recorded)
        attachments = self._attachments.resolve(message)
        if message.media:
            self._ledger.record_attachments(carrier.inbound_id, attachments.to_record())
        return attachments

    def _delivered(self, carrier: InboundEntry, result: Result, conversation_id: str) -> Delivery:
        self._mark_delivered(carrier.inbound_id, conversation_id)
        metrics.current().delivered(
            carrier.message.provider, result.value, received_at=carrier.stored_at, now=self._clock()
        )
        log.info("inbound %s: %s %s", carrier.inbound_id, result.value, conversation_id)
        return Delivery(carrier.inbound_id, result, conversation_id)

    def _mark_delivered(self, inbound_id: str, conversation_id: str) -> None:
        """Recorded with the lane's leave (`_pending`): a retry before it lands finds the message's
        posting (`bridge.conversations.posting`) or its progress, and does not post it again."""
        at = self._clock()
        self._pending.append(
            lambda pipe: self._ledger.queue_delivered(pipe, inbound_id, conversation_id, at=at)
        )


def _new_thread(
    key: str,
    message: InboundMessage,
    conversation_id: str,
    contact: ContactRef,
    now: float,
    sent_at: float,
    match: Mapping[str, Any],
) -> Thread:
    candidates = match.get("candidates", [])
    return Thread(
        key=key,
        conversation_id=conversation_id,
        contact_id=contact.id,
        provider=message.provider,
        channel=message.channel.value,
        business_number=message.business_number,
        customer_address=message.sender.raw,
        account=message.account or "",
        last_inbound_at=sent_at,
        last_inbound_id=message.provider_message_id,
        created_at=now,
        reply_reference=message.reply_reference or "",
        match_candidates=json.dumps(candidates) if len(candidates) > 1 else "",
    )


def ambiguity_note(winner_id: str, others: list[dict[str, Any]], *, chosen_by: str | None = None) -> str:
    """The note naming the other contacts a number matched, and the rule that chose the winner
    (`MatchDecision.chosen_by`; a match recorded before there was a choice of rule was the latest
    updated)."""
    rule = ContactPriority(chosen_by) if chosen_by else ContactPriority.LATEST_UPDATED
    lines = [
        f"This number belongs to {len(others) + 1} contacts in Intercom. The bridge chose {winner_id}, "
        f"{chosen_text(rule)}; the others:"
    ]
    for other in others:
        updated = other.get("updated_at")
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(int(updated))) if updated else "unknown"
        lines.append(
            f"• {other.get('name') or '(no name)'}, {other.get('role')}, id {other.get('id')}, "
            f"last updated {when}"
        )
    lines.append("If the customer is one of them, use “Merge with existing user/lead” in the inbox app.")
    return "\n".join(lines)
