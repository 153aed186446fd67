"""Running RQ workers for the bridge's queues."""

from __future__ import annotations

import logging
from importlib import import_module

import httpx
from redis import Redis
from rq.serializers import JSONSerializer

from bridge.core.settings import get_settings
from bridge.core.tls import tls_context
from bridge.infra.queueing import JOB_FUNCTIONS, QUEUES
from bridge.infra.worker_timings import worker_timings
from workers.catchup import CatchupLoop
from workers.context import JobContextSimpleWorker, JobContextWorker

log = logging.getLogger(__name__)


def run_worker(
    redis_client: Redis, *, burst: bool = False, fork: bool = True, name: str | None = None
) -> bool:
    """Work the bridge's queues until stopped (or, with `burst`, until they are empty).

    The forking `Worker` isolates every job in its own process (a crash or leak cannot take the
    worker down); `fork=False` runs jobs in-process, which tests and benchmarks use. The short
    worker TTL and maintenance interval get a job abandoned by a killed worker retried within
    about three minutes instead of ten or more (`bridge.infra.heartbeats`; `BRIDGE_WORKER_TTL` shortens
    them for tests that kill workers).

    Beside the queues, a worker that is not draining (`burst`) runs the reply catch-up
    (`workers.catchup`) unless `BRIDGE_REPLY_CATCHUP_SECONDS` is 0.
    """
    settings = get_settings()
    timings = worker_timings(settings.worker_ttl)
    worker_class = JobContextWorker if fork else JobContextSimpleWorker
    worker = worker_class(
        list(QUEUES),
        connection=redis_client,
        serializer=JSONSerializer,
        name=name,
        worker_ttl=timings.worker_ttl,
        maintenance_interval=timings.maintenance_interval,
        job_monitoring_interval=timings.job_monitoring_interval,
    )
    preload()
    catchup = CatchupLoop(redis_client, settings) if not burst and settings.reply_catchup > 0 else None
    if catchup is not None:
        catchup.start()
    try:
        # The scheduler moves retries with a delay back onto the queue; every worker may run one.
        return bool(worker.work(burst=burst, with_scheduler=True, logging_level="WARNING"))
    finally:
        if catchup is not None:
            catchup.stop()


def preload() -> None:
    """Load, once and before forking, what every job would otherwise load afresh in its own
    process: the job functions' modules (RQ imports a job's function by name), the TLS context
    (`bridge.core.tls`) and httpx's transport, which imports httpcore (and trio, when installed) on
    first use. Measured with the chaos tests' traffic on two cores, that was three quarters of a
    job's time: a worker delivered about 5 messages a second, and 15 with it preloaded."""
    for function in JOB_FUNCTIONS:
        import_module(function.rsplit(".", 1)[0])
    httpx.Client(verify=tls_context()).close()
