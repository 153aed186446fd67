"""Intercom's `contact.deleted`: the bridge forgets the numbers that led to that contact.

The notification is acknowledged at once; the forgetting itself (reading Intercom once to tell a
deleted contact from a merged lead, scanning the ledgers) runs as a job (`workers.forget`,
`bridge.ops.forget.forget_deleted_contact`). Queuing it is a claim (`bridge.infra.claims`) on a
marker kept for the retention, so Intercom's retry of the notification queues nothing more,
written in the round trip the web process shares with other requests.
"""

from __future__ import annotations

from redis import Redis
from redis.client import Pipeline

from bridge.core import freshness
from bridge.core.settings import Settings
from bridge.infra import keys
from bridge.infra.claims import Claim, prepare
from bridge.infra.queueing import FORGET_JOB, inbound_queue

TOPIC = "contact.deleted"


class DeletedContacts:
    def __init__(self, redis_client: Redis, settings: Settings) -> None:
        self._redis = redis_client
        self._settings = settings

    def claim(self, contact_id: str) -> Claim:
        """The claim that queues forgetting `contact_id` once, to send with others."""
        key = keys.forget_contact(contact_id)

        def write(pipe: Pipeline) -> None:
            pipe.set(key, "queued", ex=freshness.retention_seconds(self._settings))
            FORGET_JOB.enqueue(inbound_queue(self._redis), contact_id, settings=self._settings, pipeline=pipe)

        return prepare(self._redis, key, write, what="the deleted contact")
