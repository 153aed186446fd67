"""The inbound ledger: every message the bridge accepted, claimed once by the reader of the
stored webhooks (`workers.webhooks`; the web process stored the request itself before it answered,
`bridge.intake.raw`).

`claim` is one atomic Redis step (`bridge.infra.claims`: one script, one round trip) that claims
(provider, provider message id), numbers the message, stores the raw payload and the normalized
message, appends the message to its sender's lane and enqueues its job. Either all of that
happens or none of it: a provider's redelivery of a stored message, or a reader reading the same
webhook again after a crash, meets the claim and creates nothing.

The entry then carries the job's recovery points (`contact_id`, `conversation_id`), so a retried
or replayed job resumes after the last step that reached Intercom instead of repeating it.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from redis import Redis
from redis.client import Pipeline

from bridge.core.context import request_id_fields
from bridge.core.settings import Settings
from bridge.infra import claims, keys
from bridge.infra.claims import Outcome
from bridge.infra.connection import read_hash
from bridge.infra.queueing import enqueue_inbound, inbound_queue
from bridge.model.messages import InboundMessage

# Recovery points go only to an entry that still exists: an expired entry must stay gone, not
# come back as a hash without its message.
_UPDATE_EXISTING = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
"""


# A failed attempt is recorded only on an entry not delivered yet: another job of the sender's
# lane may have delivered the message while this one waited for the lane or lay dead, and a
# "retrying" written over "delivered" would make the retry post the message again.
_RECORD_FAILURE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HGET', KEYS[1], 'status') == ARGV[1] then return 0 end
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
return 1
"""


class Status(StrEnum):
    QUEUED = "queued"
    RETRYING = "retrying"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True)
class RawPayload:
    """What the provider sent, kept for ops (never re-verified: it was verified on arrival).

    `query` is kept because some providers send everything in it (GET callbacks), without the
    `token` parameter: that one is a secret (TextMagic, Africa's Talking). `content_type` is the
    whole header (a multipart body cannot be read again without its boundary) and `method` the
    request's: with them, a replay can parse the payload again after a fix.
    """

    content_type: str
    body: str
    path: str
    query: str = ""
    method: str = "POST"


@dataclass(frozen=True)
class LedgerEntry:
    inbound_id: str
    message: InboundMessage
    status: Status
    seq: int
    fields: dict[str, str]

    def get(self, name: str) -> str | None:
        return self.fields.get(name) or None


def inbound_id(provider: str, provider_message_id: str) -> str:
    """The ledger id of a provider's message: stable, and safe as an RQ job id.

    RQ job ids allow only `[A-Za-z0-9_-]`, and WhatsApp's `wamid.HBgL…=` does not fit, so the
    provider's id is hashed.
    """
    digest = hashlib.sha256(f"{provider}\0{provider_message_id}".encode()).hexdigest()[:32]
    return f"{provider}-{digest}"


def fragment_group(message: InboundMessage) -> str:
    """The key of the long SMS a part belongs to (per provider: references are theirs)."""
    assert message.fragment is not None
    return f"{message.provider}:{message.fragment.group}"


class InboundLedger:
    def __init__(self, redis_client: Redis, settings: Settings) -> None:
        self._redis = redis_client
        self._settings = settings
        self._queue = inbound_queue(redis_client)
        self._update = redis_client.register_script(_UPDATE_EXISTING)
        self._record_failure = redis_client.register_script(_RECORD_FAILURE)

    def accept(self, message: InboundMessage, raw: RawPayload) -> Outcome:
        """Store and queue `message` exactly once; a repeat of a stored message is a duplicate."""
        return claims.claim(self._redis, self.claim(message, raw))

    def claim(self, message: InboundMessage, raw: RawPayload) -> claims.Claim:
        """`accept`'s claim, to send with others (`claims.run_batched`)."""
        entry_id = inbound_id(message.provider, message.provider_message_id)
        key = keys.inbound(entry_id)
        fields = {
            "provider": message.provider,
            "status": Status.QUEUED.value,
            "received_at": f"{time.time():.6f}",
            "message": message.model_dump_json(),
            "raw": json.dumps(asdict(raw)),
            **request_id_fields(),  # the webhook's: the job's log lines carry it too
        }
        retention = self._settings.retention_days * 86400

        def write(pipe: Pipeline) -> None:
            pipe.hset(key, mapping=fields)  # type: ignore[arg-type]
            pipe.expire(key, retention)
            pipe.rpush(keys.mailbox(message.sender.lane_key), entry_id)
            if message.fragment is not None:
                group = keys.fragments(fragment_group(message))
                pipe.hset(group, str(message.fragment.index), entry_id)
                pipe.expire(group, retention)
            enqueue_inbound(self._queue, entry_id, settings=self._settings, pipeline=pipe)

        return claims.prepare(self._redis, key, write, what="the message", numbered_by=keys.INBOUND_SEQUENCE)

    def get(self, entry_id: str) -> LedgerEntry | None:
        fields = read_hash(self._redis, keys.inbound(entry_id))
        if not fields:
            return None
        return LedgerEntry(
            inbound_id=entry_id,
            message=InboundMessage.model_validate_json(fields["message"]),
            status=Status(fields.get("status", Status.QUEUED.value)),
            seq=int(fields.get("seq", "0")),
            fields=fields,
        )

    def record_failure(self, entry_id: str, *, status: Status, reason: str) -> bool:
        """Count a failed delivery attempt and say why, as `status` (retrying, or failed for good),
        unless the message is delivered (see `_RECORD_FAILURE`) or gone; False when so."""
        fields = {"status": status.value, "error": reason, "failed_at": f"{time.time():.6f}"}
        flat = [item for pair in fields.items() for item in pair]
        recorded = self._record_failure(keys=[keys.inbound(entry_id)], args=[Status.DELIVERED.value, *flat])
        return bool(recorded)

    def update(self, entry_id: str, **fields: Any) -> None:
        """Record a recovery point or a status; values are stored as strings (JSON for objects)."""
        encoded = {
            name: value if isinstance(value, str) else json.dumps(value)
            for name, value in fields.items()
            if value is not None
        }
        if encoded:
            flat = [item for pair in encoded.items() for item in pair]
            self._update(keys=[keys.inbound(entry_id)], args=flat)
