"""Which Redis the bridge uses, and clients for it."""

from __future__ import annotations

from redis import Redis

from bridge.embedded import EmbeddedRedis, ensure_embedded_redis
from bridge.settings import Settings


def resolve_redis(settings: Settings) -> tuple[str, EmbeddedRedis | None]:
    """`REDIS_URL`, or the embedded server under `BRIDGE_DATA_DIR` (started if none is running)."""
    if settings.redis_url:
        return settings.redis_url, None
    embedded = ensure_embedded_redis(settings.data_dir)
    return embedded.url, embedded


def redis_client(url: str, *, timeout: float = 2.0) -> Redis:
    """A client with timeouts: the web side calls Redis from its event loop and must not hang."""
    return Redis.from_url(
        url, socket_timeout=timeout, socket_connect_timeout=timeout, health_check_interval=30
    )
