"""The reply catch-up: agents' replies whose Intercom webhook never reached the bridge, sent anyway.

Intercom gives a webhook 5 seconds and retries it once, a minute later (webhook models): a bridge
that is restarting, deploying or overloaded for longer never hears of the reply. So every
`BRIDGE_REPLY_CATCHUP_SECONDS` one worker of the deployment asks Intercom which conversations
changed since it last looked (`IntercomClient.updated_conversations`), reads each one the bridge
carries, and claims its agents' and bots' reply parts through the webhook path's own claim
(`ReplyLedger.claim`): a part is queued once by its id, whichever comes first, the webhook, its
retry or the catch-up, and the others meet a duplicate. A part must pass what the webhook path
asks: a comment or quick reply by an admin or a bot (`conversation_reply_parts`; never a note),
its `created_at` within the acceptance window (`bridge.core.freshness`), written after the bridge
began carrying the conversation; a part the bridge posted itself (`bridge.replies.own`) is left.

One worker at a time: a lease in Redis (`LEASE_SECONDS`, renewed as the run goes on). Should it
lapse mid-run and a second worker start, the claims still queue each part once. Once per
interval: the mark, when the last complete run began (the bridge's clock), says when the next is
due and where it looks from: the mark less `OVERLAP_SECONDS`, for hosts whose clocks disagree and
Intercom's search index lagging behind its writes. A run that fails leaves the mark where it was,
so the next covers what it missed, however long the outage (back to the acceptance window); the
first run ever looks one interval back, not through the workspace's history.

The overlap lists a conversation in several runs; it is read again only when its `updated_at`
moved, and once more a little later (`_settled`): a part added in the same second as the one read
leaves `updated_at` as it was, and that second read sees it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from redis import Redis
from redis.exceptions import LockError

from bridge.conversations.threads import Thread, ThreadStore
from bridge.core import freshness, metrics
from bridge.core.errors import IntercomNotFound
from bridge.core.settings import Settings
from bridge.infra import claims, keys
from bridge.infra.claims import Outcome
from bridge.infra.connection import read_hash
from bridge.intercom.client import ConversationStamp, IntercomClient
from bridge.intercom.webhooks import ReplyPart, conversation_reply_parts
from bridge.replies.ledger import ReplyLedger
from bridge.replies.own import OwnParts

log = logging.getLogger(__name__)

# How far before the mark a run looks again: hosts kept by NTP agree within a second, the rest is
# for Intercom's search, which shows a change minutes late at worst (its docs, of new contacts).
OVERLAP_SECONDS = freshness.CLOCK_SKEW_SECONDS
# The lease outlives a slow page of Intercom calls; the run renews it every third of it.
LEASE_SECONDS = 120
# A conversation read again this long after a read that saw the same `updated_at` has no part
# that read missed: Intercom's clock has moved past that second (`_settled`).
SETTLE_SECONDS = 2.0
# What the catch-up remembers of a conversation it read, longer than any overlap lists it.
SEEN_TTL_SECONDS = 86400


@dataclass
class CatchupRun:
    """What one call of `ReplyCatchup.run` did."""

    ran: bool
    skipped: str | None = None  # why it did not run: not due, or another worker's lease
    since: float | None = None  # the `updated_at` it looked from
    listed: int = 0  # conversations Intercom listed as changed
    read: int = 0  # of those, the bridge's, read afresh
    queued: list[str] = field(default_factory=list)  # part ids no webhook had brought


class ReplyCatchup:
    """The catch-up's runs, on one Redis and one Intercom client; `run` is one look."""

    def __init__(
        self,
        *,
        redis_client: Redis,
        intercom: IntercomClient,
        settings: Settings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis_client
        self._intercom = intercom
        self._settings = settings
        self._clock = clock
        self._threads = ThreadStore(redis_client)
        self._replies = ReplyLedger(redis_client, settings)
        self._own = OwnParts(redis_client, settings)
        self._lease = redis_client.lock(
            keys.REPLY_CATCHUP_LEASE, timeout=LEASE_SECONDS, blocking=False, thread_local=False
        )
        self._renewed = 0.0

    def run(self) -> CatchupRun:
        """Look once, if no other worker is looking and a look is due."""
        if not self._lease.acquire():
            return CatchupRun(ran=False, skipped="another worker is running the catch-up")
        self._renewed = time.monotonic()
        try:
            started = self._clock()
            mark = self._mark()
            interval = self._settings.reply_catchup
            if mark is not None and started < mark + interval:
                return CatchupRun(ran=False, skipped="not due")
            since = started - interval if mark is None else mark - OVERLAP_SECONDS
            # Older parts are refused anyway: an outage longer than the window is not read through.
            since = max(since, started - freshness.acceptance_window(self._settings))
            run = CatchupRun(ran=True, since=since)
            for listed in self._intercom.updated_conversations(since):
                run.listed += 1
                if not self._keep_lease():
                    log.warning("reply catch-up: lease lost mid-run; another worker goes on")
                    return run
                self._look(listed, run)
            self._redis.set(keys.REPLY_CATCHUP_MARK, repr(started))
            return run
        finally:
            try:
                self._lease.release()
            except LockError:
                pass  # it expired meanwhile: nothing of ours to release

    def _mark(self) -> float | None:
        """When the last complete run began; None before the first (or for a mark that is not a
        time, which would otherwise stop every run for good)."""
        stored = self._redis.get(keys.REPLY_CATCHUP_MARK)
        try:
            return float(stored) if stored is not None else None
        except ValueError:
            log.warning("reply catch-up: the mark %r is not a time; looking one interval back", stored)
            return None

    def _keep_lease(self) -> bool:
        """Renew the lease when a third of it has passed; False once it is somebody else's."""
        if time.monotonic() - self._renewed < LEASE_SECONDS / 3:
            return True
        try:
            self._lease.reacquire()
        except LockError:
            return False
        self._renewed = time.monotonic()
        return True

    def _look(self, listed: ConversationStamp, run: CatchupRun) -> None:
        """Read one listed conversation if it is the bridge's and changed since it was read, and
        claim its unsent reply parts."""
        thread = self._threads.by_conversation(listed.id)
        if thread is None:
            return
        seen = _Seen.read(self._redis, listed.id)
        if seen is not None and listed.updated_at <= seen.updated_at and seen.settled:
            return
        asked = self._clock()
        try:
            conversation = self._intercom.get_conversation(listed.id)
        except IntercomNotFound:
            return  # deleted since it was listed
        run.read += 1
        now = self._clock()
        parts = self._sendable(conversation_reply_parts(conversation), thread, listed.id, now=now)
        outcomes = claims.run(self._redis, [self._replies.claim(part) for part in parts])
        for part, outcome in zip(parts, outcomes, strict=True):
            if outcome is Outcome.ACCEPTED:
                run.queued.append(part.part_id)
                metrics.current().reply_caught_up(part.author_type)
                log.warning(
                    "reply part %s of conversation %s: no webhook brought it; queued by the catch-up",
                    part.part_id,
                    listed.id,
                )
        updated_at = conversation.get("updated_at")
        read_at = float(updated_at) if isinstance(updated_at, int | float) else listed.updated_at
        _Seen.after_read(self._redis, listed.id, seen, updated_at=read_at, asked=asked, answered=now)

    def _sendable(
        self, parts: Iterable[ReplyPart], thread: Thread, conversation_id: str, *, now: float
    ) -> list[ReplyPart]:
        """The parts the webhook path would queue, less those the bridge posted itself."""
        window = freshness.acceptance_window(self._settings)
        # The thread's time is the bridge's clock, the parts' Intercom's. A conversation the
        # thread carried before its current one was carried from its start.
        carried_since = (
            thread.created_at - freshness.CLOCK_SKEW_SECONDS
            if thread.conversation_id == conversation_id
            else 0.0
        )
        return [
            part
            for part in parts
            if freshness.out_of_window(part.created_at, now=now, window=window) is None
            and part.created_at >= carried_since
            and not self._own.recorded(part.part_id)
        ]


@dataclass(frozen=True)
class _Seen:
    """What the catch-up last read of a conversation: its `updated_at`, when a read first saw that
    value, and whether a later read, begun `SETTLE_SECONDS` after that one ended, saw it still.

    Intercom's `updated_at` counts whole seconds: a read in the second of the last change may
    miss a part added later in that second. A read begun two seconds after an earlier one ended
    reached Intercom when its clock had passed that second, so it missed nothing: only then is
    the conversation skipped while it stays unchanged."""

    updated_at: float
    first_read: float
    settled: bool

    @classmethod
    def read(cls, redis_client: Redis, conversation_id: str) -> _Seen | None:
        stored = read_hash(redis_client, keys.reply_catchup_seen(conversation_id))
        try:
            return cls(
                updated_at=float(stored["updated_at"]),
                first_read=float(stored["first_read"]),
                settled=stored.get("settled") == "1",
            )
        except (KeyError, ValueError):
            return None

    @staticmethod
    def after_read(
        redis_client: Redis,
        conversation_id: str,
        before: _Seen | None,
        *,
        updated_at: float,
        asked: float,
        answered: float,
    ) -> None:
        """Record a read asked at `asked` and answered at `answered` that saw `updated_at`."""
        if before is not None and before.updated_at == updated_at:
            first_read = before.first_read
            settled = before.settled or asked - before.first_read >= SETTLE_SECONDS
        else:
            first_read, settled = answered, False
        key = keys.reply_catchup_seen(conversation_id)
        with redis_client.pipeline() as pipe:
            pipe.delete(key)
            pipe.hset(
                key,
                mapping={
                    "updated_at": repr(updated_at),
                    "first_read": repr(first_read),
                    "settled": "1" if settled else "0",
                },
            )
            pipe.expire(key, SEEN_TTL_SECONDS)
            pipe.execute()
