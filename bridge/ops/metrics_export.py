"""`GET /metrics`: what every process recorded (`bridge.core.metrics`), and the queues as they are now.

Read at scrape time, so any web process answers for the whole bridge: the counters and
histograms from their Redis hashes, and gauges from RQ (jobs per queue and state, the age of
the job next in line) and from the workers' heartbeats. Nothing here carries a phone number, an
id or a secret: label values are provider names, enums, queue names and endpoint templates.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector, CollectorRegistry
from redis import Redis
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.serializers import JSONSerializer

from bridge.core.metrics import SPECS, SUM_FIELD, Spec, bound_text
from bridge.infra import keys
from bridge.infra.heartbeats import heartbeats, live_workers
from bridge.infra.metrics import hash_key
from bridge.infra.queueing import QUEUES

CONTENT_TYPE = CONTENT_TYPE_LATEST

# RQ's registries counted per queue, by the state their jobs are in.
STATES = ("queued", "started", "scheduled", "failed")


def render(redis_client: Redis) -> bytes:
    """The Prometheus text exposition of everything the bridge measures."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(BridgeCollector(redis_client))
    return generate_latest(registry)


class BridgeCollector(Collector):
    """Reads the bridge's metrics from Redis on every scrape."""

    def __init__(self, redis_client: Redis) -> None:
        self._redis = redis_client

    def collect(self) -> Iterator[Metric]:
        with self._redis.pipeline(transaction=False) as pipe:
            for spec in SPECS:
                pipe.hgetall(hash_key(spec))
            stored = pipe.execute()
        for spec, fields in zip(SPECS, stored, strict=True):
            series = _series(spec, fields)
            yield _histogram(spec, series) if spec.histogram else _counter(spec, series)
        yield from _queue_gauges(self._redis)
        pending = GaugeMetricFamily(
            "bridge_webhooks_pending",
            "Webhooks stored as they arrived and not read by a worker yet (bridge.intake.raw).",
        )
        pending.add_metric([], float(self._redis.zcard(keys.WEBHOOKS_PENDING)))
        yield pending
        workers = GaugeMetricFamily(
            "bridge_workers", "Workers serving the bridge's queues that heartbeated recently."
        )
        workers.add_metric([], live_workers(heartbeats(self._redis)))
        yield workers


def _series(spec: Spec, fields: dict[bytes, bytes]) -> dict[tuple[str, ...], float]:
    """Field -> value, keyed by label values (a histogram's last is its bound or `sum`). Fields
    of another shape (written by an older version with other labels) are left out."""
    width = len(spec.labels) + (1 if spec.histogram else 0)
    series = {}
    for field, value in fields.items():
        try:
            values = json.loads(field)
            number = float(value)
        except ValueError:
            continue
        if isinstance(values, list) and len(values) == width and all(isinstance(v, str) for v in values):
            series[tuple(values)] = number
    return series


def _counter(spec: Spec, series: dict[tuple[str, ...], float]) -> Metric:
    family = CounterMetricFamily(spec.name, spec.documentation, labels=spec.labels)
    for labels, value in sorted(series.items()):
        family.add_metric(list(labels), value)
    return family


def _histogram(spec: Spec, series: dict[tuple[str, ...], float]) -> Metric:
    """Buckets are stored as counts per bucket; Prometheus wants them cumulative."""
    bounds = [*spec.buckets, math.inf]
    counts: dict[tuple[str, ...], list[float]] = defaultdict(lambda: [0.0] * len(bounds))
    sums: dict[tuple[str, ...], float] = defaultdict(float)
    for (*labels, last), value in series.items():
        key = tuple(labels)
        if last == SUM_FIELD:
            sums[key] += value
            continue
        try:
            bound = float(last)
        except ValueError:
            continue
        # The first bucket that holds it, should the buckets have changed since it was recorded.
        counts[key][next(i for i, b in enumerate(bounds) if bound <= b)] += value
    family = HistogramMetricFamily(spec.name, spec.documentation, labels=spec.labels)
    for key in sorted(counts.keys() | sums.keys()):
        running = 0.0
        buckets = []
        for bound, count in zip(bounds, counts[key], strict=True):
            running += count
            buckets.append((bound_text(bound), running))
        family.add_metric(list(key), buckets, sum_value=sums[key])
    return family


@dataclass(frozen=True)
class QueueState:
    name: str
    jobs: dict[str, int]  # by state
    oldest_age: float  # seconds the job next in line has waited; 0 when the queue is empty


def queue_states(redis_client: Redis, *, now: datetime | None = None) -> list[QueueState]:
    """Each queue's jobs by state, in one round trip (plus one job read per non-empty queue).
    Registries are counted without RQ's cleanup: a scrape must not fail abandoned jobs."""
    now = now or datetime.now(UTC)
    queues = [Queue(name, connection=redis_client, serializer=JSONSerializer) for name in QUEUES]
    with redis_client.pipeline(transaction=False) as pipe:
        for queue in queues:
            pipe.llen(queue.key)
            pipe.lindex(queue.key, 0)
            pipe.zcard(queue.started_job_registry.key)
            pipe.zcard(queue.scheduled_job_registry.key)
            pipe.zcard(queue.failed_job_registry.key)
        answers = pipe.execute()
    states = []
    for index, queue in enumerate(queues):
        queued, head, started, scheduled, failed = answers[index * 5 : index * 5 + 5]
        counts = dict(zip(STATES, (queued, started, scheduled, failed), strict=True))
        states.append(QueueState(queue.name, counts, _age(redis_client, head, now)))
    return states


def _age(redis_client: Redis, head: bytes | None, now: datetime) -> float:
    if head is None:
        return 0.0
    try:
        job = Job.fetch(head.decode(), connection=redis_client, serializer=JSONSerializer)
    except NoSuchJobError:
        return 0.0
    enqueued = job.enqueued_at
    if enqueued is None:
        return 0.0
    if enqueued.tzinfo is None:  # RQ keeps UTC; older versions without the zone
        enqueued = enqueued.replace(tzinfo=UTC)
    return max((now - enqueued).total_seconds(), 0.0)


def _queue_gauges(redis_client: Redis) -> Iterable[Metric]:
    states = queue_states(redis_client)
    jobs = GaugeMetricFamily(
        "bridge_queue_jobs",
        "Jobs per queue by state: queued (waiting), started (running), scheduled (a retry "
        "waiting for its delay), failed (in the failed registry, to replay).",
        labels=("queue", "state"),
    )
    oldest = GaugeMetricFamily(
        "bridge_queue_oldest_job_age_seconds",
        "How long the job next in line has waited in its queue; 0 when the queue is empty.",
        labels=("queue",),
    )
    for state in states:
        for name, count in state.jobs.items():
            jobs.add_metric([state.name, name], count)
        oldest.add_metric([state.name], state.oldest_age)
    return (jobs, oldest)
