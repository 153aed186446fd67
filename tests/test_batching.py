"""The web process's Redis batches: concurrent requests share a round trip, never an answer."""

from __future__ import annotations

import asyncio

import pytest
import redis

from bridge.batching import Batcher
from bridge.connection import redis_client


def reads_processed(client: redis.Redis) -> int:
    """How many times the server read from a client socket (one per round trip, for small ones)."""
    return int(client.info("stats")["total_reads_processed"])


def test_requests_in_flight_together_share_one_round_trip(redis_client):
    batcher = Batcher(redis_client)

    async def fifty_requests() -> list[list[object]]:
        return await asyncio.gather(*(batcher.execute([("INCR", "counter")]) for _ in range(50)))

    before = reads_processed(redis_client)
    answers = asyncio.run(fifty_requests())
    # The pipeline's bytes may arrive in a few reads; fifty round trips would be fifty, and the
    # INFO that reads the figure is one.
    assert reads_processed(redis_client) - before <= 4
    assert answers == [[number] for number in range(1, 51)]  # each gets its own answer, in order


def test_each_request_gets_the_answers_to_its_own_commands(redis_client):
    batcher = Batcher(redis_client)

    async def two_requests() -> list[list[object]]:
        return await asyncio.gather(
            batcher.execute([("SET", "a", "1"), ("GET", "a")]), batcher.execute([("RPUSH", "l", "x")])
        )

    assert asyncio.run(two_requests()) == [[True, b"1"], [1]]


def test_a_command_redis_refuses_fails_only_the_request_that_sent_it(redis_client):
    redis_client.set("a-string", "x")
    batcher = Batcher(redis_client)

    async def two_requests() -> list[list[object]]:
        return await asyncio.gather(
            batcher.execute([("RPUSH", "a-string", "y")]), batcher.execute([("INCR", "n")])
        )

    refused, fine = asyncio.run(two_requests())
    assert isinstance(refused[0], redis.ResponseError)
    assert fine == [1]


def test_an_unreachable_redis_fails_every_request_of_the_batch():
    batcher = Batcher(redis_client("redis://127.0.0.1:1/0", timeout=0.2))

    async def two_requests() -> list[object]:
        return await asyncio.gather(
            batcher.execute([("INCR", "n")]), batcher.execute([("INCR", "m")]), return_exceptions=True
        )

    assert all(isinstance(outcome, redis.ConnectionError) for outcome in asyncio.run(two_requests()))


def test_a_request_that_went_away_does_not_hold_up_the_others(redis_client):
    batcher = Batcher(redis_client)

    async def one_cancelled() -> list[object]:
        gone = asyncio.ensure_future(batcher.execute([("INCR", "n")]))
        stays = asyncio.ensure_future(batcher.execute([("INCR", "n")]))
        await asyncio.sleep(0)  # both are waiting for the batch
        gone.cancel()
        with pytest.raises(asyncio.CancelledError):
            await gone
        return await stays

    # The cancelled request's command was already on its way: it ran, as it would have alone.
    assert asyncio.run(one_cancelled()) == [2]


def test_nothing_to_send_makes_no_round_trip(redis_client):
    before = reads_processed(redis_client)
    assert asyncio.run(Batcher(redis_client).execute([])) == []
    assert reads_processed(redis_client) - before == 1  # the INFO reading the figure
