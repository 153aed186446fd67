"""What replaying a failed job would do, said before doing it (`bridge jobs replay --dry-run`).

Each plan runs the same decisions the job would (the matching steps, the thread rule, the reply
and message planners) against the current state, and says which of the steps a job records (a
contact found, a conversation showing the message, each message sent) are done, so not done
again. It writes nothing: no ledger, no identity map, no Intercom or provider write. Reading
Intercom is allowed (the contact search), since that is what says which contact would match and
why.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from redis import Redis

from bridge.contacts.lookup import sender_lookup
from bridge.contacts.matching import ContactPriority, MatchRule
from bridge.contacts.resolution import IdentityMap
from bridge.conversations.delivery import goes_on_in
from bridge.conversations.labels import Label
from bridge.conversations.rerouting import follow_alias
from bridge.conversations.routing import route_for
from bridge.conversations.threads import Thread, ThreadStore, thread_key
from bridge.core.errors import UnprocessableMessage
from bridge.core.logs import mask, mask_number
from bridge.core.settings import Settings
from bridge.infra.queueing import JobKind
from bridge.intercom.client import IntercomClient
from bridge.intercom.models import ContactRef
from bridge.model.senders import SenderIdentity
from bridge.ops.jobs import JobRecord, masked_identity
from bridge.outreach.sending import planned_messages
from bridge.outreach.store import OutreachEntry
from bridge.providers.base import ProviderAdapter
from bridge.replies.agent import plan_reply, reply_route
from bridge.replies.reports import StatusLedger, told_in
from bridge.replies.sent import OutboundStore


@contextmanager
def dry_run_planner(
    redis_client: Redis, settings: Settings, adapters: Mapping[str, ProviderAdapter]
) -> Iterator[ReplayPlanner]:
    """The planner `bridge jobs replay --dry-run` and the admin API use, with an Intercom client
    of its own (the contact search reads Intercom), closed after."""
    settings.require("intercom_access_token")
    with IntercomClient.from_settings(settings, redis_client=redis_client) as intercom:
        yield ReplayPlanner(
            redis_client=redis_client, intercom=intercom, adapters=adapters, settings=settings
        )


class ReplayPlanner:
    """`FailedJobs.replay`'s planner for dry runs."""

    def __init__(
        self,
        *,
        redis_client: Redis,
        intercom: IntercomClient,
        adapters: Mapping[str, ProviderAdapter],
        settings: Settings,
    ) -> None:
        self._redis = redis_client
        self._intercom = intercom
        self._adapters = adapters
        self._settings = settings

    def __call__(self, record: JobRecord) -> list[str]:
        if record.kind is JobKind.INBOUND:
            return self.inbound(record)
        if record.kind is JobKind.OUTBOUND:
            return self.outbound(record)
        if record.kind is JobKind.WEBHOOK:
            return self.webhook(record)
        if record.kind is JobKind.OUTREACH:
            return self.outreach(record)
        return self.status(record)

    def inbound(self, record: JobRecord) -> list[str]:
        """Which contact would match and why, which conversation, which calls."""
        assert record.inbound is not None
        entry, message = record.inbound, record.inbound.message
        calls: list[str] = []
        contact: ContactRef | None
        if entry.contact is not None:
            contact = follow_alias(self._redis, entry.contact)
            rule = (entry.match or {}).get("rule", "an earlier attempt")
            contact_line = f"contact {contact.id} ({contact.role}), matched on an earlier attempt by {rule}"
        else:
            contact, contact_line, lookups = self._match(message.sender)
            calls += lookups
        lines = [f"{message.provider} {message.channel.value} from {masked_identity(message.sender)}"]
        lines.append(f"contact: {contact_line}")
        thread = ThreadStore(self._redis).get(thread_key(message))
        continuing = (
            thread is not None
            and contact is not None
            and goes_on_in(self._redis, thread, contact, now=time.time(), settings=self._settings)
        )
        media = [m for m in message.media if not entry.attachments]
        if media:
            calls.insert(0, f"download {len(media)} media from {message.provider}")
        tag = Label.of(
            channel=message.channel,
            provider=message.provider,
            business_number=message.business_number,
            media=bool(message.media),
        ).tag
        labelling = [
            "PUT /conversations/{} (its channel attributes)",
            f"POST /conversations/{{}}/tags ({tag})",
        ]
        if continuing:
            assert thread is not None
            lines.append(f"conversation: continue {thread.conversation_id}")
            calls.append(f"POST /conversations/{thread.conversation_id}/reply")
            if not thread.labelled_at:  # opened before the bridge labelled conversations
                calls += [call.format(thread.conversation_id) for call in labelling]
        else:
            lines.append("conversation: open a new one")
            calls.append("POST /conversations")
            if message.media:  # Intercom opens conversations without files: they come in a reply
                calls.append("POST /conversations/{new}/reply (its files)")
            calls += [call.format("{new}") for call in labelling]
            route = route_for(self._settings, message.channel.value, message.business_number)
            if route is not None:
                calls.append(f"POST /conversations/{{new}}/parts (assigned to {route.kind} {route.id})")
        lines.append("calls: " + ", ".join(calls))
        return lines

    def _match(self, sender: SenderIdentity) -> tuple[ContactRef | None, str, list[str]]:
        """Which contact `sender` would be filed under and why (None: a new lead), and the
        Intercom calls that takes: a customer who writes and one the team writes to first are
        matched alike (`bridge.contacts.resolution.resolve_contact`)."""
        report = sender_lookup(
            sender,
            number=sender.raw,
            region=self._settings.default_region,
            identities=IdentityMap(self._redis),
            intercom=self._intercom,
            priority=ContactPriority.configured(self._settings),
        )
        decision = report.decision
        if decision is None:
            created = f"nobody holds {masked_identity(sender)}: a new lead would be created"
            return None, created, ["POST /contacts/search", "POST /contacts (a new lead)"]
        contact = ContactRef(decision.contact_id, decision.role)
        calls = [] if decision.rule is MatchRule.IDENTITY_MAP else ["POST /contacts/search"]
        why = decision.rule.value + (
            f", through the variant {mask_number(decision.variant)}" if decision.variant else ""
        )
        others = len(decision.candidates) - 1
        ambiguity = f"; {others} other contact(s) hold the number" if others > 0 else ""
        return contact, f"contact {contact.id} ({contact.role}) by {why}{ambiguity}", calls

    def outbound(self, record: JobRecord) -> list[str]:
        """Which messages would go to whom, through which provider, and which are already sent."""
        reply = record.reply
        assert reply is not None  # a reply past retention is settled before it is planned
        try:
            thread, adapter = reply_route(reply, ThreadStore(self._redis), self._adapters)
        except UnprocessableMessage as exc:
            return [f"cannot be sent as things are: {exc}"]
        planned = plan_reply(reply, thread, adapter, self._settings, now=time.time())
        already = reply.sent_ids()
        to = mask_number(thread.customer_address)
        lines = [f"reply in conversation {thread.conversation_id} to {to} through {adapter.name}"]
        if planned.window_note is not None:
            lines.append(f"note to the agent: {planned.window_note}")
        remaining = len(planned.messages) - len(already)
        lines.append(
            f"{planned.status.value}: {len(planned.messages)} message(s), {len(already)} already sent "
            f"(not again), {max(remaining, 0)} to send"
        )
        lines.append("calls: " + (", ".join([f"{adapter.name} send"] * max(remaining, 0)) or "none"))
        return lines

    def outreach(self, record: JobRecord) -> list[str]:
        """Resuming from the steps the message's record holds, as its job does
        (`bridge.outreach.sending`): which contact and conversation, which of its messages are
        already sent (not again) and which would be."""
        entry = record.outreach
        assert entry is not None  # a message past retention is settled before it is planned
        adapter = self._adapters.get(entry.provider)
        if adapter is None:
            return [f"cannot be sent as things are: provider {entry.provider!r} is not known"]
        lines = [f"{entry.channel.value} message to {masked_identity(entry.customer)} through {adapter.name}"]
        calls: list[str] = []
        contact: ContactRef | None
        if entry.contact_id is not None and entry.contact_role is not None:
            contact = follow_alias(self._redis, ContactRef(entry.contact_id, entry.contact_role))
            lines.append(f"contact {contact.id} already found")
        elif entry.request.intercom_contact_id is not None:
            contact = ContactRef(entry.request.intercom_contact_id, "user")
            lines.append(f"contact: {contact.id}, as the request names it")
            calls.append(f"GET /contacts/{contact.id}")
        else:
            contact, contact_line, lookups = self._match(entry.customer)
            lines.append(f"contact: {contact_line}")
            calls += lookups
        thread = ThreadStore(self._redis).get(entry.thread_key)
        conversation_line, conversation_calls = self._shown_in(entry, thread, contact)
        lines.append(conversation_line)
        calls += conversation_calls
        account = (thread.account or None) if thread is not None else None
        for index, _ in enumerate(planned_messages(adapter, entry, account=account)):
            sent = entry.sent.get(index)
            if sent:
                lines.append(f"message {index} already sent as {sent}: not sent again")
            else:
                lines.append(f"message {index} will be sent")
                calls.append(f"{adapter.name} send")
        lines.append("calls: " + (", ".join(calls) or "none"))
        return lines

    def _shown_in(
        self, entry: OutreachEntry, thread: Thread | None, contact: ContactRef | None
    ) -> tuple[str, list[str]]:
        """The conversation that would show the message as the team's, and the Intercom calls:
        the sender's own order of checks (`OutreachSender._conversation`)."""
        if entry.conversation_id is not None and thread is not None:
            return f"conversation {entry.conversation_id} already shows it", []
        continuing = (
            thread is not None
            and contact is not None
            and goes_on_in(self._redis, thread, contact, now=time.time(), settings=self._settings)
        )
        if continuing:
            assert thread is not None
            conversation_id = thread.conversation_id
            return (
                f"conversation: continue {conversation_id} with it as the team's reply",
                [f"POST /conversations/{conversation_id}/reply"],
            )
        if entry.intercom_message_id is not None:
            return (
                f"conversation: the one Intercom opened for message {entry.intercom_message_id} "
                "(looked up, not written again)",
                ["POST /conversations/search"],
            )
        return "conversation: open a new one with it as the team's message", ["POST /messages"]

    def webhook(self, record: JobRecord) -> list[str]:
        """What reading the stored webhook again would do (it is parsed by the worker's code)."""
        if record.webhook is None:
            return ["the webhook is past retention"]
        return [
            f"read the stored {record.webhook.provider} webhook again with this bridge's parser "
            f"(it failed with: {mask(record.webhook.reason)})",
            "calls: none directly; each message or report it carries is queued once (the ledgers dedupe)",
        ]

    def status(self, record: JobRecord) -> list[str]:
        """Which sent message the report applies to, and whether an agent would get a note."""
        entry = StatusLedger(self._redis, self._settings).get(record.record_id)
        if entry is None:
            return ["the report is past retention"]
        status = entry.report
        sent = OutboundStore(self._redis, self._settings).get(status.provider, status.provider_message_id)
        lines = [f"{status.provider} reports {status.state.value} for message {status.provider_message_id}"]
        conversation_id = told_in(status, sent)
        if conversation_id is not None:
            lines.append(f"calls: a note in conversation {conversation_id} (said once)")
        else:
            lines.append("calls: none (recorded on the sent message)")
        return lines
