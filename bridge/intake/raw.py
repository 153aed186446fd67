"""Webhooks as they arrived: verified, stored raw, acknowledged; read by a worker afterwards.

Before it answers a provider, the web process does only what must happen there: verify the
request, then store it raw, numbered in arrival order, in one atomic script call that shares its
round trip with the other requests in flight (`store_command`, `bridge.infra.batching`). Parsing,
sender classification, normalization and dedupe by the provider's message id happen in a worker
(`workers.webhooks`): a parser that cannot read an authentic request (a bug, a provider's format
change) can no longer turn it into a 4xx that the provider never sends again (Twilio does not
retry a 4xx; Meta gives up after a while).

**Reading in arrival order.** Stored webhooks wait in `bridge:webhooks:pending`, scored by their
arrival number. One reader at a time (`bridge:webhooks:reader`, a flag naming the reader's job,
with a short lifetime the reader keeps renewing) takes them in that order and claims what each
carries in the ledgers, so every sender's messages join its lane in the order they arrived,
whatever the number of workers. The script that stores a webhook also sets the flag when no
reader holds it and then asks for a reader job (`Stored.NEEDS_READER`), naming it on the flag; the reader
drops the flag only in the same atomic step that finds nothing pending, so a webhook stored
meanwhile is never left without one. A reader killed mid-run leaves the flag to expire: RQ retries
its abandoned job (`bridge.infra.heartbeats`), and the next webhook after the flag's lifetime asks for a
new reader too; a reader that finds the flag naming another job leaves the reading to it.

**Unreadable.** A webhook the reader cannot parse keeps the parser's reason and is queued as a
job of its own (`wh-{id}`), which fails for good with that reason: `bridge jobs failed` lists it
and a replay after an upgrade reads it again.

The record's id is a digest of the request, so a provider's identical retry meets the first
one's record and stores nothing more.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from redis import Redis
from redis.client import Pipeline
from redis.typing import EncodableT

from bridge.core.context import request_id_fields
from bridge.core.settings import Settings
from bridge.infra import keys
from bridge.infra.batching import Command
from bridge.infra.claims import Tally, recorded
from bridge.infra.connection import hash_text, read_hash
from bridge.infra.queueing import enqueue_reader, enqueue_webhook, inbound_queue, reader_job_id
from bridge.intake.ledger import RawPayload
from bridge.providers.base import WebhookRequest

STATUS_PATH_SUFFIX = "/status"
# How long the reader's flag outlives its last renewal: a reader renews it every batch (well under
# a second of work), so this only bounds how long a killed reader holds up the others.
READER_TTL_SECONDS = 15
# How many pending webhooks a reader takes in one look.
READ_BATCH = 100
_RAW_FIELDS = ("content_type", "body", "path", "query", "method")


class Stored:
    """What `store_command`'s script answers."""

    DUPLICATE = 0  # stored before (and read or being read): nothing to do
    STORED = 1  # stored; a reader holds the flag and will take it
    NEEDS_READER = 2  # stored (or pending from before) and nobody reads: queue a reader job


# ARGV: record key, id, arrival counter, pending set, reader flag, flag lifetime, retention, the
# tally (hash, field if new, field if a duplicate; '' for none), then the record's field/value pairs.
_STORE = """
local key, id, pending, flag = ARGV[1], ARGV[2], ARGV[4], ARGV[5]
local answer
local new = false
if redis.call('EXISTS', key) == 1 then
  answer = 0
  -- a retry of a webhook still waiting while no reader runs (one died, or its job was never
  -- queued): ask again
  if redis.call('ZSCORE', pending, id) and redis.call('SET', flag, '1', 'NX', 'EX', ARGV[6]) then
    answer = 2
  end
else
  local seq = redis.call('INCR', ARGV[3])
  redis.call('HSET', key, 'seq', seq, unpack(ARGV, 11))
  redis.call('EXPIRE', key, ARGV[7])
  redis.call('ZADD', pending, seq, id)
  answer = 1
  new = true
  if redis.call('SET', flag, '1', 'NX', 'EX', ARGV[6]) then answer = 2 end
end
if ARGV[8] ~= '' then
  local field = ARGV[10]
  if new then field = ARGV[9] end
  redis.pcall('HINCRBYFLOAT', ARGV[8], field, 1)  -- a count never fails the store
end
return answer
"""

_STORE_SHA = hashlib.sha1(_STORE.encode()).hexdigest()


def with_script(command: Command) -> Command:
    """`store_command`'s command sending the script itself (after Redis answered NOSCRIPT)."""
    return ["EVAL", _STORE, *command[2:]]


# The reader's flag names the job that holds it. A job takes it when it is free or already its
# own (the web process names the job it queues), renews it only while it is its own, and drops it
# only in the same atomic step that finds nothing pending (see the docstring).
_TAKE = """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
"""
_RELEASE = """
if redis.call('ZCARD', KEYS[1]) > 0 then return 0 end
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
return 1
"""


@dataclass(frozen=True)
class RawWebhook:
    """One stored webhook: what the provider sent, when, whether its signature verified, and
    what reading it gave (`read_at`, or `reason` it could not be read)."""

    webhook_id: str
    provider: str
    raw: RawPayload
    received_at: datetime
    seq: int
    verified: bool
    reason: str
    read_at: float | None
    request_id: str | None = None

    @property
    def is_status(self) -> bool:
        """A delivery report route's request (`/webhooks/{provider}/status`)."""
        return self.raw.path.endswith(STATUS_PATH_SUFFIX)


def webhook_id(provider: str, raw: RawPayload) -> str:
    """The same request, the same id (safe as an RQ job id: `[A-Za-z0-9_-]`)."""
    digest = hashlib.sha256()
    for part in (provider, raw.method, raw.path, raw.query, raw.content_type, raw.body):
        digest.update(part.encode("utf-8", "surrogatepass") + b"\0")
    return f"{provider}-{digest.hexdigest()[:32]}"


def as_request(raw: RawPayload, *, received_at: datetime, settings: Settings) -> WebhookRequest:
    """A stored payload as the adapter reads a request (it was verified on arrival, so the URL
    only needs the path and query the adapter may read)."""
    base = (settings.public_url or "http://bridge.invalid").rstrip("/")
    return WebhookRequest(
        method=raw.method,
        url=f"{base}{raw.path}" + (f"?{raw.query}" if raw.query else ""),
        headers={"content-type": raw.content_type},
        query=raw.query,
        body=raw.body.encode("utf-8", "surrogatepass"),
        received_at=received_at,
    )


class RawWebhookStore:
    def __init__(self, redis_client: Redis, settings: Settings) -> None:
        self._redis = redis_client
        self._settings = settings
        self._take = redis_client.register_script(_TAKE)
        self._release = redis_client.register_script(_RELEASE)

    # --- the web process ---

    def store_command(
        self,
        provider: str,
        raw: RawPayload,
        *,
        received_at: datetime,
        verified: bool,
        tally: Tally | None,
    ) -> Command:
        """The one command that stores a webhook once and counts it; it answers a `Stored`."""
        entry_id = webhook_id(provider, raw)
        fields: list[EncodableT] = [
            "provider",
            provider,
            "received_at",
            received_at.isoformat(),
            "verified",
            "1" if verified else "0",
            *(item for name in _RAW_FIELDS for item in (name, getattr(raw, name))),
            *(item for pair in request_id_fields().items() for item in pair),
        ]
        # EVALSHA: the script's ~1 KB is not sent, nor hashed by Redis, with every webhook;
        # `with_script` is the same command for a Redis that does not have it yet.
        return [
            "EVALSHA",
            _STORE_SHA,
            0,
            keys.webhook(entry_id),
            entry_id,
            keys.INBOUND_SEQUENCE,
            keys.WEBHOOKS_PENDING,
            keys.WEBHOOKS_READER,
            READER_TTL_SECONDS,
            self._settings.retention_days * 86400,
            *((tally.key, tally.if_new, tally.if_duplicate) if tally else ("", "", "")),
            *fields,
        ]

    def reader_commands(self) -> list[Command]:
        """The commands that queue a reader job and name it on the flag `store_command` set (sent
        when it answered NEEDS_READER)."""
        job_id = reader_job_id()

        def write(pipe: Pipeline) -> None:
            pipe.set(keys.WEBHOOKS_READER, job_id, xx=True, ex=READER_TTL_SECONDS)
            enqueue_reader(inbound_queue(self._redis), settings=self._settings, pipeline=pipe, job_id=job_id)

        flat = recorded(self._redis, write)
        commands: list[Command] = []
        index = 0
        while index < len(flat):
            count = int(str(flat[index]))
            commands.append(flat[index + 1 : index + 1 + count])
            index += count + 1
        return commands

    # --- the reader ---

    def pending(self, limit: int = READ_BATCH) -> list[str]:
        """The oldest webhooks not read yet, in arrival order."""
        ids = self._redis.zrange(keys.WEBHOOKS_PENDING, 0, limit - 1)
        return [_text(item) for item in ids if isinstance(item, bytes | str)]

    def take_reading(self, reader: str) -> bool:
        """Take or renew the reader's flag for job `reader`; False while another reader holds it
        (two readers at once could claim a sender's messages out of their arrival order)."""
        return bool(self._take(keys=[keys.WEBHOOKS_READER], args=[reader, READER_TTL_SECONDS]))

    def stop_reading(self, reader: str) -> bool:
        """Drop `reader`'s flag if nothing is pending; False when something arrived meanwhile."""
        return bool(self._release(keys=[keys.WEBHOOKS_PENDING, keys.WEBHOOKS_READER], args=[reader]))

    def get(self, entry_id: str) -> RawWebhook | None:
        return _record(entry_id, read_hash(self._redis, keys.webhook(entry_id)))

    def get_many(self, entry_ids: Sequence[str]) -> dict[str, RawWebhook | None]:
        """`get` for each of `entry_ids`, in one round trip (the reader's page of them)."""
        with self._redis.pipeline(transaction=False) as pipe:
            for entry_id in entry_ids:
                pipe.hgetall(keys.webhook(entry_id))
            answers = pipe.execute()
        return {
            entry_id: _record(entry_id, hash_text(answer))
            for entry_id, answer in zip(entry_ids, answers, strict=True)
        }

    def mark_read(self, entry_id: str, *, claimed: int) -> None:
        """Read, and what it carried claimed: off the pending set; a replay has nothing to do.

        The body goes: the ledger entries it became keep the raw payload for as long, and Redis
        would otherwise hold every webhook twice for the whole retention. What stays (the
        provider, the times, `read_at`) is what dedupes an identical retry and answers a replay."""
        self.mark_all_read({entry_id: claimed})

    def mark_all_read(self, claimed: Mapping[str, int]) -> None:
        """`mark_read` for each webhook and its count of claims, in one transaction."""
        if not claimed:
            return
        read_at = f"{time.time():.6f}"
        with self._redis.pipeline(transaction=True) as pipe:
            for entry_id, count in claimed.items():
                pipe.hset(keys.webhook(entry_id), mapping={"read_at": read_at, "claimed": str(count)})
                pipe.hdel(keys.webhook(entry_id), "reason", "body")
            pipe.zrem(keys.WEBHOOKS_PENDING, *claimed)
            pipe.execute()

    def mark_unreadable(self, entry_id: str, *, reason: str) -> None:
        """Cannot be read: off the pending set, with the reason, as a job of its own that fails
        with it (listed by `bridge jobs failed`, replayable)."""
        with self._redis.pipeline(transaction=True) as pipe:
            pipe.multi()  # RQ expects a caller's pipeline in MULTI mode (see `bridge.infra.claims`)
            pipe.hset(keys.webhook(entry_id), "reason", reason)
            pipe.zrem(keys.WEBHOOKS_PENDING, entry_id)
            enqueue_webhook(inbound_queue(self._redis), entry_id, settings=self._settings, pipeline=pipe)
            pipe.execute()

    def forget(self, entry_id: str) -> None:
        """A pending id whose record expired: nothing left to read."""
        self._redis.zrem(keys.WEBHOOKS_PENDING, entry_id)


def _record(entry_id: str, fields: Mapping[str, str]) -> RawWebhook | None:
    if not fields or "provider" not in fields:
        return None
    read_at = fields.get("read_at")
    return RawWebhook(
        webhook_id=entry_id,
        provider=fields.get("provider", ""),
        raw=RawPayload(**{name: fields.get(name, "") for name in _RAW_FIELDS}),
        received_at=datetime.fromisoformat(fields.get("received_at") or datetime.now(UTC).isoformat()),
        seq=int(fields.get("seq") or 0),
        verified=fields.get("verified") == "1",
        reason=fields.get("reason", ""),
        read_at=float(read_at) if read_at else None,
        request_id=fields.get("request_id") or None,
    )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
