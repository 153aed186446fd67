"""The outreach ledger: every message the team asked to send first, and what became of it.

A message is stored and its job queued in one claim (`bridge.infra.claims`), so two identical
requests racing with one idempotency key store and queue it once: its id derives from the key,
and the second claim is a duplicate that reads the first's entry. Without a key every request is
a message of its own. The entry then records, as each step succeeds, the contact, the
conversation and the provider's id of each planned message, before the next step: a retry or a
replay resumes after the last step done, so the customer never gets a message twice (but for
the instant between a provider accepting a message and its id being recorded, as for replies).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from redis import Redis
from redis.client import Pipeline

from bridge.core.settings import Settings
from bridge.infra import keys
from bridge.infra.claims import Outcome, claim, prepare
from bridge.infra.entries import Fields, HashEntries, arrival, timestamp
from bridge.infra.queueing import OUTREACH_JOB, outbound_queue
from bridge.model.messages import Channel
from bridge.model.senders import SenderIdentity
from bridge.outreach.requests import Addressed, MessageRequest


class OutreachStatus(StrEnum):
    """Where a message stands. Delivery reports (`delivered`, `read`, a late `failed`) are read
    from the sent message's record (`bridge.replies.sent`), not written here."""

    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    BLOCKED = "blocked"


# The source of a message confirming a customer's STOP or START: it goes whatever they chose.
CONFIRMATION_SOURCE = "consent"

FINAL = frozenset({OutreachStatus.SENT, OutreachStatus.FAILED, OutreachStatus.BLOCKED})


def message_id_for(idempotency_key: str | None) -> str:
    """A new message's id: derived from the idempotency key (the same key, the same message),
    else random. Hashed, so the id never shows the key."""
    if idempotency_key is None:
        return f"msg_{secrets.token_hex(12)}"
    return f"msg_{hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]}"


@dataclass(frozen=True, kw_only=True)
class OutreachEntry:
    """A message in the ledger, as the job, the API and ops read it."""

    message_id: str
    status: OutreachStatus
    request: MessageRequest
    fingerprint: str
    provider: str
    channel: Channel
    business: str  # the `from` it leaves from, as asked
    customer: SenderIdentity  # as an inbound message from them is classified: lane, identity map
    customer_address: str  # as the provider sends to it
    business_number: str  # as the provider's webhooks name the business side
    thread_key: str
    rendered: str  # what the agent sees in Intercom (a template's text filled in)
    template_name: str | None  # what the template is sent by (Twilio: the Content SID of the name asked)
    parameter_names: tuple[str, ...]  # a named template's placeholders (`bridge.model.outgoing.Template`)
    source: str  # api, inbox, cli
    contact_id: str | None
    contact_role: str | None
    conversation_id: str | None
    part_id: str | None  # the Intercom part that shows it, when it continued a conversation
    intercom_message_id: str | None  # the admin message that opened it, when Intercom was slow to show it
    sent: Mapping[int, str]  # planned message index -> the provider's id
    error_code: str | None
    error: str | None
    created_at: float | None
    request_id: str | None
    stored: Mapping[str, str]

    @classmethod
    def read(cls, message_id: str, fields: Fields) -> OutreachEntry | None:
        request = fields.json("request")
        if request is None:
            return None
        return cls(
            message_id=message_id,
            status=OutreachStatus(fields.text("status") or OutreachStatus.QUEUED.value),
            request=MessageRequest.model_validate(request),
            fingerprint=fields.values.get("fingerprint", ""),
            provider=fields.values.get("provider", ""),
            channel=Channel(fields.values.get("channel", Channel.SMS.value)),
            business=fields.values.get("business", ""),
            customer=SenderIdentity.model_validate(fields.json("customer")),
            customer_address=fields.values.get("customer_address", ""),
            business_number=fields.values.get("business_number", ""),
            thread_key=fields.values.get("thread_key", ""),
            rendered=fields.values.get("rendered", ""),
            template_name=fields.text("template_name"),
            parameter_names=tuple(
                name for name in fields.values.get("parameter_names", "").split(",") if name
            ),
            source=fields.values.get("source", "api"),
            contact_id=fields.text("contact_id"),
            contact_role=fields.text("contact_role"),
            conversation_id=fields.text("conversation_id"),
            part_id=fields.text("part_id"),
            intercom_message_id=fields.text("intercom_message_id"),
            sent={
                int(name.removeprefix("sent.")): value
                for name, value in fields.values.items()
                if name.startswith("sent.") and value
            },
            error_code=fields.text("error_code"),
            error=fields.text("error"),
            created_at=fields.stored_at,
            request_id=fields.request_id,
            stored=fields.values,
        )

    def sent_ids(self) -> tuple[str, ...]:
        return tuple(self.sent[index] for index in sorted(self.sent))


@dataclass(frozen=True)
class Stored:
    """What storing a message did: the entry (new, or the one an idempotency key had made) and
    whether it is new."""

    entry: OutreachEntry
    new: bool


class OutreachStore:
    def __init__(self, redis_client: Redis, settings: Settings) -> None:
        self._redis = redis_client
        self._settings = settings
        self._entries = HashEntries(redis_client, settings)

    def store(
        self,
        request: MessageRequest,
        addressed: Addressed,
        *,
        rendered: str,
        template_name: str | None,
        source: str,
        parameter_names: tuple[str, ...] = (),
    ) -> Stored:
        """Store the message and queue its job, once per idempotency key. The caller compares
        fingerprints when the entry is not new (same key, other body: a conflict)."""
        message_id = message_id_for(request.idempotency_key)
        key = keys.outreach(message_id)
        fields = {
            "status": OutreachStatus.QUEUED.value,
            "request": request.model_dump_json(by_alias=True),
            "fingerprint": request.fingerprint(),
            "provider": addressed.provider,
            "channel": addressed.channel.value,
            "business": addressed.business,
            "customer": addressed.customer.model_dump_json(),
            "customer_address": addressed.address.customer,
            "business_number": addressed.address.business_number,
            "thread_key": addressed.thread_key,
            "rendered": rendered,
            "template_name": template_name or "",
            "parameter_names": ",".join(parameter_names),
            "source": source,
            **arrival(),
        }

        def write(pipe: Pipeline) -> None:
            self._entries.store(pipe, key, fields)
            OUTREACH_JOB.enqueue(
                outbound_queue(self._redis), message_id, settings=self._settings, pipeline=pipe
            )

        new = claim(self._redis, prepare(self._redis, key, write, what="the message")) is Outcome.ACCEPTED
        entry = self.get(message_id)
        if entry is None:  # expired between the claim and the read: only with a tiny retention
            raise LookupError(f"message {message_id} vanished as it was stored")
        return Stored(entry, new)

    def get(self, message_id: str) -> OutreachEntry | None:
        fields = self._entries.read(keys.outreach(message_id))
        return OutreachEntry.read(message_id, fields) if fields else None

    def record_contact(self, message_id: str, contact_id: str, role: str) -> None:
        self._set(message_id, {"contact_id": contact_id, "contact_role": role})

    def record_conversation(self, message_id: str, conversation_id: str, part_id: str | None) -> None:
        self._set(message_id, {"conversation_id": conversation_id, "part_id": part_id or ""})

    def record_intercom_message(self, message_id: str, intercom_message_id: str) -> None:
        self._set(message_id, {"intercom_message_id": intercom_message_id})

    def record_sent(self, message_id: str, index: int, provider_message_id: str) -> None:
        """Planned message `index` went out as `provider_message_id`, before the next is sent."""
        self._set(message_id, {f"sent.{index}": provider_message_id})

    def finish(
        self, message_id: str, status: OutreachStatus, *, code: str | None = None, reason: str = ""
    ) -> None:
        fields = {"status": status.value, "finished_at": timestamp(time.time())}
        if status is not OutreachStatus.SENT:
            fields |= {"error_code": code or "", "error": reason}
        self._set(message_id, fields)

    def requeue(self, message_id: str) -> None:
        """Queued again (a replay): what was done stays recorded, and is not done again."""
        self._set(message_id, {"status": OutreachStatus.QUEUED.value, "error_code": "", "error": ""})

    def _set(self, message_id: str, fields: Mapping[str, str]) -> None:
        self._entries.update(keys.outreach(message_id), fields)
