"""Whether workers are alive: RQ's worker heartbeats, read from its registries, against the
timings in `bridge.infra.worker_timings`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from redis import Redis, RedisError
from rq import worker_registration
from rq.utils import utcparse

from bridge.infra.queueing import QUEUES
from bridge.infra.worker_timings import HEARTBEAT_FRESH_SECONDS


@dataclass(frozen=True)
class Heartbeat:
    """A registered worker's last heartbeat and the queues it serves."""

    worker: str
    queues: frozenset[str]
    at: datetime

    def fresh(self, now: datetime) -> bool:
        return now - self.at <= timedelta(seconds=HEARTBEAT_FRESH_SECONDS)


def heartbeats(redis_client: Redis) -> list[Heartbeat]:
    """Every registered worker serving one of the bridge's queues.

    Read from RQ's registry directly rather than with `Worker.all`: building a `Worker` raises
    its connection's socket timeout to its dequeue timeout plus 10 s (minutes, by default), and
    the web app's client must keep its 2 s one so a Redis outage answers 503 at once."""
    worker_keys = sorted(worker_registration.get_keys(connection=redis_client))
    if not worker_keys:
        return []
    with redis_client.pipeline(transaction=False) as pipe:
        for key in worker_keys:
            pipe.hmget(key, "last_heartbeat", "queues")
        rows = pipe.execute()
    found = []
    for key, (beat, queues) in zip(worker_keys, rows, strict=True):
        if not beat:
            continue  # the key expired: the worker is gone and RQ has not cleaned up yet
        served = frozenset(_text(queues).split(",")) & frozenset(QUEUES)
        if served:
            found.append(Heartbeat(worker=key, queues=served, at=utcparse(_text(beat))))
    return found


def missing_workers(beats: Iterable[Heartbeat], *, now: datetime | None = None) -> str | None:
    """Why the bridge's jobs would not run (no live worker serves a queue), or None."""
    now = now or datetime.now(UTC)
    live = [beat for beat in beats if beat.fresh(now)]
    unserved = [queue for queue in QUEUES if not any(queue in beat.queues for beat in live)]
    if not unserved:
        return None
    serving = "" if len(unserved) == len(QUEUES) else f" serving {', '.join(unserved)}"
    return (
        f"no worker{serving} has heartbeated in the last {HEARTBEAT_FRESH_SECONDS} s: start `bridge worker`"
    )


def live_workers(beats: Iterable[Heartbeat], *, now: datetime | None = None) -> int:
    now = now or datetime.now(UTC)
    return sum(1 for beat in beats if beat.fresh(now))


@dataclass(frozen=True)
class Readiness:
    """What `/readyz` answers: ready when Redis answers and live workers serve every queue."""

    redis: str = "ok"  # or the error's type name
    workers: int = 0  # workers that heartbeated within HEARTBEAT_FRESH_SECONDS
    reason: str | None = None  # why not ready

    @property
    def ready(self) -> bool:
        return self.reason is None

    def to_json(self) -> dict[str, object]:
        body: dict[str, object] = {"status": "ok" if self.ready else "unavailable", "redis": self.redis}
        if self.redis == "ok":
            body["workers"] = self.workers
        if self.reason:
            body["reason"] = self.reason
        return body


def readiness(redis_client: Redis, *, now: datetime | None = None) -> Readiness:
    """Whether a webhook accepted now would be stored and then delivered."""
    try:
        redis_client.ping()
        beats = heartbeats(redis_client)
    except RedisError as exc:
        name = type(exc).__name__
        return Readiness(redis=name, reason=f"Redis does not answer ({name}): check REDIS_URL")
    return Readiness(workers=live_workers(beats, now=now), reason=missing_workers(beats, now=now))


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else value
