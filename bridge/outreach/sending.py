"""Sending a message the team wrote first: into Intercom as the team's, then to the customer.

Under the customer's sender lane (`bridge.conversations.lanes`), the same lock their own messages
are delivered under: a message to a new number and the customer's first message at the same
moment still make one contact, and the customer's answer finds the thread this opens. Each step
resumes from what the entry recorded (`bridge.outreach.store`):

1. contact: the one named (`intercom_contact_id`), else found or created as for a customer who
   writes (`bridge.contacts.resolution`: the identity map, a search, a new lead);
2. conversation: the thread's conversation when it continues (open, snoozed, recently closed),
   as an admin reply there; else a new admin-initiated conversation (`POST /messages`). The
   thread then carries the customer's answer and the agents' replies over the same channel;
3. send: each planned message (one provider call each), its id recorded before the next. A
   refusal fails the message with the provider's code and a person's reason, and tells the
   agent in a note, as for replies.

Intercom comes first: the customer's answer, which can come within seconds, must find the
conversation, and a message the provider then refuses is noted there rather than missing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import httpx
from redis import Redis

from bridge.consent.keeper import ConsentKeeper
from bridge.consent.keywords import opt_in_word
from bridge.consent.store import ConsentStore, blocked_reason, scope_of
from bridge.contacts.matching import ContactPriority
from bridge.contacts.resolution import IdentityMap, resolve_contact
from bridge.conversations.delivery import goes_on_in
from bridge.conversations.labels import Label, Labeller
from bridge.conversations.lanes import SenderLane
from bridge.conversations.notes import Notes
from bridge.conversations.rerouting import follow_alias
from bridge.conversations.threads import Thread, ThreadStore
from bridge.core.errors import (
    ConversationPending,
    LedgerRecordMissing,
    PartiallySent,
    ProviderRejected,
    UnprocessableMessage,
)
from bridge.core.logs import mask
from bridge.core.retrying import RetryPolicy
from bridge.core.settings import Settings
from bridge.intercom.client import IntercomClient
from bridge.intercom.models import ContactRef, ConversationState
from bridge.model.messages import Channel
from bridge.model.outgoing import Draft, OutboundMessage, plan
from bridge.outreach.accept import closed_window
from bridge.outreach.store import CONFIRMATION_SOURCE, FINAL, OutreachEntry, OutreachStatus, OutreachStore
from bridge.providers.base import ProviderAdapter
from bridge.replies.agent import failure_note
from bridge.replies.optouts import provider_opt_out
from bridge.replies.own import OwnParts
from bridge.replies.sent import OutboundStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SendOutcome:
    message_id: str
    status: OutreachStatus
    provider_message_ids: tuple[str, ...] = ()


class OutreachSender:
    """Sends queued messages; one per job, wired to that job's Redis, Intercom and HTTP client."""

    def __init__(
        self,
        *,
        redis_client: Redis,
        intercom: IntercomClient,
        adapters: Mapping[str, ProviderAdapter],
        settings: Settings,
        http: httpx.Client,
        policy: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis_client
        self._intercom = intercom
        self._adapters = adapters
        self._settings = settings
        self._http = http
        self._policy = policy or RetryPolicy(backoff=settings.http_backoff)
        self._clock = clock
        self._store = OutreachStore(redis_client, settings)
        self._identities = IdentityMap(redis_client)
        self._threads = ThreadStore(redis_client)
        self._notes = Notes(redis_client, intercom, settings)
        self._own = OwnParts(redis_client, settings)
        self._sent = OutboundStore(redis_client, settings)
        self._consent = ConsentStore(redis_client)
        self._keeper = ConsentKeeper(redis_client, intercom)
        self._labeller = Labeller(redis_client, intercom, admin_id=self._notes.admin_id, clock=clock)

    def send(self, message_id: str) -> SendOutcome:
        entry = self._store.get(message_id)
        if entry is None:
            raise LedgerRecordMissing(f"message {message_id} is not stored (expired or never stored)")
        if entry.status in FINAL:
            return SendOutcome(message_id, entry.status, entry.sent_ids())
        adapter = self._adapters.get(entry.provider)
        if adapter is None:
            raise UnprocessableMessage(f"provider {entry.provider!r} of message {message_id} is not known")
        self._check_window(entry)
        blocked = self._blocked(entry)
        if blocked is not None:
            self._store.finish(message_id, OutreachStatus.BLOCKED, reason=blocked)
            log.info("message %s: blocked, the customer opted out", message_id)
            return SendOutcome(message_id, OutreachStatus.BLOCKED, entry.sent_ids())
        lane = SenderLane(self._redis, entry.customer.lane_key, worker_ttl=self._settings.worker_ttl)
        with lane.held():
            contact = self._contact(entry)
            thread = self._conversation(self._store.get(message_id) or entry, contact)
        # As the steps above left it: the part that shows it, when it continued a conversation.
        entry = self._store.get(message_id) or entry
        ids = [
            self._send_one(adapter, entry, thread, index, message)
            for index, message in enumerate(self._plan(adapter, entry, thread))
        ]
        self._store.finish(message_id, OutreachStatus.SENT)
        log.info("message %s: sent through %s (%d messages)", message_id, entry.provider, len(ids))
        return SendOutcome(message_id, OutreachStatus.SENT, tuple(ids))

    def _blocked(self, entry: OutreachEntry) -> str | None:
        """Why the message may not go, the customer having opted out since it was accepted;
        None when it may. A confirmation of their choice always goes (`bridge.outreach.optouts`)."""
        if entry.source == CONFIRMATION_SOURCE:
            return None
        scope = scope_of(entry.channel, entry.business_number)
        opted_out = self._consent.opted_out(scope, entry.customer.key)
        if opted_out is None:
            return None
        return blocked_reason(opted_out, entry.business, opt_in=opt_in_word(self._settings))

    def _check_window(self, entry: OutreachEntry) -> None:
        """WhatsApp free text accepted inside the window may be sent outside it (a backlog, a
        replay days later): then it is not sent, and says why."""
        if entry.channel is not Channel.WHATSAPP or entry.request.template is not None or entry.sent:
            return
        thread = self._threads.get(entry.thread_key)
        closed = closed_window(thread.last_inbound_at if thread is not None else 0.0, now=self._clock())
        if closed is None:
            return
        self._store.finish(entry.message_id, OutreachStatus.FAILED, reason=closed)
        if entry.conversation_id is not None:
            self._notes.post_once(
                entry.conversation_id,
                f"Not sent to the customer: {closed}.",
                once=f"outreach-window:{entry.message_id}",
            )
        raise UnprocessableMessage(f"message {entry.message_id}: {closed}")

    def _contact(self, entry: OutreachEntry) -> ContactRef:
        if entry.contact_id is not None and entry.contact_role is not None:
            return follow_alias(self._redis, ContactRef(entry.contact_id, entry.contact_role))
        named = entry.request.intercom_contact_id
        if named is not None:
            found = self._intercom.get_contact(named)
            contact = ContactRef(found.id, found.role)
        else:
            decision = resolve_contact(
                sender=entry.customer,
                identities=self._identities,
                intercom=self._intercom,
                default_region=self._settings.default_region,
                priority=ContactPriority.configured(self._settings),
            )
            contact = follow_alias(self._redis, ContactRef(decision.contact_id, decision.role))
        self._store.record_contact(entry.message_id, contact.id, contact.role)
        return contact

    def _conversation(self, entry: OutreachEntry, contact: ContactRef) -> Thread:
        """The thread the message goes out on, its conversation showing the message and carrying
        its channel attributes and tag (`bridge.conversations.labels`; set once a conversation)."""
        thread = self._threads.get(entry.thread_key)
        if entry.conversation_id is not None and thread is not None:
            return self._label(entry, thread)  # a retry: labelling may be what failed
        admin_id = entry.request.admin_id or self._notes.admin_id()
        now = self._clock()
        if thread is not None and goes_on_in(self._redis, thread, contact, now=now, settings=self._settings):
            with self._own.posting(thread.conversation_id):
                part_id = self._intercom.reply_as_admin(
                    thread.conversation_id, admin_id=admin_id, body=entry.rendered
                )
                self._own.record(part_id)
            self._store.record_conversation(entry.message_id, thread.conversation_id, part_id)
            return self._label(entry, thread)
        conversation_id = self._open(entry, contact, admin_id)
        self._store.record_conversation(entry.message_id, conversation_id, None)
        opened = _opened_thread(entry, contact, conversation_id, previous=thread, now=now)
        self._threads.save(opened)
        return self._label(entry, opened)

    def _label(self, entry: OutreachEntry, thread: Thread) -> Thread:
        """No call when the thread records its labels. Conversations the team opens are not
        routed: the admin who wrote has them."""
        label = Label.of(
            channel=entry.channel,
            provider=entry.provider,
            business_number=entry.business_number,
            media=bool(entry.request.media_urls),
        )
        return self._labeller.label(thread, label)

    def _open(self, entry: OutreachEntry, contact: ContactRef, admin_id: str) -> str:
        """A new conversation showing the message as the admin's. A message Intercom took without
        showing its conversation yet is looked up on the retry, never written again."""
        written = entry.intercom_message_id
        if written is not None:
            found = self._intercom.conversation_for_message(written)
            if found is None:
                raise ConversationPending(f"no conversation shows message {written} yet", message_id=written)
            return found
        try:
            return self._intercom.create_admin_message(
                contact=contact, admin_id=admin_id, body=entry.rendered
            ).conversation_id
        except ConversationPending as pending:
            self._store.record_intercom_message(entry.message_id, pending.message_id)
            raise

    def _plan(self, adapter: ProviderAdapter, entry: OutreachEntry, thread: Thread) -> list[OutboundMessage]:
        return planned_messages(adapter, entry, account=thread.account or None)

    def _send_one(
        self,
        adapter: ProviderAdapter,
        entry: OutreachEntry,
        thread: Thread,
        index: int,
        message: OutboundMessage,
    ) -> str:
        recorded = entry.sent.get(index)  # this job's own sends are recorded in the loop, in order
        if recorded:
            return recorded
        try:
            accepted: tuple[str, ...] = (adapter.send(message, self._settings, self._http, self._policy),)
        except PartiallySent as sent_in_part:
            accepted = sent_in_part.message_ids  # the customer got these: never send again
        except ProviderRejected as rejected:
            provider_opt_out(self._keeper, adapter, rejected.code, thread, by=f"message {entry.message_id}")
            reason = adapter.failure_reason(rejected.code) or rejected.message
            self._store.finish(entry.message_id, OutreachStatus.FAILED, code=rejected.code, reason=reason)
            self._notes.post_once(
                thread.conversation_id,
                failure_note(adapter.name, rejected.code, reason, message.text or entry.rendered),
                once=f"outreach-rejected:{entry.message_id}:{index}",
            )
            log.warning(
                "message %s to %s refused by %s", entry.message_id, mask(entry.customer.key), adapter.name
            )
            raise
        self._store.record_sent(entry.message_id, index, accepted[0])
        for provider_id in accepted:
            self._sent.record_sent(
                adapter.name,
                provider_id,
                conversation_id=thread.conversation_id,
                part_id=entry.part_id or "",
                text=message.text or entry.rendered,
            )
        return accepted[0]


def planned_messages(
    adapter: ProviderAdapter, entry: OutreachEntry, *, account: str | None
) -> list[OutboundMessage]:
    """The provider calls `entry` goes out as, in order: the indexes its `sent.<index>` steps
    count. One function, so a replay's dry run (`bridge.ops.replay_plan`) counts the messages
    the job would send and cannot drift from it."""
    request = entry.request
    base = OutboundMessage(
        channel=entry.channel, to=entry.customer_address, sender=entry.business_number, account=account
    )
    if request.template is not None:
        asked = request.template.template()
        template = replace(
            asked, name=entry.template_name or asked.name, parameter_names=entry.parameter_names
        )
        return [replace(base, template=template)]
    draft = Draft(text=request.text, attachment_urls=request.media_urls)
    return plan(draft, adapter.send_limits(base), base)


def _opened_thread(
    entry: OutreachEntry, contact: ContactRef, conversation_id: str, *, previous: Thread | None, now: float
) -> Thread:
    """The thread of a conversation the team opened: the customer has not written in it, so
    WhatsApp's window stays as their last message left it."""
    if previous is not None:
        return replace(
            previous,
            conversation_id=conversation_id,
            contact_id=contact.id,
            created_at=now,
            customer_address=entry.customer_address,
            state=ConversationState.OPEN,
            closed_at=0.0,
            labelled_at=0.0,  # a new conversation: labelled afresh
            routed_to="",
        )
    return Thread(
        key=entry.thread_key,
        conversation_id=conversation_id,
        contact_id=contact.id,
        provider=entry.provider,
        channel=entry.channel.value,
        business_number=entry.business_number,
        customer_address=entry.customer_address,
        created_at=now,
    )
