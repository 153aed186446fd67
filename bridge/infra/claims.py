"""Storing something exactly once in Redis: the claim every ledger makes.

A claim runs the caller's writes only if nobody stored its key yet, inside one Lua script: Redis
runs a script atomically, so the check and the writes cannot interleave with a concurrent claim,
and either everything the caller writes happens or nothing does (a script stopped by an
out-of-memory Redis fails at its first write, before anything was written). A second claim of
the same key is a duplicate and writes nothing.

The caller describes its writes on a redis-py pipeline, as it would for MULTI/EXEC, and RQ
queues its jobs on that pipeline (`Queue.enqueue_call(pipeline=...)`); the commands recorded
there are handed to the script instead of being sent (`prepare`). Several claims go to Redis as
one script call (`run`), so a webhook's messages are stored together, and the call can count
the webhook's outcome as well (`Tally`): one command per webhook, where WATCH, a read, a script
check, MULTI/EXEC and the count made five round trips per message. The web process calls Redis
from its event loop, so every round trip holds up every request it serves (`bench/ingest.py`);
the webhook routes also share the call's round trip with the other requests in flight
(`run_batched`, `bridge.infra.batching`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

import redis
from redis import Redis
from redis.client import Pipeline
from redis.typing import EncodableT

from bridge.core.errors import StorageUnavailable
from bridge.infra.batching import Batcher


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"


# ARGV: the tally (its hash, the field counted when a claim was new or there were none, the
# field counted when all were duplicates; an empty hash name for no tally), then each claim: its
# key, the counter that numbers it ('' for none: its number is 1), the number of arguments of
# its writes and the writes, each its argument count and then its arguments. A count of 0 is a
# guard, followed by how many arguments it covers: those run only when the write before the
# guard answered 1 (`prepare`'s `guarded`). A numbered claim stores its number as the claimed
# hash's `seq` field. Answers each claim's number, 0 for a duplicate. The keys are not declared
# (a Redis Cluster would refuse them; the bridge and RQ use one Redis).
_CLAIM = """
local answers = {}
local anything_new = false
local i = 4
while i <= #ARGV do
  local key, counter, last = ARGV[i], ARGV[i + 1], i + 2 + tonumber(ARGV[i + 2])
  i = i + 3
  if redis.call('EXISTS', key) == 1 then
    answers[#answers + 1] = 0
    i = last + 1
  else
    local number = 1
    if counter ~= '' then
      number = redis.call('INCR', counter)
      redis.call('HSET', key, 'seq', number)
    end
    local answered = nil
    while i <= last do
      local count = tonumber(ARGV[i])
      if count == 0 then
        if answered == 1 then i = i + 2 else i = i + 2 + tonumber(ARGV[i + 1]) end
      else
        answered = redis.call(unpack(ARGV, i + 1, i + count))
        i = i + count + 1
      end
    end
    answers[#answers + 1] = number
    anything_new = true
  end
end
if ARGV[1] ~= '' then
  local field = ARGV[3]
  if anything_new or #answers == 0 then field = ARGV[2] end
  redis.pcall('HINCRBYFLOAT', ARGV[1], field, 1)  -- a count never fails the claims
end
return answers
"""


@dataclass(frozen=True)
class Claim:
    """One claim, ready to send (`prepare`)."""

    key: str
    counter: str  # numbers the claim ('' for none)
    writes: tuple[EncodableT, ...]  # each command's argument count, then its arguments
    what: str  # for the error: "could not store the message"


@dataclass(frozen=True)
class Tally:
    """A count kept by the same script call: hash `key`'s field `if_new` goes up by one when any
    claim was new (or there were none), its field `if_duplicate` when every one was a duplicate."""

    key: str
    if_new: str
    if_duplicate: str


def prepare(
    client: Redis,
    key: str,
    write: Callable[[Pipeline], None],
    *,
    what: str,
    numbered_by: str | None = None,
    guarded: Callable[[Pipeline], None] | None = None,
) -> Claim:
    """The claim of `key` with `write`'s commands, to send with `claim`, `run` or `run_batched`.

    With `numbered_by`, the claimed hash's `seq` field gets the next value of that counter, so
    claims can be ordered by arrival. `write` must only queue plain commands (no scripts, no
    reads whose answers it needs): they are recorded, not sent, and run inside the script.
    `guarded`'s commands (the same kind) follow them only when `write`'s last command answered 1:
    an RPUSH that made a list of one, say, so that only the first in line gets a job.
    """
    try:
        writes = recorded(client, write)  # RQ asks Redis its version once per connection
        if guarded is not None:
            condition = recorded(client, guarded)
            writes = (*writes, 0, len(condition), *condition)
    except redis.RedisError as exc:
        raise unavailable(what, exc) from exc
    return Claim(key, numbered_by or "", writes, what)


def claim(client: Redis, prepared: Claim) -> Outcome:
    """Make one claim now; `StorageUnavailable` if Redis fails."""
    return run(client, [prepared])[0]


def run(client: Redis, claims: Sequence[Claim], tally: Tally | None = None) -> list[Outcome]:
    """Make `claims` now, as one atomic script call (with `tally`'s count)."""
    if not claims and tally is None:
        return []
    try:
        answer = client.execute_command(*_command(claims, tally))  # type: ignore[no-untyped-call]
    except redis.RedisError as exc:
        raise unavailable(_what(claims), exc) from exc
    return _outcomes(answer)


async def run_batched(batcher: Batcher, claims: Sequence[Claim], tally: Tally | None = None) -> list[Outcome]:
    """`run`, in the round trip of whatever else is written in this turn of the event loop."""
    if not claims and tally is None:
        return []
    try:
        [answer] = await batcher.execute([_command(claims, tally)])
    except redis.RedisError as exc:
        raise unavailable(_what(claims), exc) from exc
    if isinstance(answer, redis.RedisError):
        raise unavailable(_what(claims), answer) from answer
    return _outcomes(answer)


def recorded(client: Redis, write: Callable[[Pipeline], None]) -> tuple[EncodableT, ...]:
    """The commands `write` queues on a pipeline, flattened: each its argument count, then its
    arguments. The pipeline is in MULTI mode, as RQ expects of a caller's pipeline, and is never
    executed."""
    pipe = client.pipeline()
    try:
        pipe.multi()
        write(pipe)
        flat: list[EncodableT] = []
        for args, _options in pipe.command_stack:
            flat.append(len(args))
            flat.extend(args)
        return tuple(flat)
    finally:
        pipe.reset()


def _command(claims: Sequence[Claim], tally: Tally | None) -> list[EncodableT]:
    # EVAL, not EVALSHA: Redis caches the script all the same, and a batch never meets NOSCRIPT.
    command: list[EncodableT] = ["EVAL", _CLAIM, 0]
    command += [tally.key, tally.if_new, tally.if_duplicate] if tally else ["", "", ""]
    for each in claims:
        command += [each.key, each.counter, len(each.writes), *each.writes]
    return command


def _outcomes(answer: list[int]) -> list[Outcome]:
    return [Outcome.ACCEPTED if number else Outcome.DUPLICATE for number in answer]


def _what(claims: Sequence[Claim]) -> str:
    return claims[0].what if claims else "nothing"


def unavailable(what: str, exc: redis.RedisError) -> StorageUnavailable:
    """The error a store raises when Redis failed it: the webhook is answered 503 and sent again."""
    return StorageUnavailable(f"could not store {what}: {type(exc).__name__}")
