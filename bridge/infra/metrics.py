"""The metric store: where the bridge's measurements (`bridge.core.metrics`) are kept, in Redis.

Here and not beside the definitions: storing needs redis (and a job's recorder needs rq), which
the lower layers that record must not load; they record through `bridge.core.metrics.current()`
and only the processes that own a Redis client plug this store in (the web app: `redis_metrics`
in its lifespan; every RQ job: `measured_job`).

Why Redis and not prometheus-client's in-process counters: the bridge runs several web processes
and several RQ workers, and the forking worker runs every job in a fresh process that exits when
the job ends, so in-process counts would be split across processes or lost outright. Every
process adds to the same few Redis hashes instead (one pipelined round trip per event), and any
web process reads them all when Prometheus scrapes (`bridge.ops.metrics_export`).

Recording never breaks the work it measures: a Redis error is logged at debug level and the
event is dropped.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import ParamSpec, TypeVar

from redis import Redis, RedisError
from rq import get_current_job

from bridge.core import metrics
from bridge.core.metrics import (
    WEBHOOKS,
    Increment,
    JobOutcome,
    Metrics,
    Spec,
    WebhookKind,
    WebhookOutcome,
    series_field,
)
from bridge.infra import keys
from bridge.infra.claims import Tally

log = logging.getLogger(__name__)


def hash_key(spec: Spec) -> str:
    """The Redis hash holding `spec`'s series (`bridge_` is left out of the key)."""
    return keys.metric(spec.name.removeprefix("bridge_"))


class RedisSink:
    """Adds increments to the metrics' Redis hashes, one pipelined round trip per event.

    `held`: kept in memory until `flush`, as one round trip (what a job's recorder does, see
    `measured_job`)."""

    def __init__(self, redis_client: Redis, *, held: bool = False) -> None:
        self._redis = redis_client
        self._tallies: dict[tuple[str, WebhookKind, WebhookOutcome, WebhookOutcome], Tally] = {}
        self._held: dict[tuple[str, str], float] | None = {} if held else None
        self._lock = threading.Lock()  # a process's job threads may share one held sink

    def add(self, increments: Sequence[Increment]) -> None:
        if self._held is None:
            self._store(_summed({}, increments))
            return
        with self._lock:
            _summed(self._held, increments)

    def flush(self) -> None:
        """Store what was held (nothing when not `held`)."""
        with self._lock:
            sums, self._held = self._held, ({} if self._held is not None else None)
        if sums:
            self._store(sums)

    def _store(self, sums: dict[tuple[str, str], float]) -> None:
        try:
            with self._redis.pipeline(transaction=False) as pipe:
                for (key, field), amount in sums.items():
                    pipe.hincrbyfloat(key, field, amount)
                pipe.execute()
        except RedisError as exc:
            log.debug("metrics not recorded: %s", type(exc).__name__)

    def webhook_tally(
        self, provider: str, kind: WebhookKind, *, if_new: WebhookOutcome, if_duplicate: WebhookOutcome
    ) -> Tally:
        """`Metrics.webhook`, counted by the script that stores what the webhook carried, in the
        same command (`bridge.infra.claims.Tally`): a webhook makes one round trip, not two."""
        # Made once per combination: every webhook asks, and two JSON encodings per request
        # were a tenth of the intake's own work (`bench/ingest.py`).
        key = (provider, kind, if_new, if_duplicate)
        tally = self._tallies.get(key)
        if tally is None:
            tally = self._tallies[key] = Tally(
                hash_key(WEBHOOKS),
                if_new=series_field((provider, kind.value, if_new.value)),
                if_duplicate=series_field((provider, kind.value, if_duplicate.value)),
            )
        return tally


def _summed(
    sums: dict[tuple[str, str], float], increments: Sequence[Increment]
) -> dict[tuple[str, str], float]:
    for spec, values, amount in increments:
        field = (hash_key(spec), series_field(values))
        sums[field] = sums.get(field, 0.0) + amount
    return sums


# The held sink every job of this process records into, when the process keeps several jobs in
# flight (`workers.threaded`): stored every `PROCESS_FLUSH_SECONDS` by the process's main thread
# rather than at each job's end. None: each job holds and stores its own (the forking worker's
# jobs run in processes that end with them).
_process_sink: RedisSink | None = None
PROCESS_FLUSH_SECONDS = 1.0


def share_job_metrics(redis_client: Redis | None) -> RedisSink | None:
    """Make every job of this process record into one held sink on `redis_client` (None: each
    job its own again); the sink, for its owner to `flush` now and then and when it stops.

    A job's counts were one round trip and eight to ten HINCRBYFLOATs at its end; a threaded
    process pays them once a second instead. A process killed loses up to that second's counts
    (a forking worker's killed job loses its own)."""
    global _process_sink
    _process_sink = RedisSink(redis_client, held=True) if redis_client is not None else None
    return _process_sink


def redis_metrics(redis_client: Redis | None) -> Metrics:
    """A recorder into `redis_client`'s hashes; one that records nothing without a client."""
    return Metrics(RedisSink(redis_client) if redis_client is not None else None)


def webhook_tally(
    provider: str, kind: WebhookKind, *, if_new: WebhookOutcome, if_duplicate: WebhookOutcome
) -> Tally | None:
    """How the store of a webhook counts it for the current recorder (`RedisSink.webhook_tally`).
    None when that recorder does not store into Redis: only Redis's can count inside the script
    that stores the webhook, and the bridge installs no other kind (the default records nothing)."""
    sink = metrics.current().sink
    if not isinstance(sink, RedisSink):
        return None
    return sink.webhook_tally(provider, kind, if_new=if_new, if_duplicate=if_duplicate)


P = ParamSpec("P")
R = TypeVar("R")


def measured_job(function: Callable[P, R]) -> Callable[P, R]:
    """An RQ job function, timed by queue and outcome, recording into its job's Redis.

    A wrapper rather than an RQ hook: it works the same in the forking worker (the job runs in
    the work horse) and in-process, and a job that raises, times out or is stopped is counted
    as failed whatever RQ does next.

    What the job records (its Intercom calls, its deliveries, its own duration) is held and
    stored when it ends, in one round trip: one per event was about a tenth of a threaded
    worker's CPU in issue 18's drain. A worker killed mid-job loses that job's counts. In a
    process whose jobs share a sink (`share_job_metrics`), its owner stores them."""

    @functools.wraps(function)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        job = get_current_job()
        shared = _process_sink
        sink = shared or (RedisSink(job.connection, held=True) if job is not None else None)
        recorder = Metrics(sink)
        queue = str(job.origin) if job is not None else ""
        with metrics.scoped(recorder):
            started = time.perf_counter()
            outcome = JobOutcome.FAILED
            try:
                result = function(*args, **kwargs)
                outcome = JobOutcome.SUCCEEDED
                return result
            finally:
                recorder.job(queue, outcome, time.perf_counter() - started)
                if sink is not None and sink is not shared:
                    sink.flush()

    return run
