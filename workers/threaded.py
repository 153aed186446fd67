"""`bridge worker`'s threaded model: one process keeps several jobs in flight, none forked.

A delivery is almost all waiting (on Intercom, on a provider); RQ's forking worker spends a
fork and tens of MB on each job in flight (about 10 ms of CPU per job, research/engineering.md
§1.3). Here a process runs `BRIDGE_WORKER_CONCURRENCY` threads, each an RQ `SimpleWorker` of
its own (registered as RQ registers any worker, so `rq info` and the dashboards show each),
sharing the process's Redis pool and pooled HTTP clients (`workers.context.SharedClients`).

Crash isolation, without a process per job:
- a job that raises fails alone: RQ catches it in the thread, which takes the next job;
- a job that overruns its timeout gets `JobTimeoutException` raised in its thread (RQ's
  `TimerDeathPenalty`): at the next Python instruction it runs, so a call blocked in C (a socket
  read) is cut off when it returns, and every call the bridge makes has its own timeout. One
  still running `HUNG_GRACE_SECONDS` past its timeout has wedged its thread: the process starts
  afresh, its jobs in flight left to RQ's abandoned-job retry as a killed worker's are;
- a process killed mid-job loses nothing: each thread heartbeats its job as the forking
  worker's parent does (every `job_monitoring_interval`, the execution kept for that plus 60 s,
  not the job's whole timeout), so RQ finds the dead process's jobs abandoned as quickly, and
  records why as it does for the forking worker's: RQ's maintenance runs an abandoned job's
  failure callback under a SIGALRM timeout, which only a main thread may set (from a job
  thread the callback failed and the job was retried without its reason), so the process's
  main thread runs the maintenance for all its threads;
- a leak is recycled: after `BRIDGE_WORKER_MAX_JOBS` jobs, or past `BRIDGE_WORKER_MAX_MEMORY_MB`
  of resident memory, the threads finish their jobs, take no more, and the process replaces
  itself (`restart_process`: the same pid, so a supervisor or platform sees nothing happen).

The jobs' metrics go to one held sink the main thread stores once a second (and when the
process stops), not one round trip a job (`bridge.infra.metrics.share_job_metrics`).

Idle threads cost little: each waits in RQ's blocking dequeue as long as the forking worker
does (`worker_ttl - 15` s, its heartbeat on each side), and a stopping process wakes them at
once through a key of its own that every thread's BLPOP also watches (`WakeableQueue`). They
used to look up every 2 s to see whether the process stopped: 100 idle threads (2 processes x
50) cost 63 ms of CPU a second that way.
"""

from __future__ import annotations

import enum
import logging
import math
import os
import resource
import signal
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from types import FrameType
from typing import Any, ClassVar

from redis import Redis, RedisError
from redis.client import Pipeline
from rq.exceptions import DequeueTimeout
from rq.executions import Execution
from rq.job import Job, JobStatus
from rq.queue import Queue
from rq.serializers import JSONSerializer
from rq.timeouts import TimerDeathPenalty
from rq.utils import as_text, now
from rq.worker.base import BaseWorker, WorkerStatus

from bridge.core.settings import Settings
from bridge.infra import keys
from bridge.infra.metrics import PROCESS_FLUSH_SECONDS, RedisSink, share_job_metrics
from bridge.infra.queueing import QUEUES
from bridge.infra.worker_timings import worker_timings
from workers.context import JobContextSimpleWorker

log = logging.getLogger(__name__)

# How long past its timeout a job may still run before its thread counts as wedged.
HUNG_GRACE_SECONDS = 60
# A thread's heartbeats closer than this to its last are skipped (`ThreadWorker.heartbeat`).
HEARTBEAT_SPACING_SECONDS = 5.0
# How often the process's main thread looks at its threads.
MONITOR_SECONDS = 0.5
# A list the process pushes one token per thread to when it stops; gone a minute after (tokens
# of busy threads, which stop after their job without dequeuing, are never taken).
WAKE_TTL_SECONDS = 60
# Redis connections a process needs beside two per thread (its dequeue or job's, and RQ's
# command channel, a pubsub each): the main thread's (heartbeats, maintenance, the wake), the
# reply catch-up's, some slack.
SPARE_CONNECTIONS = 8


class WakeableQueue(Queue):
    """RQ's queue, whose blocking dequeue also returns, empty-handed, when its process stops.

    RQ waits for work on several queues with one BLPOP (BLMOVE, which takes one key, only for a
    single queue: the pool always listens on the bridge's three). Adding the process's wake key
    to it costs nothing while idle; a token popped from it makes the dequeue return no job, and
    the thread sees its stop. Each pool makes its own subclass (`wake_key`)."""

    wake_key: ClassVar[str | None] = None

    @classmethod
    def lpop(
        cls, queue_keys: Sequence[str], timeout: int | None, connection: Redis | None = None
    ) -> tuple[Any, Any] | None:
        if timeout is None or cls.wake_key is None or connection is None:
            return super().lpop(queue_keys, timeout, connection=connection)  # type: ignore[no-any-return]
        result = connection.blpop([*queue_keys, cls.wake_key], timeout)
        if result is None:
            raise DequeueTimeout(timeout, queue_keys)
        queue_key, job_id = result
        if as_text(queue_key) == cls.wake_key:
            return None
        return queue_key, job_id


class Outcome(enum.Enum):
    DONE = "done"  # stopped on request, or drained (burst)
    RECYCLE = "recycle"  # max jobs, memory ceiling or a thread's loop ended: start afresh
    WEDGED = "wedged"  # a job outlived its timeout: start afresh without waiting for it


class ThreadWorker(JobContextSimpleWorker):
    """One of a process's job threads: RQ's in-process worker with a timeout that works off the
    main thread, heartbeats while busy, and a stop the process asks for."""

    death_penalty_class = TimerDeathPenalty
    # RQ's bookkeeping left out or merged (each method says how); `RQBookkeeping` has none,
    # for `bench/rq_overhead.py` to measure against. Looked at and kept: the worker's
    # statistics (HINCRBY successful_job_count, HINCRBYFLOAT total_working_time: two commands
    # in a transaction RQ sends anyway, within the bench's noise, and rq-dashboard shows them).
    cuts: ClassVar[frozenset[str]] = frozenset({"heartbeats", "state", "ended"})

    def __init__(self, *args: Any, pool: ThreadPool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pool = pool
        self._last_beat = -math.inf
        # Well inside the shortest TTL a heartbeat sets (`job_monitoring_interval + 60`).
        self._beat_spacing = min(HEARTBEAT_SPACING_SECONDS, self.job_monitoring_interval / 2)
        self._beat_lock = threading.Lock()
        self._in_flight: tuple[Job, Execution] | None = None
        self._deadline: float | None = None

    def _install_signal_handlers(self) -> None:
        """Signals reach the main thread only: the process stops its threads (`ThreadPool`)."""

    def heartbeat(self, timeout: int | None = None, pipeline: Pipeline | None = None) -> None:
        """RQ's worker heartbeat (three commands) in one round trip, and none a few seconds after
        the last: RQ sends one before and after each dequeue and after each job, besides the one
        in the job's preparation (always sent: it is in that round trip), so most of a busy
        thread's were for a key refreshed a moment before. A skipped one leaves the worker's key
        at least `worker_ttl + 55` s to live, and a thread heartbeats again before its next
        blocking wait (at most `worker_ttl - 15` s) or, busy, from the main thread (`beat`)."""
        if pipeline is not None:
            super().heartbeat(timeout, pipeline)
            self._last_beat = time.monotonic()
            return
        if "heartbeats" in self.cuts and time.monotonic() - self._last_beat < self._beat_spacing:
            return
        with self.connection.pipeline(transaction=False) as own:
            super().heartbeat(timeout, own)
            own.execute()
        self._last_beat = time.monotonic()

    def set_state(self, state: str, pipeline: Pipeline | None = None) -> None:
        """RQ's state (busy, idle), not written again as it is: RQ writes "idle" after each job
        and again before each dequeue, each in a round trip of its own; the first now goes
        with the job's last transaction (`cleanup_execution`), the others are skipped. `rq
        info` and the dashboards read the same states at the same moments."""
        if "state" in self.cuts and pipeline is None and state == self._state:
            return
        super().set_state(state, pipeline)

    def handle_execution_ended(self, job: Job, queue: Queue, heartbeat_ttl: int) -> None:
        """RQ's, which also heartbeats the job (a round trip of its own) to keep it alive
        while its success or failure callback runs: only when there is one to run. The end
        time is stored with the job's status in the transaction that follows, as before.
        (An RQ internal, called from `perform_job`: hence the rq upper bound.)"""
        callback = (
            job.failure_callback
            if job.get_status(refresh=False) == JobStatus.FAILED
            else job.success_callback
        )
        if "ended" in self.cuts and callback is None:
            job.ended_at = now()
            return
        super().handle_execution_ended(job, queue, heartbeat_ttl)

    @property
    def should_run_maintenance_tasks(self) -> bool:
        """Never from a job thread: the process's main thread runs RQ's maintenance
        (`ThreadPool.maintain`), where an abandoned job's failure callback can run."""
        return False

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        # The forking worker's: a killed process's job is found abandoned a minute after its
        # last heartbeat, not after its whole timeout (SimpleWorker's, which never heartbeats).
        return BaseWorker.get_heartbeat_ttl(self, job, working_time)

    def prepare_execution(self, job: Job) -> Execution:
        execution = super().prepare_execution(job)
        with self._beat_lock:
            self._in_flight = (job, execution)
        return execution

    def cleanup_execution(self, job: Job, pipeline: Any, execution: Execution | None = None) -> None:
        # Under the lock: a heartbeat must not bring back the execution RQ is removing.
        with self._beat_lock:
            self._in_flight = None
        super().cleanup_execution(job, pipeline, execution)
        if "state" in self.cuts:
            # Idle with the job's last transaction (success, failure or retry), not after it.
            super().set_state(WorkerStatus.IDLE, pipeline)

    def execute_job(self, job: Job, queue: Queue) -> None:
        self._deadline = time.monotonic() + (job.timeout or Queue.DEFAULT_TIMEOUT)
        try:
            super().execute_job(job, queue)
        finally:
            with self._beat_lock:
                self._in_flight = None
            self._deadline = None
            self._pool.job_done()

    def dequeue_job_and_maintain_ttl(
        self, timeout: int | None, max_idle_time: int | None = None
    ) -> tuple[Job, Queue] | None:
        """RQ's blocking dequeue, until a job comes or the process stops (`WakeableQueue`)."""
        if timeout is None or max_idle_time is not None:  # burst or an idle limit: RQ's own
            return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
        while not self._stop_requested:
            found = super().dequeue_job_and_maintain_ttl(timeout)
            if found is not None:
                return found
        return None

    def beat(self) -> None:
        """The busy worker's heartbeat (worker, execution, job), as the forking worker's parent
        sends it while its work horse runs."""
        with self._beat_lock:
            if self._in_flight is None:
                return
            job, execution = self._in_flight
            try:
                self.maintain_heartbeats(job, execution)
            except RedisError as exc:  # the next one may pass; a missed one is tolerated
                log.warning("heartbeat of job %s failed: %s", job.id, type(exc).__name__)

    def overdue(self, now: float) -> bool:
        deadline = self._deadline
        return deadline is not None and now > deadline + HUNG_GRACE_SECONDS

    def request_stop_after_job(self) -> None:
        self._stop_requested = True


class RQBookkeeping(ThreadWorker):
    """A `ThreadWorker` that keeps RQ's bookkeeping as RQ does it (the heartbeat in one round
    trip aside): the baseline `bench/rq_overhead.py` measures the cuts against."""

    cuts: ClassVar[frozenset[str]] = frozenset()


class ThreadPool:
    """`concurrency` `ThreadWorker`s in this process, watched by the calling (main) thread."""

    def __init__(
        self,
        connection: Redis,
        settings: Settings,
        concurrency: int,
        *,
        name: str | None = None,
        max_jobs: int | None = None,
        max_memory_mb: int | None = None,
        worker_class: type[ThreadWorker] | None = None,
    ) -> None:
        timings = worker_timings(settings.worker_ttl)
        self.connection = connection
        # redis-py's pool stops at 100 connections unless told otherwise: 50 idle threads held
        # them all, and the main thread could no longer heartbeat busy jobs or wake idle ones.
        pool = connection.connection_pool
        pool.max_connections = max(pool.max_connections, 2 * concurrency + SPARE_CONNECTIONS)
        self.job_monitoring_interval = timings.job_monitoring_interval
        self.maintenance_interval = timings.maintenance_interval
        self.wake_key = keys.worker_wake(uuid.uuid4().hex)
        queue_class = type("WakeableQueue", (WakeableQueue,), {"wake_key": self.wake_key})
        self.max_jobs = settings.worker_max_jobs if max_jobs is None else max_jobs
        self.max_memory_mb = settings.worker_max_memory_mb if max_memory_mb is None else max_memory_mb
        self.workers = [
            (worker_class or ThreadWorker)(
                list(QUEUES),
                connection=connection,
                serializer=JSONSerializer,
                name=f"{name}.{number}" if name else None,
                worker_ttl=timings.worker_ttl,
                maintenance_interval=timings.maintenance_interval,
                job_monitoring_interval=timings.job_monitoring_interval,
                queue_class=queue_class,
                pool=self,
            )
            for number in range(1, concurrency + 1)
        ]
        self.jobs_done = 0
        self._lock = threading.Lock()
        self._stopping = False
        self._woken = False
        self._outcome = Outcome.DONE

    def job_done(self) -> None:
        with self._lock:
            self.jobs_done += 1
            done = self.jobs_done
        if self.max_jobs and done >= self.max_jobs:
            self.stop(Outcome.RECYCLE, f"after {done} jobs (BRIDGE_WORKER_MAX_JOBS)")
            return
        rss = resident_mb()
        if self.max_memory_mb and rss > self.max_memory_mb:
            self.stop(Outcome.RECYCLE, f"at {rss:.0f} MB resident (BRIDGE_WORKER_MAX_MEMORY_MB)")

    def stop(self, outcome: Outcome, why: str) -> None:
        """Every thread finishes the job in hand and takes no other. Called from a signal
        handler or a job thread, so no Redis here: the main thread wakes the idle ones."""
        with self._lock:
            if self._stopping:
                return
            self._stopping = True
            self._outcome = outcome
        log.info("worker process %d stopping %s", os.getpid(), why)
        for worker in self.workers:
            worker.request_stop_after_job()

    def run(self, *, burst: bool = False) -> Outcome:
        """Work until stopped (or, with `burst`, until the queues are empty)."""
        handlers = {}
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                handlers[signum] = signal.signal(signum, self._on_signal)
        try:
            return self._run(burst)
        finally:
            for signum, handler in handlers.items():
                signal.signal(signum, handler)

    def _run(self, burst: bool) -> Outcome:
        # The jobs' counts go to one sink, stored from here (`share_job_metrics`).
        job_metrics = share_job_metrics(self.connection)
        try:
            return self._work(burst, job_metrics)
        finally:
            share_job_metrics(None)
            if job_metrics is not None:
                job_metrics.flush()

    def _work(self, burst: bool, job_metrics: RedisSink | None) -> Outcome:
        # The scheduler moves delayed retries back onto the queue: one per process, started here
        # rather than from a thread (it forks its own process). The worker stops it on teardown.
        self.workers[0]._start_scheduler(burst, "WARNING")
        if burst:
            # It enqueued what was due and started no process: keep maintenance from starting one,
            # which would outlive a burst.
            self.workers[0].scheduler = None
        self.maintain()  # before any thread looks: a dead process's jobs are queued again first
        threads = [
            threading.Thread(
                target=worker.work,
                kwargs={"burst": burst, "logging_level": "WARNING"},
                name=f"job-{number}",
                daemon=True,
            )
            for number, worker in enumerate(self.workers, start=1)
        ]
        for thread in threads:
            thread.start()
        next_beat = time.monotonic() + self.job_monitoring_interval
        next_maintenance = time.monotonic() + self.maintenance_interval
        next_flush = time.monotonic() + PROCESS_FLUSH_SECONDS
        while any(thread.is_alive() for thread in threads):
            time.sleep(MONITOR_SECONDS)
            if self._stopping and not self._woken:
                self._wake()
            now = time.monotonic()
            if job_metrics is not None and now >= next_flush:
                job_metrics.flush()
                next_flush = now + PROCESS_FLUSH_SECONDS
            if now >= next_maintenance and not self._stopping:
                self.maintain()
                next_maintenance = time.monotonic() + self.maintenance_interval
            if now >= next_beat:
                for worker in self.workers:
                    worker.beat()
                next_beat = now + self.job_monitoring_interval
            if any(worker.overdue(now) for worker in self.workers):
                log.error(
                    "a job outlived its timeout by %d s: restarting the worker process", HUNG_GRACE_SECONDS
                )
                return Outcome.WEDGED
            if not burst and not self._stopping and not all(thread.is_alive() for thread in threads):
                # RQ ended a thread's loop (it quits on some Redis errors): start afresh.
                self.stop(Outcome.RECYCLE, "after a job thread ended")
        return self._outcome

    def maintain(self) -> None:
        """RQ's maintenance, once per process, from its main thread: abandoned jobs (a dead
        worker's) failed with their reason and retried, registries cleaned, the scheduler
        restarted if it died. RQ runs the failure callback under a SIGALRM timeout, which only a
        main thread may set (`bridge worker` runs the pool there; a pool run from another
        thread, as some tests do, retries an abandoned job without recording why)."""
        try:
            self.workers[0].run_maintenance_tasks()  # type: ignore[no-untyped-call]
        except RedisError as exc:  # the next round may pass; a job thread's dequeue says more
            log.warning("worker maintenance failed: %s", type(exc).__name__)

    def _wake(self) -> None:
        """A token per thread on the process's wake key: each idle thread's dequeue takes one
        and returns. Without Redis, the idle threads see the stop at their next look."""
        self._woken = True
        try:
            with self.connection.pipeline(transaction=False) as pipe:
                pipe.rpush(self.wake_key, *["stop"] * len(self.workers))
                pipe.expire(self.wake_key, WAKE_TTL_SECONDS)
                pipe.execute()
        except RedisError as exc:
            log.warning("could not wake the idle job threads: %s", type(exc).__name__)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self._stopping:
            # A second signal: stop now. The jobs in hand are retried as a killed worker's are.
            raise SystemExit(1)
        self.stop(Outcome.DONE, f"on {signal.Signals(signum).name} (a second one stops at once)")


def resident_mb() -> float:
    """This process's resident memory now (Linux), else its peak."""
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def restart_process() -> None:
    """Replace this process with a fresh one running the same command: the same pid, so a
    supervisor, a container or the chaos tests' kill see one worker throughout."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])
