"""Claims: a webhook's parts stored exactly once, together, and counted in the same step."""

from __future__ import annotations

import asyncio

import pytest
import redis

from bridge.core.errors import StorageUnavailable
from bridge.infra.batching import Batcher
from bridge.infra.claims import Outcome, Tally, claim, prepare, run, run_batched
from bridge.infra.connection import async_redis_client, redis_client

TALLY = Tally("counts", if_new="new", if_duplicate="duplicate")


def note(key: str, value: str, *, also: str | None = None):
    def write(pipe: redis.client.Pipeline) -> None:
        pipe.hset(key, mapping={"value": value})
        pipe.expire(key, 600)
        pipe.rpush("arrivals", key)
        if also is not None:
            pipe.set(also, value, ex=600)

    return write


def noted(
    client: redis.Redis, key: str, value: str, *, also: str | None = None, numbered_by: str | None = None
):
    return prepare(client, key, note(key, value, also=also), what="a note", numbered_by=numbered_by)


def counts(client: redis.Redis) -> dict[bytes, float]:
    return {field: float(value) for field, value in client.hgetall("counts").items()}


def test_the_writes_happen_exactly_as_recorded(redis_client):
    assert claim(redis_client, noted(redis_client, "k1", "one", also="side")) is Outcome.ACCEPTED
    assert redis_client.hgetall("k1") == {b"value": b"one"}
    assert 0 < redis_client.ttl("k1") <= 600
    assert redis_client.get("side") == b"one" and 0 < redis_client.ttl("side") <= 600
    assert redis_client.lrange("arrivals", 0, -1) == [b"k1"]


def test_a_second_claim_of_a_key_writes_nothing(redis_client):
    claim(redis_client, noted(redis_client, "k1", "one"))
    assert claim(redis_client, noted(redis_client, "k1", "two", also="side")) is Outcome.DUPLICATE
    assert redis_client.hgetall("k1") == {b"value": b"one"}
    assert redis_client.llen("arrivals") == 1
    assert not redis_client.exists("side")


def test_guarded_writes_follow_only_when_the_last_write_answered_one(redis_client):
    def first_in_line(key: str):
        def write(pipe: redis.client.Pipeline) -> None:
            pipe.set(key, "stored")
            pipe.rpush("line", key)

        def guarded(pipe: redis.client.Pipeline) -> None:
            pipe.rpush("jobs", key)
            pipe.set(f"job:{key}", "queued")

        return prepare(redis_client, key, write, what="a place in line", guarded=guarded)

    # Sent together, as the reader sends a webhook's messages: the guard reads each claim's own
    # last answer, not the script's first or last.
    assert run(redis_client, [first_in_line("a"), first_in_line("b")]) == [Outcome.ACCEPTED] * 2
    redis_client.delete("line")
    claim(redis_client, first_in_line("c"))
    assert redis_client.lrange("jobs", 0, -1) == [b"a", b"c"]
    assert [redis_client.get(f"job:{key}") for key in "abc"] == [b"queued", None, b"queued"]
    assert [redis_client.get(key) for key in "abc"] == [b"stored"] * 3


def test_numbered_claims_are_numbered_in_order_and_duplicates_take_no_number(redis_client):
    for key in ("a", "b", "a", "c"):
        claim(redis_client, noted(redis_client, key, key, numbered_by="seq"))
    assert [redis_client.hget(key, "seq") for key in ("a", "b", "c")] == [b"1", b"2", b"3"]


def test_claims_sent_together_are_each_made_once_and_the_request_counted_once(redis_client):
    together = [noted(redis_client, key, key) for key in ("a", "b")]
    assert run(redis_client, together, TALLY) == [Outcome.ACCEPTED, Outcome.ACCEPTED]
    assert counts(redis_client) == {b"new": 1.0}

    again = [noted(redis_client, key, key) for key in ("a", "b", "c")]
    assert run(redis_client, again, TALLY) == [Outcome.DUPLICATE, Outcome.DUPLICATE, Outcome.ACCEPTED]
    assert counts(redis_client) == {b"new": 2.0}  # something in it was new


def test_a_request_whose_every_claim_was_made_before_counts_as_a_duplicate(redis_client):
    claim(redis_client, noted(redis_client, "a", "a"))
    assert run(redis_client, [noted(redis_client, "a", "a")], TALLY) == [Outcome.DUPLICATE]
    assert counts(redis_client) == {b"duplicate": 1.0}


def test_a_request_with_nothing_to_claim_still_counts(redis_client):
    assert run(redis_client, [], TALLY) == []
    assert counts(redis_client) == {b"new": 1.0}


def test_a_count_that_cannot_be_kept_never_fails_the_claims(redis_client):
    redis_client.rpush("counts", "not a hash")
    assert run(redis_client, [noted(redis_client, "a", "a")], TALLY) == [Outcome.ACCEPTED]
    assert redis_client.hgetall("a") == {b"value": b"a"}


def test_batched_claims_behave_like_claims_sent_alone(redis_url, redis_client):
    async def three_requests() -> list[list[Outcome]]:
        batcher = Batcher(async_redis_client(redis_url))
        try:
            return await asyncio.gather(
                *(run_batched(batcher, [noted(redis_client, key, key)], TALLY) for key in ("a", "a", "b"))
            )
        finally:
            await batcher.aclose()

    assert asyncio.run(three_requests()) == [[Outcome.ACCEPTED], [Outcome.DUPLICATE], [Outcome.ACCEPTED]]
    assert counts(redis_client) == {b"new": 2.0, b"duplicate": 1.0}
    assert redis_client.lrange("arrivals", 0, -1) == [b"a", b"b"]


@pytest.mark.parametrize("batched", [False, True])
def test_an_unreachable_redis_is_storage_unavailable(batched):
    unreachable = redis_client("redis://127.0.0.1:1/0", timeout=0.2)
    prepared = prepare(unreachable, "a", note("a", "a"), what="a note")
    with pytest.raises(StorageUnavailable, match="could not store a note"):
        if batched:
            asyncio.run(
                run_batched(Batcher(async_redis_client("redis://127.0.0.1:1/0", timeout=0.2)), [prepared])
            )
        else:
            run(unreachable, [prepared])
