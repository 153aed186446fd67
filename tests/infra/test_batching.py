"""The web process's Redis batches: concurrent requests share a round trip, never an answer."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest
import redis

from bridge.infra.batching import Batcher
from bridge.infra.connection import async_redis_client

T = TypeVar("T")


def with_batcher(url: str, work: Callable[[Batcher], Awaitable[T]]) -> T:
    """`work`'s result, with a batcher on a client of this test's own event loop."""

    async def run() -> T:
        batcher = Batcher(async_redis_client(url, timeout=0.2))
        try:
            return await work(batcher)
        finally:
            await batcher.aclose()

    return asyncio.run(run())


def reads_processed(client: redis.Redis) -> int:
    """How many times the server read from a client socket (one per round trip, for small ones)."""
    return int(client.info("stats")["total_reads_processed"])


def test_requests_in_flight_together_share_one_round_trip(redis_url, redis_client):
    async def fifty_requests(batcher: Batcher) -> list[list[object]]:
        await batcher.execute([("PING",)])  # connected before counting
        before.append(reads_processed(redis_client))
        return await asyncio.gather(*(batcher.execute([("INCR", "counter")]) for _ in range(50)))

    before: list[int] = []
    answers = with_batcher(redis_url, fifty_requests)
    # The pipeline's bytes may arrive in a few reads; fifty round trips would be fifty, and the
    # INFO that reads the figure is one.
    assert reads_processed(redis_client) - before[0] <= 4
    assert answers == [[number] for number in range(1, 51)]  # each gets its own answer, in order


def test_each_request_gets_the_answers_to_its_own_commands(redis_url, redis_client):
    async def two_requests(batcher: Batcher) -> list[list[object]]:
        return await asyncio.gather(
            batcher.execute([("SET", "a", "1"), ("GET", "a")]), batcher.execute([("RPUSH", "l", "x")])
        )

    assert with_batcher(redis_url, two_requests) == [[True, b"1"], [1]]


def test_requests_that_arrive_during_a_round_trip_go_together_in_the_next(redis_url, redis_client):
    async def waves(batcher: Batcher) -> list[list[object]]:
        await batcher.execute([("PING",)])  # connected before counting
        before.append(reads_processed(redis_client))
        first = asyncio.ensure_future(batcher.execute([("INCR", "n")]))
        await asyncio.sleep(0)  # the first round trip is on its way
        later = [asyncio.ensure_future(batcher.execute([("INCR", "n")])) for _ in range(20)]
        return await asyncio.gather(first, *later)

    before: list[int] = []
    answers = with_batcher(redis_url, waves)
    assert answers == [[number] for number in range(1, 22)]
    # The first one's round trip, then one for all twenty (plus the INFOs): never twenty.
    assert reads_processed(redis_client) - before[0] <= 5


def test_a_command_redis_refuses_fails_only_the_request_that_sent_it(redis_url, redis_client):
    redis_client.set("a-string", "x")

    async def two_requests(batcher: Batcher) -> list[list[object]]:
        return await asyncio.gather(
            batcher.execute([("RPUSH", "a-string", "y")]), batcher.execute([("INCR", "n")])
        )

    refused, fine = with_batcher(redis_url, two_requests)
    assert isinstance(refused[0], redis.ResponseError)
    assert fine == [1]


def test_an_unreachable_redis_fails_every_request_of_the_batch():
    async def two_requests(batcher: Batcher) -> list[object]:
        return await asyncio.gather(
            batcher.execute([("INCR", "n")]), batcher.execute([("INCR", "m")]), return_exceptions=True
        )

    outcomes = with_batcher("redis://127.0.0.1:1/0", two_requests)
    assert all(isinstance(outcome, redis.ConnectionError) for outcome in outcomes)


def test_a_request_that_went_away_does_not_hold_up_the_others(redis_url, redis_client):
    async def one_cancelled(batcher: Batcher) -> list[object]:
        gone = asyncio.ensure_future(batcher.execute([("INCR", "n")]))
        stays = asyncio.ensure_future(batcher.execute([("INCR", "n")]))
        await asyncio.sleep(0)  # both are waiting for the batch
        gone.cancel()
        with pytest.raises(asyncio.CancelledError):
            await gone
        return await stays

    # The cancelled request's command was already on its way: it ran, as it would have alone.
    assert with_batcher(redis_url, one_cancelled) == [2]


def test_nothing_to_send_makes_no_round_trip(redis_url, redis_client):
    before = reads_processed(redis_client)
    assert with_batcher(redis_url, lambda batcher: batcher.execute([])) == []
    assert reads_processed(redis_client) - before == 1  # the INFO reading the figure
