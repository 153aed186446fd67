"""Delivering an accepted message into Intercom.

Under the sender's lane lock: deliver every earlier message still waiting for this sender, then
this one. Each delivery resumes from the ledger's recovery points:

1. contact  — `contact_id` recorded: reuse it; else resolve (identity map, search, new lead).
2. conversation — continue the thread's conversation when it is open, snoozed or recently
   closed (reply as the contact); otherwise open a new one from the contact.
3. done — `status=delivered` with the conversation id, and the message leaves the lane.

The one window the ledger cannot close: Intercom accepted step 2 and the process died before
recording it. A retry then posts the message again. Intercom has no idempotency key to prevent
that (research/engineering.md §4.3), so the window is kept to the time between a response and
one Redis write.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from redis import Redis

from bridge.contacts import IdentityMap, resolve_contact
from bridge.errors import BridgeError, IntercomNotFound, LedgerRecordMissing, UnprocessableMessage
from bridge.intercom.client import IntercomClient
from bridge.intercom.models import ContactRef
from bridge.lanes import SenderLane
from bridge.ledger import InboundLedger, LedgerEntry, Status
from bridge.logs import mask
from bridge.messages import InboundMessage
from bridge.settings import Settings
from bridge.threads import Thread, ThreadStore, continues, thread_key

log = logging.getLogger(__name__)


class Result(StrEnum):
    CREATED = "created_conversation"
    CONTINUED = "continued_conversation"
    ALREADY = "already_delivered"


@dataclass(frozen=True)
class Delivery:
    inbound_id: str
    result: Result
    conversation_id: str


class Deliverer:
    """Delivers ledger entries; one per job, wired to that job's Redis and Intercom client."""

    def __init__(
        self,
        *,
        redis_client: Redis,
        intercom: IntercomClient,
        settings: Settings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis_client
        self._intercom = intercom
        self._settings = settings
        self._clock = clock
        self._ledger = InboundLedger(redis_client, settings)
        self._identities = IdentityMap(redis_client)
        self._threads = ThreadStore(redis_client)

    def deliver(self, inbound_id: str) -> Delivery:
        """Deliver `inbound_id`, after any earlier message of the same sender still waiting."""
        entry = self._ledger.get(inbound_id)
        if entry is None:
            raise LedgerRecordMissing(f"inbound {inbound_id} is not in the ledger (expired or never stored)")
        if entry.status is Status.DELIVERED:
            return Delivery(inbound_id, Result.ALREADY, entry.get("conversation_id") or "")
        lane = SenderLane(self._redis, entry.message.sender.key)
        with lane.held():
            for earlier_id in lane.waiting_before(inbound_id):
                self._deliver_earlier(earlier_id, lane)
                lane.keep_alive()
            entry = self._ledger.get(inbound_id) or entry
            delivery = self._deliver_one(entry)
            lane.leave(inbound_id)
        return delivery

    def _deliver_earlier(self, inbound_id: str, lane: SenderLane) -> None:
        """Deliver a message that arrived before ours, if its own job has not (and may still)."""
        entry = self._ledger.get(inbound_id)
        if entry is None or entry.status in (Status.DELIVERED, Status.FAILED):
            lane.leave(inbound_id)  # gone, done, or in the failed registry waiting for a replay
            return
        try:
            self._deliver_one(entry)
        except BridgeError as exc:
            # Its own job will retry it and record why; ours should not fail for it.
            log.warning("could not deliver earlier message %s first: %s", inbound_id, mask(str(exc)))
            return
        lane.leave(inbound_id)

    def _deliver_one(self, entry: LedgerEntry) -> Delivery:
        if entry.status is Status.DELIVERED:
            return Delivery(entry.inbound_id, Result.ALREADY, entry.get("conversation_id") or "")
        message = entry.message
        if message.problem:
            raise UnprocessableMessage(
                f"message {entry.inbound_id} from {message.provider}: {message.problem}"
            )
        contact = self._contact(entry)
        body, attachment_urls = message.intercom_content()
        key = thread_key(message)
        thread = self._threads.get(key)
        now = self._clock()
        if (
            thread is not None
            and thread.contact_id == contact.id
            and continues(thread, now=now, new_conversation_after=self._settings.new_conversation_after)
        ):
            try:
                self._intercom.reply_as_contact(
                    thread.conversation_id, contact_id=contact.id, body=body, attachment_urls=attachment_urls
                )
            except IntercomNotFound:
                log.warning("conversation %s is gone; opening a new one", thread.conversation_id)
            else:
                self._threads.record_inbound(thread, at=now)
                return self._delivered(entry, Result.CONTINUED, thread.conversation_id)
        conversation_id = self._intercom.create_conversation(
            contact=contact, body=body, attachment_urls=attachment_urls
        )
        self._threads.save(_new_thread(key, message, conversation_id, contact, now))
        return self._delivered(entry, Result.CREATED, conversation_id)

    def _contact(self, entry: LedgerEntry) -> ContactRef:
        recorded = entry.get("contact_id")
        if recorded:
            return ContactRef(id=recorded, role=entry.get("contact_role") or "lead")
        decision = resolve_contact(
            message=entry.message, identities=self._identities, intercom=self._intercom
        )
        self._ledger.update(
            entry.inbound_id,
            contact_id=decision.contact_id,
            contact_role=decision.role,
            match=json.dumps(decision.to_record()),
        )
        return ContactRef(id=decision.contact_id, role=decision.role)

    def _delivered(self, entry: LedgerEntry, result: Result, conversation_id: str) -> Delivery:
        self._ledger.update(
            entry.inbound_id,
            status=Status.DELIVERED.value,
            conversation_id=conversation_id,
            delivered_at=f"{self._clock():.6f}",
            error="",
        )
        log.info("inbound %s: %s %s", entry.inbound_id, result.value, conversation_id)
        return Delivery(entry.inbound_id, result, conversation_id)


def _new_thread(
    key: str, message: InboundMessage, conversation_id: str, contact: ContactRef, now: float
) -> Thread:
    return Thread(
        key=key,
        conversation_id=conversation_id,
        contact_id=contact.id,
        provider=message.provider,
        channel=message.channel.value,
        business_number=message.business_number,
        customer_address=message.sender.raw,
        account=message.account or "",
        last_inbound_at=now,
        created_at=now,
    )
