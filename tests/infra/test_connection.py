"""Redis clients: the web's gives up at once when Redis is down (the webhook answers 503 and the
provider retries); a worker's waits for Redis to come back, so neither the worker nor the job in
hand fails on an outage."""

from __future__ import annotations

import threading
import time

import pytest
import redis

from bridge.infra.connection import redis_client


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
