"""The reply ledger: every agent's reply part the bridge was asked to send, and what was sent of it.

A reply part is claimed once by its Intercom part id when the webhook arrives (the same webhook
twice, or a bot reply announced under two topics, sends once) and queued, in one atomic step
(`bridge.infra.claims`). The entry then records each message the sender got out, before the next
is sent (`bridge.replies.agent`): a retry or a replay resumes after the last one sent. Its layout
in Redis is what earlier versions wrote (`bridge.infra.entries`): a part JSON as the webhook
brought it, `sent.<index>` the provider's id of each planned message sent, `partial.<index>` for
one the provider sent only in part, `read_receipt` when the reply marked the customer's message
read (`bridge.replies.receipts`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from redis import Redis
from redis.client import Pipeline

from bridge.core.settings import Settings
from bridge.infra import keys
from bridge.infra.claims import Claim, prepare
from bridge.infra.entries import Fields, HashEntries, arrival, timestamp
from bridge.infra.queueing import enqueue_reply, outbound_queue
from bridge.intercom.webhooks import ReplyPart


class ReplyStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    TEMPLATE_SENT = "template_sent"  # outside the window: the template went instead
    BLOCKED = "blocked"  # outside the window, no template configured: nothing sent
    PARTLY_SENT = "partly_sent"  # sent, but the provider refused some parts of a message (noted)
    FAILED = "failed"
    OWN = "own"  # a part the bridge posted itself (`bridge.replies.own`): nothing to send


FINAL = frozenset(
    {
        ReplyStatus.SENT,
        ReplyStatus.TEMPLATE_SENT,
        ReplyStatus.BLOCKED,
        ReplyStatus.PARTLY_SENT,
        ReplyStatus.OWN,
    }
)


@dataclass(frozen=True)
class ClaimedPart:
    """A reply part as the webhook brought it and the ledger keeps it: what the job sends."""

    body: str  # Intercom's HTML
    author_type: str
    author_id: str
    attachments: tuple[str, ...]  # their URLs
    created_at: float  # when the agent wrote it (`ReplyPart.created_at`)

    @classmethod
    def of(cls, part: ReplyPart) -> ClaimedPart:
        urls = tuple(attachment.url for attachment in part.attachments)
        return cls(part.body, part.author_type, part.author_id, urls, part.created_at)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ClaimedPart:
        return cls(
            body=str(data["body"]),
            author_type=str(data.get("author_type", "")),
            author_id=str(data.get("author_id", "")),
            attachments=tuple(data.get("attachments", ())),
            created_at=float(data.get("created_at", 0.0)),
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"attachments": list(self.attachments)}


@dataclass(frozen=True)
class PartialSend:
    """A message the provider sent only in part (`PartiallySent`): the ids it gave the parts it
    sent, how many parts there were, and the note that tells the agent which are missing."""

    sent: tuple[str, ...]
    total: int
    note: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PartialSend:
        return cls(tuple(data["sent"]), int(data["total"]), str(data["note"]))

    def to_json(self) -> dict[str, Any]:
        return {"sent": list(self.sent), "total": self.total, "note": self.note}


@dataclass(frozen=True, kw_only=True)
class ReplyEntry:
    """A reply part in the ledger, as its job and ops read it."""

    part_id: str
    conversation_id: str
    status: ReplyStatus
    part: ClaimedPart
    # Each planned message sent so far, by its index in the plan: the provider's id (of its first
    # part), and for one sent only in part, what was and what the agent was told.
    sent: Mapping[int, str]
    partial: Mapping[int, PartialSend]
    error: str | None  # why sending failed
    stored_at: float | None  # when the bridge stored it
    request_id: str | None  # of the Intercom webhook that brought it
    # Every field as Redis holds it, for ops to show (`bridge jobs show`), never to decide on.
    stored: Mapping[str, str]

    @classmethod
    def read(cls, part_id: str, fields: Fields) -> ReplyEntry | None:
        part = fields.json("part")
        if part is None:  # what an update left of an entry that had expired: nothing to send
            return None
        return cls(
            part_id=part_id,
            conversation_id=fields.text("conversation_id") or "",
            status=ReplyStatus(fields.text("status") or ReplyStatus.QUEUED.value),
            part=ClaimedPart.from_json(part),
            sent=_indexed(fields, "sent."),
            partial={
                index: PartialSend.from_json(json.loads(value))
                for index, value in _indexed(fields, "partial.").items()
            },
            error=fields.text("error"),
            stored_at=fields.stored_at,
            request_id=fields.request_id,
            stored=fields.values,
        )

    def sent_ids(self) -> tuple[str, ...]:
        """The provider message ids already sent for the part, in the plan's order."""
        return tuple(self.sent[index] for index in sorted(self.sent))

    @property
    def partly_sent(self) -> bool:
        """Whether a provider sent some message of the reply only in part."""
        return bool(self.partial)


def _indexed(fields: Fields, prefix: str) -> dict[int, str]:
    """The fields `<prefix><index>` (`sent.0`, `partial.1`) with a value, by index."""
    return {
        int(name.removeprefix(prefix)): value
        for name, value in fields.values.items()
        if name.startswith(prefix) and value
    }


class ReplyLedger:
    def __init__(self, redis_client: Redis, settings: Settings) -> None:
        self._redis = redis_client
        self._settings = settings
        self._entries = HashEntries(redis_client, settings)
        self._queue = outbound_queue(redis_client)

    def claim(self, part: ReplyPart) -> Claim:
        """The claim that stores and queues a reply part exactly once, to send with others
        (`claims.run_batched`): a second claim of the same part id is a duplicate."""
        key = keys.reply(part.part_id)
        fields = {
            "conversation_id": part.conversation_id,
            "status": ReplyStatus.QUEUED.value,
            "part": json.dumps(ClaimedPart.of(part).to_json()),
            **arrival(),
        }

        # The entry outlives every copy of the part `bridge.replies.events` still accepts: both
        # derive from BRIDGE_RETENTION_DAYS (`bridge.core.freshness`), so once it has expired, any copy
        # is refused by its `created_at` and the part is never sent twice, however late the copy.
        def write(pipe: Pipeline) -> None:
            self._entries.store(pipe, key, fields)
            enqueue_reply(self._queue, part.part_id, settings=self._settings, pipeline=pipe)

        return prepare(self._redis, key, write, what="the reply")

    def get(self, part_id: str) -> ReplyEntry | None:
        fields = self._entries.read(keys.reply(part_id))
        return ReplyEntry.read(part_id, fields) if fields else None

    def record_sent(
        self, part_id: str, index: int, provider_id: str, partial: PartialSend | None = None
    ) -> None:
        """Message `index` of the plan went out as `provider_id` (only in part: `partial`), before
        the next is sent: a retry or a replay never sends it again."""
        fields = {f"sent.{index}": provider_id}
        if partial is not None:
            fields[f"partial.{index}"] = json.dumps(partial.to_json())
        self._set(part_id, fields)

    def finish(self, part_id: str, status: ReplyStatus) -> None:
        """Done, as `status` (one of `FINAL`): a retry or a replay sends nothing more."""
        if status not in FINAL:
            raise ValueError(f"{status.value} is not a final status of a reply")
        self._set(part_id, {"status": status.value})

    def fail(self, part_id: str, *, reason: str, at: float | None = None) -> None:
        """Sending failed, and why; `at`: when it failed for good (the job will not retry)."""
        fields = {"status": ReplyStatus.FAILED.value, "error": reason}
        if at is not None:
            fields["failed_at"] = timestamp(at)
        self._set(part_id, fields)

    def claim_read_receipt(self, part_id: str, *, at: float) -> bool:
        """Whether this attempt marks the customer's message read for the reply: only the first
        asks (a retry or a replay of the reply does not), and not once the entry has expired."""
        return self._entries.set_once(keys.reply(part_id), "read_receipt", timestamp(at))

    def requeue(self, part_id: str) -> None:
        """Queued again (a replay): what was sent stays recorded, and is not sent again."""
        self._set(part_id, {"status": ReplyStatus.QUEUED.value})

    def _set(self, part_id: str, fields: Mapping[str, str]) -> None:
        # Only into an entry that still exists: a write after it expired would leave a hash with
        # no lifetime and no part, kept for ever and unreadable.
        self._entries.update(keys.reply(part_id), fields)
