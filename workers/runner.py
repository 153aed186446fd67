"""Running RQ workers for the bridge's queues."""

from __future__ import annotations

import logging

from redis import Redis
from rq import SimpleWorker, Worker
from rq.serializers import JSONSerializer

from bridge.queueing import QUEUES

log = logging.getLogger(__name__)


def run_worker(
    redis_client: Redis, *, burst: bool = False, fork: bool = True, name: str | None = None
) -> bool:
    """Work the bridge's queues until stopped (or, with `burst`, until they are empty).

    The forking `Worker` isolates every job in its own process (a crash or leak cannot take the
    worker down); `fork=False` runs jobs in-process, which tests and benchmarks use.
    """
    worker_class = Worker if fork else SimpleWorker
    worker = worker_class(list(QUEUES), connection=redis_client, serializer=JSONSerializer, name=name)
    # The scheduler moves retries with a delay back onto the queue; every worker may run one.
    return bool(worker.work(burst=burst, with_scheduler=True, logging_level="WARNING"))
