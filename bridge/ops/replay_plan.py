"""What replaying a failed job would do, said before doing it (`bridge jobs replay --dry-run`).

Each plan runs the same decisions the job would (the matching steps, the thread rule, the reply
planner) against the current state, and writes nothing: no ledger, no identity map, no Intercom
or provider write. Reading Intercom is allowed (the contact search), since that is what says
which contact would match and why.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from redis import Redis

from bridge.contacts.lookup import sender_lookup
from bridge.contacts.matching import MatchRule
from bridge.contacts.resolution import IdentityMap
from bridge.conversations.delivery import goes_on_in
from bridge.conversations.rerouting import follow_alias
from bridge.conversations.threads import ThreadStore, thread_key
from bridge.core.errors import UnprocessableMessage
from bridge.core.logs import mask, mask_number
from bridge.core.settings import Settings
from bridge.infra.queueing import JobKind
from bridge.intercom.client import IntercomClient
from bridge.intercom.models import ContactRef
from bridge.ops.jobs import JobRecord, masked_identity
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
        return self.status(record)

    def inbound(self, record: JobRecord) -> list[str]:
        """Which contact would match and why, which conversation, which calls."""
        assert record.inbound is not None
        entry, message = record.inbound, record.inbound.message
        calls: list[str] = []
        if entry.contact is not None:
            contact = follow_alias(self._redis, entry.contact)
            rule = (entry.match or {}).get("rule", "an earlier attempt")
            contact_line = f"contact {contact.id} ({contact.role}), matched on an earlier attempt by {rule}"
        else:
            report = sender_lookup(
                message.sender,
                number=message.sender.raw,
                region=self._settings.default_region,
                identities=IdentityMap(self._redis),
                intercom=self._intercom,
            )
            decision = report.decision
            if decision is None:
                calls += ["POST /contacts/search", "POST /contacts (a new lead)"]
                contact_line = f"nobody holds {masked_identity(message.sender)}: a new lead would be created"
                contact = None
            else:
                contact = ContactRef(decision.contact_id, decision.role)
                if decision.rule is not MatchRule.IDENTITY_MAP:
                    calls.append("POST /contacts/search")
                why = decision.rule.value + (
                    f", through the variant {mask_number(decision.variant)}" if decision.variant else ""
                )
                others = len(decision.candidates) - 1
                ambiguity = f"; {others} other contact(s) hold the number" if others > 0 else ""
                contact_line = f"contact {contact.id} ({contact.role}) by {why}{ambiguity}"
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
        if continuing:
            assert thread is not None
            lines.append(f"conversation: continue {thread.conversation_id}")
            calls.append(f"POST /conversations/{thread.conversation_id}/reply")
        else:
            lines.append("conversation: open a new one")
            calls.append("POST /conversations")
        lines.append("calls: " + ", ".join(calls))
        return lines

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
