"""Sender lanes: one sender's messages are delivered one at a time, in arrival order.

Each sender has a lane: a lock and a FIFO of its undelivered messages (filled by the ledger in
the same transaction that stores a message). Only a message that finds the lane empty gets a job
(`bridge.intake.ledger`); whichever job takes the lock delivers, in order, every earlier message
still waiting in the lane, then its own, then every message that came after it while it worked
(`pass_on`), so a burst of messages costs one job. The lock goes in the same step that finds the
lane empty: a message stored after it finds the lane empty too, and gets a job of its own. Jobs
queued for messages already delivered (a retry, a replay) find them so. That gives "exactly one
lead for a new number" and "messages in arrival order" without pinning a sender to a worker.

The lock is an efficiency lock with a timeout (redis-py's `Lock`), not a correctness lock: if it
ever expired mid-delivery, the identity map and the ledger's recovery points are the backstop.
A worker killed while it holds the lock holds up its sender until the timeout: two worker TTLs
(120 s), about as long as RQ takes to retry that worker's job (`bridge.infra.heartbeats`), and
shorter with it under `BRIDGE_WORKER_TTL`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager

from redis import Redis
from redis.client import Pipeline
from redis.exceptions import LockError
from redis.lock import Lock

from bridge.core.errors import SenderBusy
from bridge.core.logs import mask
from bridge.infra import keys
from bridge.infra.connection import list_text, read_list
from bridge.infra.worker_timings import WORKER_TTL_SECONDS

# What waits in the lane, in one step with the lock: released when that is nothing, its timeout
# restarted (ARGV[2] ms) for the next message when not (`pass_on`).
_LOOK_OR_RELEASE = """
local waiting = redis.call('LRANGE', KEYS[1], 0, -1)
if ARGV[1] ~= '' and redis.call('GET', KEYS[2]) == ARGV[1] then
  if #waiting == 0 then
    redis.call('DEL', KEYS[2])
  else
    redis.call('PEXPIRE', KEYS[2], ARGV[2])
  end
end
return waiting
"""


class SenderLane:
    def __init__(
        self, redis_client: Redis, identity_key: str, *, worker_ttl: int = WORKER_TTL_SECONDS
    ) -> None:
        self._redis = redis_client
        self._identity = identity_key
        self._wait = worker_ttl  # 60 s by default
        self._timeout = 2 * worker_ttl  # the lock's
        self._held = False
        self._lock = redis_client.lock(
            keys.sender_lock(identity_key),
            timeout=self._timeout,
            blocking_timeout=self._wait,
            thread_local=False,
        )

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold the sender's lock; `SenderBusy` (retryable) when it cannot be had in time. The
        lock goes at the end unless `leave(release=True)` let it go already."""
        if not self._lock.acquire():
            raise SenderBusy(f"sender {mask(self._identity)} stayed locked for {self._wait}s")
        self._held = True
        try:
            yield
        finally:
            if self._held:
                self._held = False
                try:
                    self._lock.release()
                except LockError:
                    pass  # it expired meanwhile; nothing of ours to release

    def keep_alive(self) -> None:
        """Restart the lock's timeout between messages of a long run."""
        try:
            self._lock.reacquire()
        except LockError:
            pass

    def queued(self) -> list[str]:
        """The lane's messages, first in line first (read without the lock)."""
        return read_list(self._redis, keys.mailbox(self._identity))

    def occupied(self) -> bool:
        """Whether any message waits in the lane (read without the lock)."""
        return bool(self._redis.llen(keys.mailbox(self._identity)))

    def waiting_before(self, inbound_id: str) -> list[str]:
        """The lane's messages that arrived before `inbound_id` (all of them if it is not queued)."""
        return _before(self.queued(), inbound_id)

    def read_waiting(self, pipe: Pipeline) -> None:
        """Queue on `pipe` the read `waiting_before` makes, so that it shares a round trip with the
        reads that follow taking the lock (`waiting_in` reads its answer)."""
        pipe.lrange(keys.mailbox(self._identity), 0, -1)

    @staticmethod
    def waiting_in(answer: Iterable[bytes | str], inbound_id: str) -> list[str]:
        """`waiting_before(inbound_id)` from `read_waiting`'s answer."""
        return _before(list_text(answer), inbound_id)

    def leave(
        self,
        inbound_id: str | None,
        *,
        writes: Sequence[Callable[[Pipeline], None]] = (),
        release: bool = False,
    ) -> None:
        """Take a message out of the lane (delivered, or failed for good; None: none), in one
        transaction with `writes` (what says it was delivered) and, `release`, the lock's release
        (inside `held`): one round trip where these were one each, and never one without the other."""
        if inbound_id is None and not writes and not release:
            return
        with self._redis.pipeline() as pipe:
            for write in writes:
                write(pipe)
            if inbound_id is not None:
                pipe.lrem(keys.mailbox(self._identity), 0, inbound_id)
            token = self._lock.local.token if release and self._held else None
            if token is not None:
                # redis-py's own release (compare the token, delete), in the same transaction.
                pipe.eval(Lock.LUA_RELEASE_SCRIPT, 1, self._lock.name, token)
            pipe.execute()
        if token is not None:
            self._held = False

    def pass_on(
        self, inbound_id: str | None, *, writes: Sequence[Callable[[Pipeline], None]] = ()
    ) -> list[str]:
        """`leave` (inside `held`), answering what still waits in the lane; when nothing does, the
        lock goes in the same step, so the next message stored finds the lane empty and gets a
        job (`bridge.intake.ledger`): none is left behind a lock about to go. Otherwise the lock's
        timeout starts again, as `keep_alive` would, for the message the caller delivers next."""
        token = self._lock.local.token if self._held else None
        with self._redis.pipeline() as pipe:
            for write in writes:
                write(pipe)
            if inbound_id is not None:
                pipe.lrem(keys.mailbox(self._identity), 0, inbound_id)
            mailbox, timeout_ms = keys.mailbox(self._identity), int(self._timeout * 1000)
            pipe.eval(_LOOK_OR_RELEASE, 2, mailbox, self._lock.name, token or "", timeout_ms)
            waiting = list_text(pipe.execute()[-1])
        if not waiting:
            self._held = False
        return waiting

    def release(self) -> None:
        """Let the lock go before `held` ends (messages left in the lane have jobs of their own)."""
        if self._held:
            self._held = False
            try:
                self._lock.release()
            except LockError:
                pass


def _before(queued: list[str], inbound_id: str) -> list[str]:
    return queued[: queued.index(inbound_id)] if inbound_id in queued else queued
