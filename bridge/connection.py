"""Which Redis the bridge uses, and clients for it."""

from __future__ import annotations

from redis import Redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from bridge.embedded import EmbeddedRedis, ensure_embedded_redis
from bridge.settings import Settings


def resolve_redis(settings: Settings) -> tuple[str, EmbeddedRedis | None]:
    """`REDIS_URL`, or the embedded server under `BRIDGE_DATA_DIR` (started if none is running)."""
    if settings.redis_url:
        return settings.redis_url, None
    embedded = ensure_embedded_redis(settings.data_dir)
    return embedded.url, embedded


def redis_client(url: str, *, timeout: float = 2.0) -> Redis:
    """A client with timeouts and two quick reconnection attempts.

    The web side calls Redis from its event loop: a Redis that is down must turn into a 503 (so
    the provider retries) within a fraction of a second, not after redis-py's default backoff.
    """
    return Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        health_check_interval=30,
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), retries=2),
    )


def read_hash(client: Redis, key: str) -> dict[str, str]:
    """A hash as text (the bridge's clients keep bytes, which RQ requires)."""
    raw = client.hgetall(key)
    return {_text(name): _text(value) for name, value in raw.items()}


def read_list(client: Redis, key: str) -> list[str]:
    return [_text(item) for item in client.lrange(key, 0, -1)]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
