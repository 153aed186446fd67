"""Which Redis the bridge uses, and clients for it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio
import redis.asyncio.retry
from redis import Redis
from redis.asyncio.connection import AbstractConnection, Connection, SSLConnection, UnixDomainSocketConnection
from redis.backoff import ExponentialBackoff
from redis.connection import HiredisRespSerializer
from redis.retry import Retry
from redis.utils import HIREDIS_AVAILABLE

# Where the embedded server (`bridge.runtime.embedded`) writes the URL it serves on, under
# `BRIDGE_DATA_DIR`: how a second process (`bridge doctor`, a CLI command) finds it.
URL_FILE = "redis.url"


def safe_url(url: str) -> str:
    """`url` without its password (`redis://:***@host:6379/0`), to print or log."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def redis_client(url: str, *, timeout: float = 2.0, wait_out_outages: bool = False) -> Redis:
    """A client with timeouts and two quick reconnection attempts, or, `wait_out_outages`, as
    many as it takes (one a second once the backoff is up).

    The web side calls Redis from its event loop: a Redis that is down must turn into a 503 (so
    the provider retries) within a fraction of a second, not after redis-py's default backoff.
    Workers must do the opposite and wait: RQ's worker quits on a connection error anywhere but
    its dequeue (a blink of Redis would stop every worker for good), and a job that failed
    between Intercom's answer and the write that records it would repeat that call on its retry.
    Waiting, the job records it once Redis is back, and the worker carries on.
    """
    retries = -1 if wait_out_outages else 2  # redis-py: a negative count retries forever
    cap = 1.0 if wait_out_outages else 0.2
    return Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        health_check_interval=30,
        retry=Retry(ExponentialBackoff(cap=cap, base=0.02), retries=retries),
    )


def async_redis_client(url: str, *, timeout: float = 2.0, wait_ms: int = 0) -> redis.asyncio.Redis:
    """The web process's client for its event loop (`bridge.infra.batching`): the same timeouts and
    quick reconnection attempts as `redis_client`'s, so a Redis that is down is a 503 at once,
    while a round trip in flight never holds up the other requests. A round trip may also hold a
    WAIT or WAITAOF of up to `wait_ms` (`bridge.infra.durability`): the socket waits that longer."""
    client = redis.asyncio.Redis.from_url(
        url,
        socket_timeout=timeout + wait_ms / 1000,
        socket_connect_timeout=timeout,
        health_check_interval=30,
        retry=redis.asyncio.retry.Retry(ExponentialBackoff(cap=0.2, base=0.02), retries=2),
    )
    pool = client.connection_pool
    # After `from_url`, which picks the class by the URL's scheme (TCP, TLS, unix socket).
    if HIREDIS_AVAILABLE:
        pool.connection_class = _HIREDIS_PACKING.get(pool.connection_class, pool.connection_class)
    return client


class _HiredisPacking:
    """Packs commands in C, as redis-py's synchronous connections do when hiredis is installed;
    its asyncio connections pack in Python whatever is installed. The web process's one command
    per webhook has some thirty arguments: packing them was a sixth of its CPU (py-spy)."""

    _packer = HiredisRespSerializer()

    def pack_command(self, *args: Any) -> list[bytes]:
        packed: list[bytes] = self._packer.pack(*args)
        return packed


_HIREDIS_PACKING: dict[type[AbstractConnection], type[AbstractConnection]] = {
    base: type(f"HiredisPacking{base.__name__}", (_HiredisPacking, base), {})
    for base in (Connection, SSLConnection, UnixDomainSocketConnection)
}


def read_hash(client: Redis, key: str) -> dict[str, str]:
    """A hash as text (the bridge's clients keep bytes, which RQ requires)."""
    return hash_text(client.hgetall(key))


def hash_text(raw: Mapping[bytes | str, bytes | str]) -> dict[str, str]:
    """An HGETALL's answer as text (one read in a pipeline, say)."""
    return {_text(name): _text(value) for name, value in raw.items()}


def read_list(client: Redis, key: str) -> list[str]:
    return list_text(client.lrange(key, 0, -1))


def list_text(raw: Iterable[bytes | str]) -> list[str]:
    """An LRANGE's answer as text."""
    return [_text(item) for item in raw]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
