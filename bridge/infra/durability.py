"""Acknowledged means durable: what a webhook's answer waits for after its write (`BRIDGE_ACK_AFTER`).

- `write`: Redis answered the write. It is in the primary's memory: a host that dies loses what
  the append-only file had not fsynced yet (up to a second with `appendfsync everysec`), and a
  failover loses what had not reached the replica.
- `fsync`: `WAITAOF 1 0 <timeout>`: the primary's append-only file holds the write on disk.
- `replica`: `WAIT 1 <timeout>`: at least one replica holds it.

The wait is a group commit: `bridge.infra.batching` ends each batch's pipeline, on the same
connection, with one wait that covers every request of the batch, so a busy web process waits
once per round trip, not once per webhook. Under `write` nothing is added to the pipeline.

Both commands wait for the writes of their own connection (its last write's replication
offset). A request may have written nothing there although what it depends on is not durable
yet: a provider's retry after a 503 is a duplicate whose first copy is still on its way to the
replica, and Intercom's state changes are written by the web process's other client. So each
wait follows a write of its own (`INCR bridge:acks`), whose offset is the primary's latest: the
wait covers every write made before it, on any connection.

The time allowed (`BRIDGE_ACK_TIMEOUT_MS`) runs from when the batch's oldest request asked, so
a request that waited for the round trip before its own is not given the whole timeout again.
When the answer falls short, every request of the batch fails with `NotDurable`: a 503, the
provider sends the request again, and the retry is a duplicate the ledgers already handle.

`appendfsync everysec` and WAITAOF: the fsync happens once a second, and some servers confirm
WAITAOF before it (Valkey 9.1.2 does, seen with strace: WAITAOF answered every 100 ms, one
fdatasync a second; Redis fixed it in redis/redis#13793). `fsync` therefore wants
`appendfsync always`, which the embedded server runs with (`bridge.runtime.embedded`), and
`bridge doctor` says so (`bridge.ops.doctor`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import redis
from redis import Redis

from bridge.core.errors import NotDurable
from bridge.core.settings import Settings
from bridge.infra import keys
from bridge.infra.batching import Command

AckAfter = Literal["write", "fsync", "replica"]


def ack_after(settings: Settings, *, embedded: bool) -> AckAfter:
    """`BRIDGE_ACK_AFTER`, or its default: `fsync` on the embedded server, which runs with the
    append-only file fsynced at every write (`bridge.runtime.embedded`), `write` on any other
    Redis, whose persistence and replicas the bridge does not choose."""
    if settings.ack_after is not None:
        return settings.ack_after
    return "fsync" if embedded else "write"


@dataclass(frozen=True)
class Durability:
    """What each batch of writes waits for before its requests are answered (`fsync` or
    `replica`; under `write` there is no `Durability` and nothing waits)."""

    after: Literal["fsync", "replica"]
    timeout_ms: int

    @classmethod
    def required(cls, settings: Settings, *, embedded: bool) -> Durability | None:
        """The settings' durability; None for `write`."""
        after = ack_after(settings, embedded=embedded)
        if after == "write":
            return None
        return cls(after, settings.ack_timeout_ms)

    @property
    def command_name(self) -> str:
        return "WAITAOF" if self.after == "fsync" else "WAIT"

    def time_left(self, asked_at: float) -> int:
        """Milliseconds the wait may take for a batch whose oldest request asked at `asked_at`
        (monotonic); at least 1, as 0 would make Redis wait for ever."""
        spent = int((time.monotonic() - asked_at) * 1000)
        return max(1, self.timeout_ms - spent)

    def commands(self, timeout_ms: int) -> list[Command]:
        """The write that makes the wait cover everything written before it, then the wait."""
        wait: Command = ("WAITAOF", 1, 0, timeout_ms) if self.after == "fsync" else ("WAIT", 1, timeout_ms)
        return [("INCR", keys.ACKS), wait]

    def check(self, answers: Sequence[Any]) -> None:
        """`NotDurable` unless `commands`' answers confirm the durability asked for."""
        for answer in answers:
            if isinstance(answer, Exception):  # WAITAOF without appendonly, an unknown command, OOM
                raise self._not_durable(f"{type(answer).__name__}: {answer}")
        wait = answers[-1]
        # WAITAOF answers [local fsyncs, replica fsyncs]; WAIT the replicas that have the write.
        if self.after == "fsync" and int(wait[0]) < 1:
            raise self._not_durable("the primary did not confirm the fsync")
        if self.after == "replica" and int(wait) < 1:
            raise self._not_durable("no replica acknowledged the write")

    def _not_durable(self, why: str) -> NotDurable:
        return NotDurable(
            f"could not confirm the write durable (BRIDGE_ACK_AFTER={self.after}, {self.command_name}, "
            f"within BRIDGE_ACK_TIMEOUT_MS={self.timeout_ms}): {why}"
        )


# --- what a Redis supports, for `bridge doctor` ---


@dataclass(frozen=True)
class RedisDurability:
    """What a Redis offers the durability modes."""

    server: str  # "Valkey 9.1.2", "Redis 7.4.1"
    has_waitaof: bool  # Redis >= 7.2 (Valkey reports the Redis version it is compatible with)
    appendonly: bool
    appendfsync: str | None  # "always", "everysec", "no"; None from a Redis that refuses CONFIG
    role: str  # "master" (a primary, as INFO names it) or "slave"
    replicas_online: int


def redis_durability(client: Redis) -> RedisDurability:
    """Ask `client`'s Redis what it offers (INFO, and CONFIG GET where it is allowed)."""
    server: dict[str, Any] = client.info("server")
    redis_version = str(server.get("redis_version", "0"))
    valkey_version = server.get("valkey_version")
    persistence: dict[str, Any] = client.info("persistence")
    replication: dict[str, Any] = client.info("replication")
    online = sum(
        1
        for key, value in replication.items()
        if key.startswith("slave") and isinstance(value, dict) and value.get("state") == "online"
    )
    return RedisDurability(
        server=f"Valkey {valkey_version}" if valkey_version else f"Redis {redis_version}",
        has_waitaof=_version(redis_version) >= (7, 2),
        appendonly=str(persistence.get("aof_enabled")) == "1",
        appendfsync=_config(client, "appendfsync"),
        role=str(replication.get("role", "?")),
        replicas_online=online,
    )


def _version(text: str) -> tuple[int, ...]:
    numbers = []
    for part in text.split(".")[:2]:
        digits = "".join(char for char in part if char.isdigit())
        numbers.append(int(digits or 0))
    return tuple(numbers)


def _config(client: Redis, name: str) -> str | None:
    """`CONFIG GET name`; None from a managed Redis that refuses CONFIG."""
    try:
        answer: dict[Any, Any] = client.config_get(name)
    except redis.ResponseError:
        return None
    value = answer.get(name, answer.get(name.encode()))
    return value.decode() if isinstance(value, bytes) else (None if value is None else str(value))


def confirm_once(client: Redis, durability: Durability) -> float:
    """Make one durable write as the web process does (the mark, then the wait) and return how
    many milliseconds it took; `NotDurable` if it was not confirmed within the timeout."""
    started = time.monotonic()
    pipe = client.pipeline(transaction=False)
    for command in durability.commands(durability.timeout_ms):
        pipe.execute_command(*command)  # type: ignore[no-untyped-call]
    answers = pipe.execute(raise_on_error=False)
    durability.check(answers)
    return (time.monotonic() - started) * 1000
