"""Running RQ workers for the bridge's queues."""

from __future__ import annotations

import logging

from redis import Redis
from rq.serializers import JSONSerializer

from bridge.heartbeats import MAINTENANCE_INTERVAL_SECONDS, WORKER_TTL_SECONDS
from bridge.queueing import QUEUES
from workers.context import JobContextSimpleWorker, JobContextWorker

log = logging.getLogger(__name__)


def run_worker(
    redis_client: Redis, *, burst: bool = False, fork: bool = True, name: str | None = None
) -> bool:
    """Work the bridge's queues until stopped (or, with `burst`, until they are empty).

    The forking `Worker` isolates every job in its own process (a crash or leak cannot take the
    worker down); `fork=False` runs jobs in-process, which tests and benchmarks use. The short
    worker TTL and maintenance interval get a job abandoned by a killed worker retried within
    about three minutes instead of ten or more (`bridge.heartbeats`).
    """
    worker_class = JobContextWorker if fork else JobContextSimpleWorker
    worker = worker_class(
        list(QUEUES),
        connection=redis_client,
        serializer=JSONSerializer,
        name=name,
        worker_ttl=WORKER_TTL_SECONDS,
        maintenance_interval=MAINTENANCE_INTERVAL_SECONDS,
    )
    # The scheduler moves retries with a delay back onto the queue; every worker may run one.
    return bool(worker.work(burst=burst, with_scheduler=True, logging_level="WARNING"))
