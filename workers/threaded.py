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
  not the job's whole timeout), so RQ finds the dead process's jobs abandoned as quickly;
- a leak is recycled: after `BRIDGE_WORKER_MAX_JOBS` jobs, or past `BRIDGE_WORKER_MAX_MEMORY_MB`
  of resident memory, the threads finish their jobs, take no more, and the process replaces
  itself (`restart_process`: the same pid, so a supervisor or platform sees nothing happen).
"""

from __future__ import annotations

import enum
import logging
import os
import resource
import signal
import sys
import threading
import time
from types import FrameType
from typing import Any

from redis import Redis, RedisError
from redis.client import Pipeline
from rq.executions import Execution
from rq.job import Job
from rq.queue import Queue
from rq.serializers import JSONSerializer
from rq.timeouts import TimerDeathPenalty
from rq.worker.base import BaseWorker

from bridge.core.settings import Settings
from bridge.infra.queueing import QUEUES
from bridge.infra.worker_timings import worker_timings
from workers.context import JobContextSimpleWorker

log = logging.getLogger(__name__)

# How often an idle thread looks up from its blocking dequeue to see whether the process stops.
STOP_CHECK_SECONDS = 2
# How long past its timeout a job may still run before its thread counts as wedged.
HUNG_GRACE_SECONDS = 60
# How often the process's main thread looks at its threads.
MONITOR_SECONDS = 0.5


class Outcome(enum.Enum):
    DONE = "done"  # stopped on request, or drained (burst)
    RECYCLE = "recycle"  # max jobs, memory ceiling or a thread's loop ended: start afresh
    WEDGED = "wedged"  # a job outlived its timeout: start afresh without waiting for it


class ThreadWorker(JobContextSimpleWorker):
    """One of a process's job threads: RQ's in-process worker with a timeout that works off the
    main thread, heartbeats while busy, and a stop the process asks for."""

    death_penalty_class = TimerDeathPenalty

    def __init__(self, *args: Any, pool: ThreadPool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pool = pool
        self._beat_lock = threading.Lock()
        self._in_flight: tuple[Job, Execution] | None = None
        self._deadline: float | None = None

    def _install_signal_handlers(self) -> None:
        """Signals reach the main thread only: the process stops its threads (`ThreadPool`)."""

    def heartbeat(self, timeout: int | None = None, pipeline: Pipeline | None = None) -> None:
        """RQ's worker heartbeat (three commands) in one round trip. RQ sends it several times per
        job and twice per idle look at the queues (`STOP_CHECK_SECONDS`): with dozens of threads
        a process, its separate round trips were most of an idle process's CPU."""
        if pipeline is not None:
            super().heartbeat(timeout, pipeline)
            return
        with self.connection.pipeline(transaction=False) as own:
            super().heartbeat(timeout, own)
            own.execute()

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
        """RQ's blocking dequeue in short waits, so a stopping process's idle threads notice."""
        if timeout is None:  # burst: one look, no wait
            return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
        while not self._stop_requested:
            found = super().dequeue_job_and_maintain_ttl(timeout, STOP_CHECK_SECONDS)
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
    ) -> None:
        timings = worker_timings(settings.worker_ttl)
        self.job_monitoring_interval = timings.job_monitoring_interval
        self.max_jobs = settings.worker_max_jobs if max_jobs is None else max_jobs
        self.max_memory_mb = settings.worker_max_memory_mb if max_memory_mb is None else max_memory_mb
        self.workers = [
            ThreadWorker(
                list(QUEUES),
                connection=connection,
                serializer=JSONSerializer,
                name=f"{name}.{number}" if name else None,
                worker_ttl=timings.worker_ttl,
                maintenance_interval=timings.maintenance_interval,
                job_monitoring_interval=timings.job_monitoring_interval,
                pool=self,
            )
            for number in range(1, concurrency + 1)
        ]
        self.jobs_done = 0
        self._lock = threading.Lock()
        self._stopping = False
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
        """Every thread finishes the job in hand and takes no other."""
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
        # The scheduler moves delayed retries back onto the queue: one per process, started here
        # rather than from a thread (it forks its own process). The worker stops it on teardown.
        self.workers[0]._start_scheduler(burst, "WARNING")
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
        while any(thread.is_alive() for thread in threads):
            time.sleep(MONITOR_SECONDS)
            now = time.monotonic()
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
