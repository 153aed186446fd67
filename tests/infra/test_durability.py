"""BRIDGE_ACK_AFTER in the web process's batches: one wait per batch covers every request in it,
a wait that falls short fails them all, and the wait covers what other connections wrote before
it. A real Valkey primary and a real replica on loopback (`tests.replicas`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest
import redis

from bridge.core.errors import NotDurable
from bridge.core.settings import Settings
from bridge.infra.batching import Batcher
from bridge.infra.connection import async_redis_client
from bridge.infra.durability import Durability, ack_after
from tests.replicas import ReplicatedValkey

T = TypeVar("T")
REPLICA = Durability("replica", timeout_ms=300)


def with_batcher(url: str, durability: Durability, work: Callable[[Batcher], Awaitable[T]]) -> T:
    """`work`'s result, with a durable batcher on a client of this test's own event loop."""

    async def run() -> T:
        batcher = Batcher(async_redis_client(url, wait_ms=durability.timeout_ms), durability)
        try:
            return await work(batcher)
        finally:
            await batcher.aclose()

    return asyncio.run(run())


def calls(client: redis.Redis, command: str) -> int:
    """How many times the server ran `command` (INFO commandstats)."""
    stats = client.info("commandstats").get(f"cmdstat_{command}", {})
    return int(stats.get("calls", 0))


@pytest.fixture
def primary(replicated_redis: ReplicatedValkey) -> redis.Redis:
    client = redis.Redis.from_url(replicated_redis.primary_url)
    client.config_resetstat()
    return client


def test_one_wait_covers_every_request_of_a_batch(replicated_redis, primary):
    async def fifty_requests(batcher: Batcher) -> list[list[object]]:
        return await asyncio.gather(*(batcher.execute([("INCR", "n")]) for _ in range(50)))

    answers = with_batcher(replicated_redis.primary_url, REPLICA, fifty_requests)
    assert answers == [[number] for number in range(1, 51)]  # each its own answer, as without a wait
    assert calls(primary, "wait") == 1


def test_a_frozen_replica_fails_every_request_of_the_batch_and_a_resumed_one_confirms(
    replicated_redis, primary
):
    async def two_requests(batcher: Batcher) -> list[object]:
        return await asyncio.gather(
            batcher.execute([("INCR", "n")]), batcher.execute([("SET", "k", "v")]), return_exceptions=True
        )

    with replicated_redis.replica_frozen():
        outcomes = with_batcher(replicated_redis.primary_url, REPLICA, two_requests)
    assert [type(outcome) for outcome in outcomes] == [NotDurable, NotDurable]
    assert "no replica acknowledged the write" in str(outcomes[0])
    assert "BRIDGE_ACK_AFTER=replica" in str(outcomes[0])
    replicated_redis.wait_in_sync()
    assert with_batcher(replicated_redis.primary_url, REPLICA, two_requests) == [[2], [True]]


def test_the_wait_covers_what_another_connection_wrote_before_it(replicated_redis, primary):
    """A provider's retry after a 503 is a duplicate: its batch writes nothing of its own, while the
    first copy's write may still be on its way to the replica. Intercom's state changes are written
    by the other client, then confirmed with `durable()`."""

    async def a_read_and_a_barrier(batcher: Batcher) -> list[object]:
        return await asyncio.gather(
            batcher.execute([("EXISTS", "first-copy")]), batcher.durable(), return_exceptions=True
        )

    with replicated_redis.replica_frozen():
        primary.set("first-copy", "stored, not replicated")
        outcomes = with_batcher(replicated_redis.primary_url, REPLICA, a_read_and_a_barrier)
    assert [type(outcome) for outcome in outcomes] == [NotDurable, NotDurable]
    replicated_redis.wait_in_sync()
    assert with_batcher(replicated_redis.primary_url, REPLICA, a_read_and_a_barrier) == [[1], None]


def test_fsync_on_a_redis_without_the_append_only_file_fails_saying_why(replicated_redis, primary):
    primary.config_set("appendonly", "no")
    fsync = Durability("fsync", timeout_ms=300)
    with pytest.raises(NotDurable, match="appendonly"):
        with_batcher(replicated_redis.primary_url, fsync, lambda batcher: batcher.execute([("INCR", "n")]))


def test_under_write_nothing_waits(replicated_redis, primary):
    settings = Settings(_env_file=None, ack_after="write")
    assert Durability.required(settings, embedded=True) is None

    async def a_write_and_a_barrier() -> None:
        batcher = Batcher(async_redis_client(replicated_redis.primary_url))
        try:
            await batcher.execute([("INCR", "n")])
            await batcher.durable()
        finally:
            await batcher.aclose()

    asyncio.run(a_write_and_a_barrier())
    assert [calls(primary, command) for command in ("incr", "wait", "waitaof")] == [1, 0, 0]


@pytest.mark.parametrize(
    ("configured", "embedded", "expected"),
    [
        (None, True, "fsync"),  # the embedded server fsyncs every write: confirming costs little
        (None, False, "write"),  # another Redis: its persistence and replicas are the operator's
        ("replica", True, "replica"),
        ("write", True, "write"),
        ("fsync", False, "fsync"),
    ],
)
def test_ack_after_defaults_to_fsync_on_the_embedded_server_only(configured, embedded, expected):
    settings = Settings(_env_file=None, ack_after=configured)
    assert ack_after(settings, embedded=embedded) == expected


def test_a_batch_that_waited_behind_another_is_given_only_what_is_left_of_the_timeout():
    durability = Durability("replica", timeout_ms=2000)
    assert durability.time_left(time.monotonic() - 10) == 1  # never 0: Redis would wait for ever
    assert 1000 < durability.time_left(time.monotonic()) <= 2000
