"""Parts the bridge itself posts as the team, which Intercom announces like an agent's reply.

A message the team writes first that continues an open conversation is posted there as an
admin reply (`bridge.outreach`), after or before the bridge sends it itself. Intercom then fires
`conversation.admin.replied` for that part, as for any agent's reply, and the reply path would
send it to the customer a second time. So the poster says, before its call, that it is posting
in that conversation (`posting`), and records the part's id when Intercom answers (`record`).
The reply job asks `verdict` before sending: a recorded part is the bridge's own and never
sent; while a post is in flight in that conversation, the job cannot tell an agent's reply
typed at that moment from the bridge's own, and waits (`OwnPartPending`, retried shortly).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum

from redis import Redis

from bridge.core import freshness
from bridge.core.errors import RetryableError
from bridge.core.settings import Settings
from bridge.infra import keys

# Longer than one Intercom call with its quick retries; a poster that died holds replies in
# that conversation back this long at most.
PENDING_SECONDS = 120


class Verdict(StrEnum):
    OWN = "own"  # the bridge posted it: not to be sent
    PENDING = "pending"  # the bridge is posting in this conversation: ask again shortly
    AGENTS = "agents"  # an agent's (or a bot's) reply: send it


class OwnPartPending(RetryableError):
    """The bridge is posting its own part in this conversation; the reply waits for it to know
    whether the part it is asked to send is that one."""


class OwnParts:
    def __init__(self, redis_client: Redis, settings: Settings) -> None:
        self._redis = redis_client
        self._ttl = freshness.retention_seconds(settings)

    @contextmanager
    def posting(self, conversation_id: str) -> Iterator[None]:
        """Around the Intercom call that posts the bridge's own part in `conversation_id`; the
        part must be `record`ed inside it."""
        key = keys.own_pending(conversation_id)
        self._redis.incr(key)
        self._redis.expire(key, PENDING_SECONDS)
        try:
            yield
        finally:
            if self._redis.decr(key) <= 0:
                self._redis.delete(key)

    def record(self, part_id: str) -> None:
        """`part_id` is the bridge's own: its reply webhook, however late, sends nothing."""
        self._redis.set(keys.own_part(part_id), "1", ex=self._ttl)

    def recorded(self, part_id: str) -> bool:
        """Whether the bridge recorded `part_id` as its own."""
        return bool(self._redis.exists(keys.own_part(part_id)))

    def verdict(self, conversation_id: str, part_id: str) -> Verdict:
        if self.recorded(part_id):
            return Verdict.OWN
        if self._redis.exists(keys.own_pending(conversation_id)):
            return Verdict.PENDING
        return Verdict.AGENTS
