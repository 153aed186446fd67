"""The threaded worker (`workers.threaded`) on a real Redis and real RQ: several jobs in flight in
one process, a hung job cut off by its timeout, a failing job failing alone, heartbeats while
busy, a killed process's job retried with its reason, idle threads that wait without looking up
and wake when the process stops, the process recycled after its jobs, and the bridge's own jobs
through its shared clients."""

from __future__ import annotations

import os
import threading
import time

import redis
from redis.connection import Connection
from rq import Queue, Worker, get_current_job
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer

from bridge.core import metrics
from bridge.core.settings import reset_settings_cache
from bridge.infra import keys
from bridge.infra.metrics import measured_job
from bridge.infra.queueing import INBOUND_QUEUE
from bridge.ops.metrics_export import render
from tests.chaos_support import wait_for, worker_pool
from tests.helpers import SEARCHED, Samples, conversation_bodies, signed_twilio
from workers import threaded
from workers.runner import run_worker
from workers.threaded import Outcome, ThreadPool

HERE = __name__
IN_FLIGHT = 4

# The jobs below run in the test's own process (the threaded worker's threads), so they can meet
# at a barrier: it lets them through only once IN_FLIGHT of them wait at it at the same time.
_barrier = threading.Barrier(IN_FLIGHT, timeout=20)


def meet_at_barrier() -> list[object]:
    _barrier.wait()
    connection = get_current_job().connection  # type: ignore[union-attr]
    registered = [worker for worker in Worker.all(connection=connection) if worker.pid == os.getpid()]
    return [threading.current_thread().name, len(registered)]


def spin(seconds: float) -> str:
    """Python code that runs past its timeout (the bridge's waits are on sockets with timeouts)."""
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        time.sleep(0.05)
    return "not cut off"


def add(a: int, b: int) -> int:
    return a + b


def boom() -> None:
    raise RuntimeError("the job's own bug")


def execution_expiry() -> float:
    """When RQ gives up on this job's execution (unix time) without another heartbeat: past it,
    the job counts as abandoned by a dead worker."""
    job = get_current_job()
    assert job is not None
    scores = job.connection.zrange(job.started_job_registry.key, 0, -1, withscores=True)
    return float(max(score for _, score in scores))


def expiry_before_and_after_heartbeats(wait: float) -> list[float]:
    """How long the execution is kept from the job's start, and by how much heartbeats during
    `wait` seconds pushed that back."""
    first = execution_expiry()
    kept_for = first - time.time()
    time.sleep(wait)
    return [kept_for, execution_expiry() - first]


@measured_job
def call_intercom_once() -> float:
    """A job that records one Intercom call; what Redis holds of those calls while it runs."""
    metrics.current().intercom_request("POST", "/contacts/search", "200", 0.1)
    job = get_current_job()
    assert job is not None
    return Samples(render(job.connection).decode())("bridge_intercom_requests_total", **SEARCHED)


def enqueue(client: redis.Redis, function: str, *args: object, timeout: int = 60) -> Job:
    queue = Queue(INBOUND_QUEUE, connection=client, serializer=JSONSerializer)
    return queue.enqueue(f"{HERE}.{function}", *args, job_timeout=timeout)


def test_one_process_keeps_several_jobs_in_flight_each_a_registered_worker(settings, redis_client):
    jobs = [enqueue(redis_client, "meet_at_barrier") for _ in range(IN_FLIGHT)]

    run_worker(redis_client, burst=True, concurrency=IN_FLIGHT)

    # None passes the barrier unless all IN_FLIGHT wait at it at once: one thread each.
    assert [job.get_status() for job in jobs] == [JobStatus.FINISHED] * IN_FLIGHT
    results = [job.return_value() for job in jobs]
    assert len({thread for thread, _ in results}) == IN_FLIGHT
    assert all(registered == IN_FLIGHT for _, registered in results)  # what `rq info` lists


def test_a_job_past_its_timeout_is_failed_and_its_thread_takes_the_next(settings, redis_client):
    hung = enqueue(redis_client, "spin", 60, timeout=1)
    after = enqueue(redis_client, "add", 1, 2)

    assert run_worker(redis_client, burst=True, concurrency=1) is Outcome.DONE

    assert hung.get_status() == JobStatus.FAILED
    latest = hung.latest_result()
    assert latest is not None and "JobTimeoutException" in (latest.exc_string or "")
    assert after.get_status() == JobStatus.FINISHED and after.return_value() == 3


def test_a_job_that_raises_fails_alone(settings, redis_client):
    broken = enqueue(redis_client, "boom")
    after = enqueue(redis_client, "add", 2, 2)

    assert run_worker(redis_client, burst=True, concurrency=1) is Outcome.DONE

    assert broken.get_status() == JobStatus.FAILED
    assert after.get_status() == JobStatus.FINISHED and after.return_value() == 4


def test_a_busy_thread_heartbeats_its_job_so_a_dead_process_is_noticed_early(
    monkeypatch, bridge_env, redis_client
):
    # BRIDGE_WORKER_TTL=5: a busy worker heartbeats every 2 s, each keeping the execution 62 s.
    monkeypatch.setenv("BRIDGE_WORKER_TTL", "5")
    reset_settings_cache()
    job = enqueue(redis_client, "expiry_before_and_after_heartbeats", 4.5, timeout=300)

    run_worker(redis_client, burst=True, concurrency=1)

    kept_for, pushed_back = job.return_value()
    # A minute or so, not the job's whole timeout (300 s + 60, RQ's SimpleWorker's, which never
    # heartbeats); then pushed back by the heartbeats while the job ran (two or so in 4.5 s).
    assert kept_for < 120
    assert pushed_back >= 1


class CountingConnection(Connection):
    """A connection that counts its round trips (a pipeline's commands go out in one)."""

    sent = 0

    def send_packed_command(self, command: object, check_health: bool = True) -> None:
        CountingConnection.sent += 1
        super().send_packed_command(command, check_health)


def test_a_threads_heartbeat_is_one_round_trip(settings, redis_client, redis_url):
    counted = redis.Redis.from_url(redis_url)
    counted.connection_pool.connection_class = CountingConnection
    [worker] = ThreadPool(counted, settings, 1).workers
    worker.register_birth()
    counted.hdel(worker.key, "last_heartbeat")
    counted.expire(worker.key, 1)

    CountingConnection.sent = 0
    worker.heartbeat()

    assert CountingConnection.sent == 1
    assert counted.hget(worker.key, "last_heartbeat") is not None
    assert counted.ttl(worker.key) > 60
    worker.register_death()


def test_the_process_recycles_after_its_jobs(settings, redis_client):
    jobs = [enqueue(redis_client, "add", n, n) for n in range(10)]

    pool = ThreadPool(redis_client, settings, 2, max_jobs=3)
    assert pool.run() is Outcome.RECYCLE  # not burst: it stopped on its own

    done = [job for job in jobs if job.get_status() == JobStatus.FINISHED]
    # The thread that reached the limit stopped after it; the other after the job it had in hand.
    assert 3 <= pool.jobs_done == len(done) <= 4
    assert Queue(INBOUND_QUEUE, connection=redis_client).count == 10 - len(done)
    assert [w for w in Worker.all(connection=redis_client) if w.pid == os.getpid()] == []


def test_the_bridges_own_jobs_deliver_through_the_shared_clients(
    bridge, settings, sandbox, http, redis_client
):
    numbers = [f"+1415555{1000 + n}" for n in range(2 * IN_FLIGHT)]
    for number in numbers:
        message = signed_twilio(
            bridge.url, settings, text=f"hello from {number[-4:]}", sender=number, recipient="+14155550100"
        )
        assert message.send(http).status_code == 200

    run_worker(redis_client, burst=True, concurrency=IN_FLIGHT)

    bodies = [body for conversation in sandbox.conversations() for body in conversation_bodies(conversation)]
    assert sorted(bodies) == sorted(f"hello from {number[-4:]}" for number in numbers)


def busy_job_of(client: redis.Redis, pid: int, prefix: str) -> str | None:
    """The job with `prefix` one of process `pid`'s threads is running (was, if it died)."""
    for worker in Worker.all(connection=client):
        job_id = worker.get_current_job_id() if worker.pid == pid else None
        if job_id and job_id.startswith(prefix):
            return job_id
    return None


def test_a_killed_processs_job_is_retried_with_its_reason(
    monkeypatch, bridge, settings, sandbox, http, redis_client, tmp_path
):
    # Ops read why a job failed from its meta (`bridge jobs failed/show`): an abandoned one must
    # say so whichever worker model ran it and whichever found it abandoned. RQ runs the failure
    # callback under the registry's signal-based timeout, which only the main thread may set.
    monkeypatch.setenv("BRIDGE_WORKER_TTL", "5")
    monkeypatch.setenv("BRIDGE_WORKER_CONCURRENCY", "2")
    reset_settings_cache()
    sandbox.configure(latency=30.0)  # the message's first Intercom call: the kill lands inside it
    message = signed_twilio(
        bridge.url, settings, text="mid-job", sender="+14155551234", recipient="+14155550100"
    )
    assert message.send(http).status_code == 200
    with worker_pool(tmp_path / "workers") as pool:
        [victim] = pool.start(1)
        wait_for(
            lambda: busy_job_of(redis_client, victim.pid, "in-") is not None, timeout=30, what="a busy victim"
        )
        victim.kill_like_a_container()
    sandbox.configure(latency=0.0)
    job_id = busy_job_of(redis_client, victim.pid, "in-")
    assert job_id is not None
    # RQ counts the execution abandoned once its last heartbeat's expiry (a minute on) has
    # passed: moved to now rather than waited for. The dead job's hold on its sender lapses
    # sooner (two worker TTLs): waited for, so the retry delivers at its first attempt.
    started = StartedJobRegistry(INBOUND_QUEUE, connection=redis_client)
    [entry] = [key for key in redis_client.zrange(started.key, 0, -1) if key.decode().startswith(job_id)]
    redis_client.zadd(started.key, {entry: time.time() - 1})
    wait_for(
        lambda: not redis_client.keys(keys.sender_lock("*")), timeout=30, what="the sender's lock to lapse"
    )

    run_worker(redis_client, burst=True, concurrency=2)  # a survivor's threads find it and retry it

    job = Job.fetch(job_id, connection=redis_client, serializer=JSONSerializer)
    assert job.get_status() == JobStatus.FINISHED
    assert job.meta["reason"].startswith("AbandonedJobError")
    bodies = [body for conversation in sandbox.conversations() for body in conversation_bodies(conversation)]
    assert "mid-job" in bodies


def idle_threads_of(client: redis.Redis, pid: int) -> list[Worker]:
    return [w for w in Worker.all(connection=client) if w.pid == pid and w.get_state() == "idle"]


def test_idle_threads_wait_for_work_without_looking_up_and_wake_when_stopped(settings, redis_client):
    # Each used to look up from its dequeue every 2 s, a heartbeat on each side: 100 idle threads
    # cost 63 ms of CPU a second. Now they wait as long as the forking worker (45 s).
    pool = ThreadPool(redis_client, settings, 3)
    outcome: list[Outcome] = []
    runner = threading.Thread(target=lambda: outcome.append(pool.run()))
    runner.start()
    try:
        wait_for(
            lambda: len(idle_threads_of(redis_client, os.getpid())) == 3, timeout=20, what="3 idle threads"
        )
        beats = sorted(w.last_heartbeat for w in idle_threads_of(redis_client, os.getpid()))
        time.sleep(5)
        assert sorted(w.last_heartbeat for w in idle_threads_of(redis_client, os.getpid())) == beats
    finally:
        pool.stop(Outcome.DONE, "by the test")
        runner.join(timeout=20)
    assert not runner.is_alive() and outcome == [Outcome.DONE]  # woken, not after their 45 s wait
    assert [w for w in Worker.all(connection=redis_client) if w.pid == os.getpid()] == []


def test_sigterm_stops_an_idle_process_promptly(monkeypatch, bridge_env, redis_client, tmp_path):
    threads = 50  # as many as the benchmarks run: with their command channels, 100 connections
    monkeypatch.setenv("BRIDGE_WORKER_CONCURRENCY", str(threads))
    with worker_pool(tmp_path / "workers") as pool:
        [worker] = pool.start(1)
        wait_for(
            lambda: len(idle_threads_of(redis_client, worker.pid)) == threads, timeout=60, what="idle threads"
        )
        worker.request_stop()
        assert worker.process is not None
        # Idle threads wait 45 s for work: the process wakes them rather than wait that out.
        assert worker.process.wait(20) == 0, worker.log()
    assert [w for w in Worker.all(connection=redis_client) if w.pid == worker.pid] == []


def test_the_processs_jobs_store_their_counts_together_from_its_main_thread(
    settings, redis_client, monkeypatch
):
    monkeypatch.setattr(threaded, "PROCESS_FLUSH_SECONDS", 3600.0)  # only the flush at the end
    jobs = [enqueue(redis_client, "call_intercom_once") for _ in range(6)]
    before = redis_client.info("commandstats").get("cmdstat_hincrbyfloat", {}).get("calls", 0)

    run_worker(redis_client, burst=True, concurrency=2)

    after = Samples(render(redis_client).decode())
    assert after("bridge_intercom_requests_total", **SEARCHED) == 6
    assert after("bridge_job_duration_seconds_count", queue=INBOUND_QUEUE, outcome="succeeded") == 6
    # One store a series (calls; their time's bucket and sum; the jobs' bucket and sum), not one
    # a job: five, where each job stored its own five before; RQ's own statistics add one a job
    # (the worker's total_working_time).
    stores = redis_client.info("commandstats")["cmdstat_hincrbyfloat"]["calls"] - before
    assert stores == 5 + len(jobs)
    assert [job.return_value() for job in jobs] == [0] * 6  # stored when the process stopped
