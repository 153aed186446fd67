"""RQ's bookkeeping in the threaded worker (`workers.threaded.ThreadWorker`), on a real Redis:
fewer commands a job than RQ sends, and what ops read unchanged (a finished job's status, end
time and registry; a failed job's reason, registry and the worker's failed count; `rq info`'s
worker list with each worker's state)."""

from __future__ import annotations

import os
from typing import Any

import redis
from redis.connection import Connection
from rq import Callback, Queue, Worker, get_current_job
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry, FinishedJobRegistry
from rq.serializers import JSONSerializer

from bridge.core.settings import Settings
from bridge.infra.queueing import INBOUND_QUEUE, RECORD_FAILURE
from workers.threaded import RQBookkeeping, ThreadPool, ThreadWorker

HERE = __name__


def add(a: int, b: int) -> int:
    return a + b


def boom() -> None:
    raise RuntimeError("the job's own bug")


def own_worker_state() -> list[str]:
    """The state and name `rq info` shows for the worker running this job, read while it runs."""
    job = get_current_job()
    assert job is not None and job.worker_name
    [worker] = [w for w in Worker.all(connection=job.connection) if w.name == job.worker_name]
    return [worker.get_state(), worker.name]


class CountingConnection(Connection):
    """Counts the commands it sends (one alone, or each of a pipeline's) and its round trips."""

    commands = 0
    round_trips = 0

    def send_command(self, *args: Any, **kwargs: Any) -> None:
        CountingConnection.commands += 1
        super().send_command(*args, **kwargs)

    def pack_commands(self, commands: Any) -> Any:
        commands = list(commands)
        CountingConnection.commands += len(commands)
        return super().pack_commands(commands)

    def send_packed_command(self, command: object, check_health: bool = True) -> None:
        CountingConnection.round_trips += 1
        super().send_packed_command(command, check_health)


def enqueue(client: redis.Redis, function: str, *args: object, **options: Any) -> Job:
    queue = Queue(INBOUND_QUEUE, connection=client, serializer=JSONSerializer)
    return queue.enqueue_call(f"{HERE}.{function}", args=args, timeout=60, **options)


def run_counted(redis_url: str, settings: Settings, worker: type[ThreadWorker], jobs: int) -> tuple[int, int]:
    """Commands and round trips of one burst run of `jobs` jobs on one thread."""
    counted = redis.Redis.from_url(redis_url)
    counted.connection_pool.connection_class = CountingConnection
    for n in range(jobs):
        enqueue(counted, "add", n, n)
    CountingConnection.commands = CountingConnection.round_trips = 0
    ThreadPool(counted, settings, 1, worker_class=worker, max_jobs=0, max_memory_mb=0).run(burst=True)
    counted.close()
    return CountingConnection.commands, CountingConnection.round_trips


def per_job(redis_url: str, settings: Settings, worker: type[ThreadWorker]) -> tuple[float, float]:
    """Commands and round trips a job: the difference between 30 jobs and 10, so the run's own
    start and end (registration, maintenance, the command channel) drop out."""
    few, many = run_counted(redis_url, settings, worker, 10), run_counted(redis_url, settings, worker, 30)
    return (many[0] - few[0]) / 20, (many[1] - few[1]) / 20


def test_a_job_costs_fewer_redis_commands_and_round_trips_than_rqs_bookkeeping(settings, redis_url):
    rq_commands, rq_round_trips = per_job(redis_url, settings, RQBookkeeping)
    commands, round_trips = per_job(redis_url, settings, ThreadWorker)

    # RQ 3.0's own: 56 commands in 14 round trips.
    assert rq_commands >= 54 and rq_round_trips >= 13
    # Without the heartbeats a moment after the last, the idle state written twice in round
    # trips of its own and the job's heartbeat when no callback follows: 45 commands in 8.
    assert commands <= rq_commands - 10
    assert round_trips <= rq_round_trips - 5


def test_a_finished_job_reads_as_before(settings, redis_client):
    job = enqueue(redis_client, "add", 2, 3)
    watched = enqueue(redis_client, "own_worker_state")

    ThreadPool(redis_client, settings, 1, max_jobs=0, max_memory_mb=0).run(burst=True)

    job.refresh()
    assert job.get_status() == JobStatus.FINISHED and job.return_value() == 5
    assert job.started_at is not None and job.ended_at is not None and job.ended_at >= job.started_at
    assert job.id in FinishedJobRegistry(INBOUND_QUEUE, connection=redis_client).get_job_ids()
    watched.refresh()
    # `rq info` listed its worker, busy, while it ran.
    assert watched.return_value() == ["busy", watched.worker_name]


def test_a_thread_is_idle_once_its_job_is_done_and_listed_throughout(settings, redis_client):
    pool = ThreadPool(redis_client, settings, 1, max_jobs=0, max_memory_mb=0)
    [worker] = pool.workers
    worker.register_birth()
    try:
        job = enqueue(redis_client, "add", 1, 1)
        queue = Queue(INBOUND_QUEUE, connection=redis_client, serializer=JSONSerializer)
        job = Job.fetch(job.id, connection=redis_client, serializer=JSONSerializer)

        worker.execute_job(job, queue)

        [listed] = [w for w in Worker.all(connection=redis_client) if w.name == worker.name]
        assert listed.get_state() == "idle" and listed.pid == os.getpid()
        assert listed.last_heartbeat is not None
        assert job.get_status() == JobStatus.FINISHED
    finally:
        worker.register_death()


def test_a_failed_job_keeps_its_reason_registry_and_count(settings, redis_client):
    [worker] = ThreadPool(redis_client, settings, 1, max_jobs=0, max_memory_mb=0).workers
    worker.register_birth()
    try:
        broken = enqueue(redis_client, "boom", on_failure=Callback(RECORD_FAILURE), failure_ttl=3600)
        queue = Queue(INBOUND_QUEUE, connection=redis_client, serializer=JSONSerializer)

        worker.execute_job(Job.fetch(broken.id, connection=redis_client, serializer=JSONSerializer), queue)

        broken.refresh()
        assert broken.get_status() == JobStatus.FAILED and broken.ended_at is not None
        assert broken.id in FailedJobRegistry(INBOUND_QUEUE, connection=redis_client).get_job_ids()
        assert broken.meta["reason"] == "RuntimeError: the job's own bug"  # the failure callback ran
        latest = broken.latest_result()
        assert latest is not None and "the job's own bug" in (latest.exc_string or "")
        assert redis_client.hget(worker.key, "failed_job_count") == b"1"  # kept
        assert redis_client.hget(worker.key, "state") == b"idle"
    finally:
        worker.register_death()
