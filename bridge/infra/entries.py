"""What every ledger does the same way with its entries: read one, give it its lifetime, update it.

The ledgers (`bridge.intake.ledger`, `bridge.replies.ledger`, `bridge.replies.reports`,
`bridge.replies.sent`) each keep one Redis entry per message, reply part, report or sent message
they track, and hand out typed, frozen entries. What the entries have in common in Redis is
written here once, and it is what earlier versions wrote, field for field: a deployment upgraded
with entries in Redis reads them, and the jobs it had queued find their records.

- An entry is a hash of text (the bridge's clients keep bytes, which RQ requires; a delivery
  report alone is one JSON string). Objects in it are JSON; times are unix seconds written
  `%.6f`; an empty value means none (an update clears a recovery point by writing "").
- `received_at` is when the bridge stored it, by its own clock (a provider's time can be hours old
  on a late redelivery); `request_id` the request that brought it (`bridge.core.context`; absent
  when a script or a test stored it), so the job's log lines carry that request's id.
- It lives for the retention (`bridge.core.freshness.retention_seconds`) from when it was stored
  (a sent message's record: from its latest write): longer than any provider redelivers, so a
  redelivery always meets its entry.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from redis import Redis
from redis.client import Pipeline

from bridge.core import freshness
from bridge.core.context import request_id_fields
from bridge.core.settings import Settings
from bridge.infra.connection import hash_text, read_hash

STORED_AT = "received_at"
REQUEST_ID = "request_id"

# An update goes only to an entry that still exists: an expired entry must stay gone, not come
# back as a hash without its content (and without a lifetime).
_UPDATE_EXISTING = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
"""
# The same, for one field written only the first time: 1 for the write that set it.
_SET_ONCE_EXISTING = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
"""


class Entry(Protocol):
    """What every ledger's entry tells, whatever else it holds."""

    @property
    def request_id(self) -> str | None:
        """The id of the request that brought what the entry stores (None outside one)."""


class Ledger(Protocol):
    """A ledger as a job's log context reads it: one entry per id, or None once it expired."""

    def get(self, entry_id: str, /) -> Entry | None: ...


@dataclass(frozen=True)
class Fields:
    """An entry's hash as text, read once; each accessor decodes one field."""

    values: Mapping[str, str]

    def text(self, name: str) -> str | None:
        """The field's text; None when absent or empty."""
        return self.values.get(name) or None

    def number(self, name: str) -> float | None:
        """A time or a count; None when absent, empty or not a number."""
        try:
            return float(self.values.get(name) or "")
        except ValueError:
            return None

    def json(self, name: str) -> Any:
        """The field's JSON, decoded; None when absent or empty."""
        value = self.values.get(name)
        return json.loads(value) if value else None

    @property
    def request_id(self) -> str | None:
        return self.text(REQUEST_ID)

    @property
    def stored_at(self) -> float | None:
        return self.number(STORED_AT)


def timestamp(moment: float) -> str:
    """A time as the ledgers write it: unix seconds, to the microsecond."""
    return f"{moment:.6f}"


def arrival() -> dict[str, str]:
    """The fields a new entry records about its arrival: now, and the request it came with."""
    return {STORED_AT: timestamp(time.time()), **request_id_fields()}


def request_id_of(stored: Mapping[str, Any]) -> str | None:
    """The request id an entry stored as JSON carries beside its own keys (a delivery report)."""
    value = stored.get(REQUEST_ID)
    return value if isinstance(value, str) and value else None


class HashEntries:
    """One ledger's hashes in Redis: read as text, written with the retention as their lifetime,
    updated only while they exist."""

    def __init__(self, redis_client: Redis, settings: Settings) -> None:
        self.redis = redis_client
        self.ttl = freshness.retention_seconds(settings)
        self._update = redis_client.register_script(_UPDATE_EXISTING)
        self._set_once = redis_client.register_script(_SET_ONCE_EXISTING)

    def read(self, key: str) -> Fields | None:
        """The hash at `key`; None when there is none (expired, or never stored)."""
        values = read_hash(self.redis, key)
        return Fields(values) if values else None

    @staticmethod
    def fields_of(answer: Mapping[bytes | str, bytes | str]) -> Fields | None:
        """`read`'s result from an HGETALL sent in a pipeline with other commands."""
        values = hash_text(answer)
        return Fields(values) if values else None

    def store(self, pipe: Pipeline, key: str, fields: Mapping[str, str]) -> None:
        """Queue on `pipe` the write of `fields`, creating the entry if need be, and its lifetime
        (restarted: the retention counts from the latest write)."""
        pipe.hset(key, mapping=dict(fields))  # type: ignore[arg-type]
        pipe.expire(key, self.ttl)

    def update(self, key: str, fields: Mapping[str, str]) -> bool:
        """Write `fields` into the entry at `key` if it still exists; False when it does not."""
        flat = [item for pair in fields.items() for item in pair]
        return bool(self._update(keys=[key], args=flat))

    @staticmethod
    def queue_update(pipe: Pipeline, key: str, fields: Mapping[str, str]) -> None:
        """`update`, queued on `pipe` to go with other writes. The script's text, not its digest:
        a Redis restarted since has forgotten it, and a transaction cannot load it halfway."""
        flat = [item for pair in fields.items() for item in pair]
        pipe.eval(_UPDATE_EXISTING, 1, key, *flat)

    def set_once(self, key: str, name: str, value: str) -> bool:
        """Write field `name` into the entry at `key` if it exists and has none yet: True for the
        one caller that did (a claim on a step of the entry's work)."""
        return bool(self._set_once(keys=[key], args=[name, value]))
