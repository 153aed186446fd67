"""Liveness and readiness: ready means Redis answers and a worker heartbeated recently."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

from rq import Worker, worker_registration
from rq.serializers import JSONSerializer
from rq.utils import utcformat

from bridge.app import create_app
from bridge.core.settings import get_settings, reset_settings_cache
from bridge.infra.queueing import INBOUND_QUEUE, QUEUES
from bridge.infra.worker_timings import HEARTBEAT_FRESH_SECONDS
from bridge.runtime.serving import BackgroundServer

NO_WORKER = f"no worker has heartbeated in the last {HEARTBEAT_FRESH_SECONDS} s: start `bridge worker`"


def registered_worker(redis_client, queues=QUEUES, name="test-worker") -> Worker:
    """A worker as RQ registers one when it starts (it heartbeats at birth), without running it."""
    worker = Worker(list(queues), connection=redis_client, serializer=JSONSerializer, name=name)
    worker.register_birth()
    return worker


def test_liveness_needs_nothing_but_the_process(bridge, http):
    assert http.get(f"{bridge.url}/healthz").json() == {"status": "ok"}


def test_ready_when_redis_answers_and_a_worker_heartbeated(bridge, http, redis_client):
    registered_worker(redis_client)
    response = http.get(f"{bridge.url}/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "redis": "ok", "workers": 1}


def test_not_ready_without_a_worker_and_the_answer_says_what_to_start(bridge, http):
    response = http.get(f"{bridge.url}/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "redis": "ok", "workers": 0, "reason": NO_WORKER}


def test_a_worker_whose_last_heartbeat_is_too_old_does_not_count(bridge, http, redis_client):
    worker = registered_worker(redis_client)
    stale = datetime.now(UTC) - timedelta(seconds=HEARTBEAT_FRESH_SECONDS + 30)
    redis_client.hset(worker.key, "last_heartbeat", utcformat(stale))
    response = http.get(f"{bridge.url}/readyz")
    assert response.status_code == 503
    assert response.json()["reason"] == NO_WORKER


def test_a_worker_that_registered_its_death_does_not_count(bridge, http, redis_client):
    registered_worker(redis_client).register_death()
    assert http.get(f"{bridge.url}/readyz").status_code == 503


def test_queues_no_live_worker_serves_are_named(bridge, http, redis_client):
    registered_worker(redis_client, queues=[INBOUND_QUEUE])
    response = http.get(f"{bridge.url}/readyz")
    assert response.status_code == 503
    unserved = ", ".join(q for q in QUEUES if q != INBOUND_QUEUE)
    assert response.json()["reason"].startswith(f"no worker serving {unserved} has heartbeated")


def test_a_worker_of_another_application_does_not_count(bridge, http, redis_client):
    registered_worker(redis_client, queues=["someone-elses-queue"])
    assert http.get(f"{bridge.url}/readyz").json()["reason"] == NO_WORKER


def test_redis_down_is_not_ready_and_names_the_setting(bridge_env, monkeypatch, http):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    reset_settings_cache()
    with BackgroundServer(create_app(get_settings())) as server:
        response = http.get(f"{server.url}/readyz")
    assert response.status_code == 503
    assert response.json()["redis"] == "ConnectionError"
    assert "REDIS_URL" in response.json()["reason"]


def test_a_running_bridge_worker_makes_the_bridge_ready_until_it_stops(bridge, http, redis_client):
    worker = subprocess.Popen([sys.executable, "-m", "bridge", "worker"], env=os.environ.copy())
    try:
        ready = _wait_for(lambda: http.get(f"{bridge.url}/readyz").status_code == 200)
        # RQ registers a worker before it handles SIGTERM: stop it once it listens for jobs.
        listening = _wait_for(lambda: _states(redis_client) == [b"idle"])
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(60) == 0
    assert ready and listening
    # A worker stopped cleanly deregisters: readiness follows at once.
    assert http.get(f"{bridge.url}/readyz").json()["reason"] == NO_WORKER


def _states(redis_client) -> list[bytes | None]:
    return [redis_client.hget(key, "state") for key in worker_registration.get_keys(connection=redis_client)]


def _wait_for(condition, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_reading_heartbeats_leaves_the_web_clients_short_timeout_alone(redis_url, redis_client):
    from bridge.infra.connection import redis_client as web_client
    from bridge.infra.heartbeats import readiness

    registered_worker(redis_client)
    client = web_client(redis_url)
    assert readiness(client).ready
    assert client.connection_pool.connection_kwargs["socket_timeout"] == 2.0
