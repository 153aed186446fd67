"""Storing something exactly once in Redis: the claim both ledgers make.

`claim` watches a key, and only if nobody stored it yet runs the caller's writes in one
transaction (MULTI/EXEC). Either everything the caller writes happens, or nothing does; a second
claim of the same key is a duplicate and writes nothing. A concurrent claim makes the WATCH fail,
and the loop looks again (and then sees the duplicate).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

import redis
from redis import Redis
from redis.client import Pipeline

from bridge.errors import StorageUnavailable


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"


def claim(client: Redis, key: str, write: Callable[[Pipeline], None], *, what: str) -> Outcome:
    """Run `write` in one transaction unless `key` exists; `StorageUnavailable` if Redis fails."""
    try:
        with client.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)  # type: ignore[no-untyped-call]
                    if pipe.exists(key):
                        return Outcome.DUPLICATE
                    pipe.multi()
                    write(pipe)
                    pipe.execute()
                    return Outcome.ACCEPTED
                except redis.WatchError:
                    continue  # someone touched the key meanwhile: look again
    except redis.RedisError as exc:
        raise StorageUnavailable(f"could not store {what}: {type(exc).__name__}") from exc
