"""Agents' replies in Intercom, sent to the customer over the channel they wrote from.

A reply part is claimed once by its Intercom part id when the webhook arrives (the same webhook
twice, or a bot reply announced under two topics, sends once) and queued; a copy arriving after
the claim has expired is refused by the part's own time (`bridge.core.freshness`). The job then finds the
conversation's thread (provider, business number, the customer's address as the provider gave
it), plans the messages the provider's limits allow, and sends them one by one, recording each
provider message id before the next: a retry or a replay resumes after the last one sent, so
the customer never receives a part twice (except in the instant between a provider accepting a
message and its id being recorded: no provider offers an idempotency key to close it). For the
same reason a message the provider sent only in part (a long SMS whose later parts it refused:
`PartiallySent`) is recorded as sent under the ids it got and never sent again; a note tells the
agent which parts are missing and why.

WhatsApp allows free text only within 24 hours of the customer's last message. Outside it the
reply is not sent; a note tells the agent why, and the configured template is sent instead when
there is one (`WHATSAPP_TEMPLATE`, `TWILIO_WHATSAPP_CONTENT_SID`). Within it, the customer's latest
message is marked read first, once per reply and best effort (`bridge.replies.receipts`).
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
from bridge.conversations.notes import Notes
from bridge.conversations.threads import Thread, ThreadStore
from bridge.core.errors import LedgerRecordMissing, PartiallySent, ProviderRejected, UnprocessableMessage
from bridge.core.retrying import RetryPolicy
from bridge.core.settings import Settings
from bridge.intercom.client import IntercomClient
from bridge.intercom.html_text import html_to_text
from bridge.model.messages import Channel
from bridge.model.outgoing import Draft, OutboundMessage, Template, plan
from bridge.providers.base import ProviderAdapter
from bridge.replies.ledger import FINAL, PartialSend, ReplyEntry, ReplyLedger, ReplyStatus
from bridge.replies.optouts import provider_opt_out
from bridge.replies.own import OwnPartPending, OwnParts, Verdict
from bridge.replies.receipts import mark_customer_read
from bridge.replies.sent import OutboundStore

log = logging.getLogger(__name__)

WHATSAPP_WINDOW_SECONDS = 24 * 3600


@dataclass(frozen=True)
class SendResult:
    part_id: str
    status: ReplyStatus
    provider_message_ids: tuple[str, ...] = ()


class ReplySender:
    """Sends queued replies; one per job, wired to that job's Redis, Intercom and HTTP client."""

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
        self._replies = ReplyLedger(redis_client, settings)
        self._threads = ThreadStore(redis_client)
        self._outbound = OutboundStore(redis_client, settings)
        self._notes = Notes(redis_client, intercom, settings)
        self._own = OwnParts(redis_client, settings)
        self._consent = ConsentStore(redis_client)
        self._keeper = ConsentKeeper(redis_client, intercom)
        self._adapters = adapters
        self._settings = settings
        self._http = http
        self._policy = policy or RetryPolicy(backoff=settings.http_backoff)
        self._clock = clock

    def send(self, part_id: str) -> SendResult:
        entry = self._replies.get(part_id)
        if entry is None:
            raise LedgerRecordMissing(f"reply {part_id} is not stored (expired or never stored)")
        if entry.status in FINAL:
            return SendResult(part_id, entry.status, entry.sent_ids())
        verdict = self._own.verdict(entry.conversation_id, part_id)
        if verdict is Verdict.OWN:
            self._replies.finish(part_id, ReplyStatus.OWN)
            return SendResult(part_id, ReplyStatus.OWN)
        if verdict is Verdict.PENDING:
            raise OwnPartPending(
                f"the bridge is posting its own message in conversation {entry.conversation_id}"
            )
        thread, adapter = reply_route(entry, self._threads, self._adapters)
        opted_out = self._consent.opted_out(
            scope_of(thread.channel, thread.business_number), thread.customer_key
        )
        if opted_out is not None:
            why = blocked_reason(opted_out, thread.business_number, opt_in=opt_in_word(self._settings))
            self._notes.post_once(thread.conversation_id, f"Not sent: {why}.", once=f"blocked:{part_id}")
            self._replies.finish(part_id, ReplyStatus.BLOCKED)
            log.info("reply %s: blocked, the customer opted out", part_id)
            return SendResult(part_id, ReplyStatus.BLOCKED)
        planned = plan_reply(entry, thread, adapter, self._settings, now=self._clock())
        if planned.window_note is not None:
            self._notes.post_once(thread.conversation_id, planned.window_note, once=f"window:{part_id}")
        if planned.status is ReplyStatus.BLOCKED:
            self._replies.finish(part_id, ReplyStatus.BLOCKED)
            return SendResult(part_id, ReplyStatus.BLOCKED)
        if planned.status is ReplyStatus.SENT:  # free text within the window: the blue ticks first
            mark_customer_read(
                part_id=part_id,
                thread=thread,
                adapter=adapter,
                ledger=self._replies,
                settings=self._settings,
                http=self._http,
                policy=self._policy,
                now=self._clock(),
            )
        ids = [
            self._send_one(adapter, message, index, entry, thread)
            for index, message in enumerate(planned.messages)
        ]
        latest = self._replies.get(part_id)
        status = ReplyStatus.PARTLY_SENT if latest is not None and latest.partly_sent else planned.status
        self._replies.finish(part_id, status)
        log.info("reply %s: %s through %s (%d messages)", part_id, status.value, thread.provider, len(ids))
        return SendResult(part_id, status, tuple(ids))

    def _send_one(
        self,
        adapter: ProviderAdapter,
        message: OutboundMessage,
        index: int,
        entry: ReplyEntry,
        thread: Thread,
    ) -> str:
        part_id = entry.part_id
        recorded = entry.sent.get(index)
        if recorded:
            # Sent before a crash or by the attempt a replay repeats; a partial send's note may be
            # what the crash interrupted (said once: `post_once`).
            self._note_partial(thread, part_id, index, entry.partial.get(index))
            return recorded
        partial: PartialSend | None = None
        try:
            accepted: tuple[str, ...] = (adapter.send(message, self._settings, self._http, self._policy),)
        except PartiallySent as sent_in_part:
            # Some parts reached the customer: record them like a send, never send again.
            accepted = sent_in_part.message_ids
            partial = PartialSend(
                accepted, sent_in_part.total, partial_note(adapter, sent_in_part, message.text)
            )
        except ProviderRejected as rejected:
            provider_opt_out(self._keeper, adapter, rejected.code, thread, by=f"reply {part_id}")
            reason = adapter.failure_reason(rejected.code)
            self._notes.post_once(
                thread.conversation_id,
                failure_note(adapter.name, rejected.code, reason or rejected.message, message.text),
                once=f"rejected:{part_id}:{index}",
            )
            self._replies.fail(part_id, reason=str(rejected))
            raise
        self._replies.record_sent(part_id, index, accepted[0], partial)
        self._note_partial(thread, part_id, index, partial)
        # Every part has its own id and delivery reports (a long SMS): each ties back to the reply.
        for provider_id in accepted:
            self._record_sent(adapter, provider_id, message, thread, part_id)
        return accepted[0]

    def _record_sent(
        self,
        adapter: ProviderAdapter,
        provider_id: str,
        message: OutboundMessage,
        thread: Thread,
        part_id: str,
    ) -> None:
        report = self._outbound.record_sent(
            adapter.name,
            provider_id,
            conversation_id=thread.conversation_id,
            part_id=part_id,
            text=message.text,
        )
        if report.failed_before_recorded:
            # The provider's failure report arrived before we recorded the send: say it now.
            say_undelivered(
                self._notes,
                adapter,
                adapter.name,
                provider_id,
                thread.conversation_id,
                code=report.error_code,
                message=report.error_message,
                text=message.text,
            )

    def _note_partial(self, thread: Thread, part_id: str, index: int, partial: PartialSend | None) -> None:
        """Tell the agent, once, which parts of message `index` the provider refused."""
        if partial is not None:
            self._notes.post_once(thread.conversation_id, partial.note, once=f"partial:{part_id}:{index}")


def reply_route(
    entry: ReplyEntry, threads: ThreadStore, adapters: Mapping[str, ProviderAdapter]
) -> tuple[Thread, ProviderAdapter]:
    """The thread a reply part answers and the provider that carries it; UnprocessableMessage when
    the conversation is not the bridge's or its provider is not configured (fixable, then replayed)."""
    conversation_id = entry.conversation_id
    thread = threads.by_conversation(conversation_id)
    if thread is None:
        raise UnprocessableMessage(f"conversation {conversation_id} is not one the bridge opened")
    adapter = adapters.get(thread.provider)
    if adapter is None:
        raise UnprocessableMessage(f"no provider {thread.provider!r} to send conversation {conversation_id}")
    return thread, adapter


@dataclass(frozen=True)
class ReplyPlan:
    """What sending a reply part would do: its final status, the messages (one API call each),
    and the note agents get when WhatsApp's window is closed."""

    status: ReplyStatus
    messages: tuple[OutboundMessage, ...]
    window_note: str | None = None


def plan_reply(
    entry: ReplyEntry, thread: Thread, adapter: ProviderAdapter, settings: Settings, *, now: float
) -> ReplyPlan:
    """The plan for reply part `entry` on `thread` at `now`. Pure: sending and dry runs share it."""
    draft = Draft(text=html_to_text(entry.part.body), attachment_urls=entry.part.attachments)
    base = OutboundMessage(
        channel=Channel(thread.channel),
        to=thread.customer_address,
        sender=thread.business_number,
        account=thread.account or None,
        reply_reference=thread.reply_reference or None,
    )
    if thread.channel == Channel.WHATSAPP.value and now - thread.last_inbound_at > WHATSAPP_WINDOW_SECONDS:
        template = whatsapp_template(thread.provider, settings)
        note = window_note(now - thread.last_inbound_at, template)
        if template is None:
            return ReplyPlan(ReplyStatus.BLOCKED, (), note)
        return ReplyPlan(ReplyStatus.TEMPLATE_SENT, (replace(base, template=template),), note)
    return ReplyPlan(ReplyStatus.SENT, tuple(plan(draft, adapter.send_limits(base), base)))


def whatsapp_template(provider: str, settings: Settings) -> Template | None:
    """The configured template for `provider`'s WhatsApp, if any."""
    if provider == "whatsapp" and settings.whatsapp_template:
        name, _, language = settings.whatsapp_template.partition(":")
        return Template(name=name, language=language or "en_US")
    if provider == "twilio" and settings.twilio_whatsapp_content_sid:
        return Template(name=settings.twilio_whatsapp_content_sid)
    return None


def window_note(elapsed: float, template: Template | None) -> str:
    """The note agents read when a reply falls outside WhatsApp's 24-hour window."""
    why = (
        f"Not sent to the customer: their last WhatsApp message was {elapsed / 3600:.0f} hours ago, and "
        "WhatsApp allows free-text replies only within 24 hours of it."
    )
    if template is not None:
        return f"{why} The approved template “{template.name}” was sent instead, inviting them to reply."
    return f"{why} No template is configured to reach them outside the window; they must write first."


def failure_note(provider: str, code: str | None, reason: str, text: str) -> str:
    """The note agents read when a message did not reach the customer."""
    label = f" (error {code})" if code else ""
    return f"Not delivered: {_quoted(text)} could not be delivered by {provider}{label}: {reason}"


def say_undelivered(
    notes: Notes,
    adapter: ProviderAdapter | None,
    provider: str,
    provider_message_id: str,
    conversation_id: str,
    *,
    code: str | None,
    message: str | None,
    text: str,
) -> bool:
    """Tell the agent, once per sent message, that its provider reports it failed: the report
    is applied after the send was recorded (`bridge.replies.reports`) or before, and then said
    when the send is (`ReplySender`); either way one note. Whether it was posted now."""
    reason = (adapter.failure_reason(code) if adapter else None) or message or "failed"
    return notes.post_once(
        conversation_id,
        failure_note(provider, code, reason, text),
        once=f"failed:{provider}:{provider_message_id}",
    )


def partial_note(adapter: ProviderAdapter, partial: PartiallySent, text: str) -> str:
    """The note agents read when the provider sent some parts of a message and refused others:
    which parts are missing, and the provider's words for why (with what to do, when known)."""
    missing = "; ".join(
        f"part {part.number} of {partial.total}{f' (error {part.code})' if part.code else ''}: "
        + ": ".join(words for words in (part.message, adapter.failure_reason(part.code)) if words)
        for part in partial.refused
    )
    sent = len(partial.message_ids)
    return (
        f"Partly delivered: {adapter.name} sent {sent} of {partial.total} parts of {_quoted(text)} and "
        f"refused {missing}. The bridge does not send the message again: the customer would get the "
        "other parts twice. Send the missing text again if it matters."
    )


def _quoted(text: str) -> str:
    excerpt = text if len(text) <= 80 else text[:77] + "…"
    return f"“{excerpt}”" if excerpt else "the attachment"
