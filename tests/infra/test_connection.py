"""Redis clients: the web's gives up at once when Redis is down (the webhook answers 503 and the
provider retries); a worker's waits for Redis to come back, so neither the worker nor the job in
hand fails on an outage."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
import redis
from redis._parsers.encoders import Encoder
from redis.connection import PythonRespSerializer

from bridge.infra.connection import async_redis_client, redis_client


def test_a_workers_client_waits_out_a_redis_restart(restartable_redis):
    client = redis_client(restartable_redis.connection_url, timeout=5.0, wait_out_outages=True)
    client.set("accepted", "before the outage")
    restartable_redis.stop()
    answers: list[object] = []
    call = threading.Thread(target=lambda: answers.append(client.incr("recorded")))
    call.start()
    time.sleep(1.0)
    assert call.is_alive()  # neither answered nor failed: waiting
    restartable_redis.start()
    call.join(60)
    assert answers == [1]
    assert client.get("accepted") == b"before the outage"  # AOF: what was stored survived
    client.close()


def test_the_web_client_gives_up_at_once(restartable_redis):
    client = redis_client(restartable_redis.connection_url)
    assert client.ping()
    restartable_redis.stop()
    with pytest.raises(redis.ConnectionError):
        client.ping()
    client.close()


def test_the_web_client_packs_commands_as_redis_py_does_and_round_trips_them(redis_url, redis_client):
    """The web's asyncio client packs in C (hiredis): the bytes on the wire are redis-py's own,
    and what any argument type stores reads back unchanged."""
    arguments = ("HSET", "packed", "text", "Grüße ☃", "bytes", b"\x00\xff", "int", 12, "float", 1.5)

    async def store() -> bytes:
        client = async_redis_client(redis_url)
        try:
            connection = client.connection_pool.make_connection()
            packed = b"".join(connection.pack_command(*arguments))
            await client.execute_command(*arguments)
            return packed
        finally:
            await client.aclose()

    packed = asyncio.run(store())
    assert packed == b"".join(
        PythonRespSerializer(6000, Encoder("utf-8", "strict", False).encode).pack(*arguments)
    )
    assert redis_client.hgetall("packed") == {
        b"text": "Grüße ☃".encode(),
        b"bytes": b"\x00\xff",
        b"int": b"12",
        b"float": b"1.5",
    }
