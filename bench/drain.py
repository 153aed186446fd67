"""Issue 18's drain: what the bridge costs per message when a backlog meets many workers.

A backlog of S x W messages (S new senders writing W times each: 150 x 4 by default) is queued
while M `bridge worker` processes (20) stand suspended (RQ's `rq suspend`), the sandbox adding
its latency to every Intercom call; then the workers are resumed and drain it. Measured from
/proc (`bench/procstat.py`): the CPU of every bridge process (web, Valkey, workers and their
forked job processes) from before the first webhook to the moment the queues are quiet, so
intake is counted and start-up is not; the peak resident memory of the worker side, sampled
during the drain. From the sandbox's log: the steady-state Intercom calls/s (the middle 80 % of
the drain's calls, leaving out the ramps) against the bridge's own budget (90 % of
`BRIDGE_INTERCOM_CALLS_PER_MINUTE`), the 429s, and each message delivered once, in order per
sender.

The mixed drain cannot say which sender costs what, so two pure backlogs follow on the same
stack: one message from each of the S senders (now known contacts with an open conversation),
then one from each of S numbers nobody has (new senders).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from rq.suspension import resume, suspend

from bench.procstat import MemoryPeak, snapshot, tree_cpu
from bench.support import Stack, delivered_text, delivering, running_stack, wait_until
from bridge.dev.simulators import SimulatedMessage
from bridge.infra.rate_budget import SHARE
from bridge.ops.metrics_export import queue_states

BUSINESS = "+14155550100"
STEADY = (0.1, 0.9)  # the share of a drain's calls that make its steady state (ramps left out)


@dataclass(frozen=True)
class Cpu:
    """Bridge CPU seconds over one measured stretch, by kind of process."""

    web: float
    valkey: float
    workers: float  # the worker processes and every job process they forked

    @property
    def total(self) -> float:
        return self.web + self.valkey + self.workers

    def __sub__(self, other: Cpu) -> Cpu:
        return Cpu(self.web - other.web, self.valkey - other.valkey, self.workers - other.workers)


def bridge_cpu(stack: Stack) -> Cpu:
    stats = snapshot()
    return Cpu(
        web=tree_cpu([stack.pids["web"]], stats),
        valkey=tree_cpu([stack.valkey_pid], stats),
        workers=tree_cpu(stack.worker_pids(), stats),
    )


@dataclass
class Backlog:
    """One backlog drained: its messages, the CPU it cost, the calls Intercom answered."""

    texts: list[str]  # in the order sent
    senders: dict[str, str]  # text -> number
    cpu: Cpu
    resumed: float  # unix time the workers were let go
    exchanges: list[dict[str, Any]]  # the sandbox's log from the first webhook on
    commands: Counter[str] = field(default_factory=Counter)  # Redis commands run, by command

    @property
    def messages(self) -> int:
        return len(self.texts)

    def cpu_per_message(self) -> float:
        return self.cpu.total / self.messages

    def call_times(self) -> list[float]:
        return sorted(e["at"] for e in self.exchanges)

    def finished(self) -> float:
        ends = (float(e["at"]) for e in self.exchanges if delivering(e) and delivered_text(e) in self.senders)
        return max(ends)

    def steady_rate(self) -> float:
        """Calls answered per second between the 10th and 90th percentile of their times."""
        times = self.call_times()
        first, last = (round(share * (len(times) - 1)) for share in STEADY)
        return (last - first) / (times[last] - times[first]) if times[last] > times[first] else 0.0

    def calls_by_endpoint(self) -> Counter[str]:
        """Calls per message by method and path, ids replaced by `{id}`."""
        return Counter(
            f"{e['method']} {re.sub(r'/[0-9a-f-]{6,}(?=/|$)', '/{id}', e['path'])}" for e in self.exchanges
        )

    def delivery_faults(self) -> tuple[int, int, int]:
        """(messages not delivered exactly once, senders whose messages arrived out of order,
        429s)."""
        delivered = [e for e in sorted(self.exchanges, key=lambda e: e["at"]) if delivering(e)]
        counts = Counter(delivered_text(e) for e in delivered)
        not_once = sum(1 for text in self.texts if counts[text] != 1)
        arrived: dict[str, list[str]] = {}
        for exchange in delivered:
            text = delivered_text(exchange)
            if text in self.senders:
                arrived.setdefault(self.senders[text], []).append(text)
        sent: dict[str, list[str]] = {}
        for text in self.texts:
            sent.setdefault(self.senders[text], []).append(text)
        disordered = sum(1 for number, texts in sent.items() if arrived.get(number) != texts)
        return not_once, disordered, sum(1 for e in self.exchanges if e["status"] == 429)


@dataclass
class Drain:
    workers: int
    concurrency: int  # jobs in flight per worker process (threads); 0: RQ's forking worker
    senders: int
    writes: int
    latency: float
    budget: float  # calls/s the bridge allows itself
    mixed: Backlog
    known_open: Backlog
    new: Backlog
    memory: MemoryPeak
    started: dict[str, float] = field(default_factory=dict)  # start-up CPU, excluded
    reference: tuple[float, float] = (0.0, 0.0)  # `reference_cpu()` before and after

    def print(self) -> None:
        mixed = self.mixed
        seconds = mixed.finished() - mixed.resumed
        steady = mixed.steady_rate()
        times = mixed.call_times()
        middle = times[round(STEADY[0] * (len(times) - 1)) : round(STEADY[1] * (len(times) - 1)) + 1]
        not_once, disordered, limited = mixed.delivery_faults()
        print(
            f"\n== issue 18 drain: {self.senders} new senders x {self.writes} = {mixed.messages} messages, "
            f"{self.workers} workers {_model(self.concurrency)}, {self.latency * 1000:.0f} ms per call"
        )
        print(
            f"drained in {seconds:.1f} s: {mixed.messages / seconds:.1f} messages/s, "
            f"{len(mixed.exchanges)} Intercom calls ({len(mixed.exchanges) / mixed.messages:.2f} a message)"
        )
        print(
            f"steady state {steady:.1f} calls/s against the budget's {self.budget:.0f} "
            f"({steady / self.budget:.0%}; target >= 90 %; median second {median_rate(middle):.0f}); "
            f"429s {limited}; "
            f"not delivered exactly once {not_once}; senders out of order {disordered}"
        )
        print(
            f"worker side at peak ({self.memory.processes} processes): "
            f"RSS {self.memory.rss / 2**20:.0f} MiB, PSS {self.memory.pss / 2**20:.0f} MiB "
            f"({self.memory.samples} samples)"
        )
        heads = f"{'total':>8} {'web':>7} {'valkey':>7} {'workers':>8} {'target':>7}"
        print(f"{'bridge CPU per message':<34} {heads}")
        rows = [
            ("mixed drain (all messages)", mixed, "<= 5"),
            ("known contact, open conversation", self.known_open, "<= 3"),
            ("new sender", self.new, "-"),
        ]
        for label, backlog, target in rows:
            cpu, n = backlog.cpu, backlog.messages
            print(
                f"{label:<34} {_ms(cpu.total / n):>8} {_ms(cpu.web / n):>7} {_ms(cpu.valkey / n):>7} "
                f"{_ms(cpu.workers / n):>8} {target:>7}"
            )
        for label, backlog, _ in rows:
            total = sum(backlog.commands.values()) / backlog.messages
            each = ", ".join(
                f"{name} {n / backlog.messages:.1f}" for name, n in backlog.commands.most_common(12)
            )
            print(f"Redis commands per message, {label}: {total:.1f} ({each}, …)")
        for label, backlog, _ in rows:
            calls = backlog.calls_by_endpoint()
            each = ", ".join(f"{path} {n / backlog.messages:.2f}" for path, n in calls.most_common())
            print(f"Intercom calls per message, {label}: {each}")
        print("start-up CPU, excluded: " + ", ".join(f"{k} {v:.1f} s" for k, v in self.started.items()))
        load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
        before, after = (_ms(seconds) for seconds in self.reference)
        print(f"machine: reference loop {before} of CPU before, {after} after; load average now {load}")


def _model(concurrency: int) -> str:
    if concurrency > 0:
        return f"x {concurrency} threads ({concurrency} jobs in flight each, BRIDGE_WORKER_CONCURRENCY)"
    return "(forking: one job in flight each)"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def measure(
    workers: int,
    senders: int,
    writes: int,
    latency: float,
    *,
    concurrency: int = 0,
    profile: Callable[[int], AbstractContextManager[None]] | None = None,
) -> Drain:
    """Start a stack and M suspended workers, then drain the three backlogs.

    `concurrency` above 0 runs each worker process threaded (`BRIDGE_WORKER_CONCURRENCY`), so
    M x `concurrency` jobs are in flight; 0 is RQ's forking worker, the default."""
    reference = reference_cpu()
    env = {"BRIDGE_WORKER_CONCURRENCY": str(concurrency)}
    with running_stack(env=env) as stack, redis.Redis.from_url(stack.redis_url) as client:
        stack.sandbox("PUT", "/config", json={"latency": latency})
        suspend(client)
        cpu_before_workers = bridge_cpu(stack)
        with stack.workers(workers):
            # A threaded process registers each of its threads as an RQ worker.
            _wait_registered(client, workers * max(concurrency, 1))
            started = bridge_cpu(stack) - cpu_before_workers
            numbers = [f"+1646555{n:04d}" for n in range(senders)]
            mixed_texts = [(n, f"load {w} from {n[-4:]}") for w in range(writes) for n in numbers]
            with MemoryPeak(stack.worker_pids()) as memory:
                with _profiled(profile, stack):
                    mixed = _backlog(stack, client, mixed_texts)
            known = _backlog(stack, client, [(n, f"known from {n[-4:]}") for n in numbers])
            fresh = [f"+1718555{n:04d}" for n in range(senders)]
            new = _backlog(stack, client, [(n, f"new from {n[-4:]}") for n in fresh])
    calls_per_second = settings_budget(stack)
    return Drain(
        workers,
        concurrency,
        senders,
        writes,
        latency,
        calls_per_second,
        mixed,
        known,
        new,
        memory,
        {
            "web and Valkey (before)": cpu_before_workers.web + cpu_before_workers.valkey,
            f"{workers} workers": started.workers,
        },
        (reference, reference_cpu()),
    )


def reference_cpu() -> float:
    """CPU seconds of a fixed piece of pure Python (JSON and dict work, like a job's), the best
    of three: how fast this machine runs Python right now. A shared machine's speed varies from
    run to run (see docs/benchmarks.md); CPU figures of two runs compare through this one."""
    document = {"type": "user", "body": "<p>bench message</p>", "contact": {"id": "x" * 24}}
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        for _ in range(20_000):
            json.loads(json.dumps(document))
        best = min(best, time.process_time() - started)
    return best


def settings_budget(stack: Stack) -> float:
    """Calls a second the bridge books: its share of `BRIDGE_INTERCOM_CALLS_PER_MINUTE`."""
    return stack.settings.intercom_calls_per_minute * SHARE / 60


def py_spy(
    output: Path, *, rate: int = 100, gil: bool = False
) -> Callable[[int], AbstractContextManager[None]]:
    """A profiler for `measure`: py-spy samples a worker and the job processes it forks, in
    py-spy's raw (collapsed stacks) format, `rate` times a second.

    `gil` samples only the thread holding the GIL, for a threaded worker: otherwise its dozens
    of threads waiting on a socket (for Redis, for Intercom) count as busy, hiding the CPU."""

    @contextmanager
    def profiling(pid: int) -> Iterator[None]:
        spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        command = [spy, "record", "--pid", str(pid), "--subprocesses", "--format", "raw"]
        if gil:
            command.append("--gil")
        process = subprocess.Popen(
            [*command, "--rate", str(rate), "--nonblocking", "--output", str(output)],
            stdout=subprocess.DEVNULL,
        )
        try:
            yield
        finally:
            process.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
            process.wait(60)

    return profiling


@contextmanager
def _profiled(profile: Callable[[int], AbstractContextManager[None]] | None, stack: Stack) -> Iterator[None]:
    """Run `profile(pid of the first worker)` (a context manager) around the block, if given."""
    if profile is None:
        yield
        return
    with profile(stack.pids["worker-1"]):
        yield


def _wait_registered(client: redis.Redis, count: int) -> None:
    """Until `count` workers are registered (their imports and preload done), then a second
    for the rest of their start-up."""
    from rq import Worker

    wait_until(lambda: Worker.count(connection=client) >= count, "the workers to start", 300.0)
    time.sleep(1.0)


def _backlog(stack: Stack, client: redis.Redis, messages: list[tuple[str, str]]) -> Backlog:
    """Queue `messages` (number, text) with the workers suspended, let them go, and wait until
    every message is in Intercom and the queues are quiet.

    A suspended RQ worker already waiting on its queues (BLPOP) still takes the next job, so up
    to one job per worker starts before the resume: its CPU and calls are counted all the same."""
    suspend(client)
    stack.sandbox("DELETE", "/requests")
    commands = command_counts(client)
    before = bridge_cpu(stack)
    for number, text in messages:
        stack.send(SimulatedMessage(number, BUSINESS, text))
    resumed = time.time()
    resume(client)
    texts = {text for _, text in messages}

    def delivered() -> bool:
        if any(state.jobs.get("failed") for state in queue_states(client)):
            raise SystemExit(f"a job failed during the drain: see the logs in {stack.directory}")
        log = stack.sandbox("GET", "/requests")
        return sum(1 for e in log if delivering(e) and delivered_text(e) in texts) >= len(texts)

    wait_until(delivered, f"the backlog in Intercom (logs: {stack.directory})", 900.0, every=1.0)
    wait_until(lambda: _quiet(client), "the queues to be quiet", 60.0, every=0.2)
    cpu = bridge_cpu(stack) - before
    commands = command_counts(client) - commands
    exchanges = stack.sandbox("GET", "/requests")  # cleared before the first webhook
    return Backlog([t for _, t in messages], {t: n for n, t in messages}, cpu, resumed, exchanges, commands)


def command_counts(client: redis.Redis) -> Counter[str]:
    """Commands the server has run since it started, by command (`INFO commandstats`). Over a
    backlog they include the benchmark's own: its webhooks' intake and a look at the queues
    every second."""
    stats = client.info("commandstats")
    return Counter({name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()})


def _quiet(client: redis.Redis) -> bool:
    return all(
        not state.jobs.get("queued") and not state.jobs.get("started") for state in queue_states(client)
    )


def median_rate(times: list[float]) -> float:
    """Median calls per whole second between the first and last call (for the noise figure)."""
    if not times:
        return 0.0
    per_second = Counter(int(t) for t in times)
    seconds = range(int(times[0]) + 1, int(times[-1]))
    return statistics.median(per_second[s] for s in seconds) if len(seconds) else 0.0
