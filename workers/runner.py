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
from bridge.model.phones import written_exit_codes
from workers.catchup import CatchupLoop
from workers.context import JobContextSimpleWorker, JobContextWorker, shared_clients
from workers.threaded import Outcome, ThreadPool, restart_process

# What `bridge worker` (bridge.cli, which may import this module only) uses.
__all__ = ["Outcome", "preload", "restart_process", "run_worker"]

log = logging.getLogger(__name__)


def run_worker(
    redis_client: Redis,
    *,
    burst: bool = False,
    fork: bool = True,
    name: str | None = None,
    concurrency: int = 0,
) -> Outcome:
    """Work the bridge's queues until stopped (or, with `burst`, until they are empty).

    `concurrency` above 0 keeps that many jobs in flight in this process, each in a thread
    (`workers.threaded`, what `bridge worker` runs with `--concurrency N` or
    `BRIDGE_WORKER_CONCURRENCY=N`), sharing pooled HTTP clients. Otherwise (0, the default) one
    job at a time: the forking `Worker` isolates every job in its own process;
    `fork=False` runs it in-process, which tests and benchmarks use. The short worker TTL and
    maintenance interval get a job abandoned by a killed worker retried within about three
    minutes instead of ten or more (`bridge.infra.heartbeats`; `BRIDGE_WORKER_TTL` shortens them
    for tests that kill workers).

    Beside the queues, a worker that is not draining (`burst`) runs the reply catch-up
    (`workers.catchup`), once per process, unless `BRIDGE_REPLY_CATCHUP_SECONDS` is 0. What the
    threaded model returns says whether the process should start afresh (`Outcome`).
    """
    settings = get_settings()
    preload()
    catchup = CatchupLoop(redis_client, settings) if not burst and settings.reply_catchup > 0 else None
    if catchup is not None:
        catchup.start()
    try:
        if concurrency > 0:
            with shared_clients(settings, pool_size=concurrency):
                return ThreadPool(redis_client, settings, concurrency, name=name).run(burst=burst)
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
        # The scheduler moves retries with a delay back onto the queue; every worker may run one.
        worker.work(burst=burst, with_scheduler=True, logging_level="WARNING")
        return Outcome.DONE
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
    # phonenumbers' metadata of every region, which a contact search reads: loaded lazily, it was
    # two thirds of a new sender's job (bench/e2e.py's drain, profiled), paid again in every fork.
    written_exit_codes()
