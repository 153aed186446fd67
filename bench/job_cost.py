"""What one job costs, without the noise of a hundred threads: `python bench/job_cost.py`.

One `bridge worker` process with a single job thread (`BRIDGE_WORKER_CONCURRENCY=1`), the sandbox
answering at once, so the figure is CPU and nothing else. S senders first write once (new
senders: their leads and conversations, measured too), then, the same stack, two rounds of known
contacts: each sender once (one job a message: the baseline), and each sender W times at once
with the worker suspended until all are stored (a customer's burst, one job for it:
`bridge.conversations.lanes`). Printed side by side: CPU a message of the worker, Valkey and the
web process (from /proc, `bench/procstat.py`), and the ratio of the burst to the baseline.
Several rounds alternate; medians. The reply catch-up is off (`BRIDGE_REPLY_CATCHUP_SECONDS=0`):
its reads every minute are no job's cost. `--profile` attaches py-spy (`--gil`) to the worker during
the known contacts' rounds and writes its raw stacks beside the run's logs.

    python bench/job_cost.py [--senders 150] [--writes 4] [--rounds 3] [--profile]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `python bench/x.py` from a clone

import redis  # noqa: E402
from rq import Worker  # noqa: E402
from rq.suspension import resume, suspend  # noqa: E402

from bench.drain import Cpu, bridge_cpu  # noqa: E402
from bench.support import Stack, delivered_text, delivering, machine_report, running_stack, wait_until  # noqa: E402
from bridge.dev.simulators import SimulatedMessage  # noqa: E402

BUSINESS = "+14155550100"


def _deliver(stack: Stack, client: redis.Redis, messages: list[tuple[str, str]], *, held: bool) -> Cpu:
    """Send `messages` (number, text), `held`: with the worker suspended until all are stored;
    the bridge's CPU until every one is in Intercom."""
    stack.sandbox("DELETE", "/requests")
    before = bridge_cpu(stack)
    if held:
        suspend(client)
    for number, text in messages:
        stack.send(SimulatedMessage(number, BUSINESS, text))
    if held:
        resume(client)
    texts = {text for _, text in messages}

    def delivered() -> bool:
        log = stack.sandbox("GET", "/requests")
        return sum(1 for e in log if delivering(e) and delivered_text(e) in texts) >= len(texts)

    wait_until(delivered, "the messages in Intercom", 600.0, every=0.5)
    time.sleep(0.5)  # the jobs' last writes after their last call
    return bridge_cpu(stack) - before


@contextmanager
def _profiled(enabled: bool, pid: int, output: Path) -> Iterator[None]:
    if not enabled or shutil.which("py-spy") is None:
        yield
        return
    command = ["py-spy", "record", "--pid", str(pid), "--gil", "--nonblocking", "-r", "250"]
    spy = subprocess.Popen([*command, "--format", "raw", "-o", str(output)], stdout=subprocess.DEVNULL)
    time.sleep(1.0)
    try:
        yield
    finally:
        spy.send_signal(2)
        spy.wait()
        print(f"profile: {output}")


def _line(name: str, cpus: list[Cpu], messages: int, baseline: float | None) -> str:
    worker = statistics.median(c.workers for c in cpus) * 1000 / messages
    valkey = statistics.median(c.valkey for c in cpus) * 1000 / messages
    web = statistics.median(c.web for c in cpus) * 1000 / messages
    total = worker + valkey + web
    ratio = f"x{total / baseline:.2f}" if baseline else "baseline"
    return f"{name:34} {total:6.2f} ms  {worker:6.2f} ms  {valkey:6.2f} ms  {web:5.2f} ms  {ratio}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--senders", type=int, default=150)
    parser.add_argument("--writes", type=int, default=4, help="messages a sender sends at once in the burst")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)
    print(machine_report(argv))
    env = {"BRIDGE_WORKER_CONCURRENCY": "1", "BRIDGE_REPLY_CATCHUP_SECONDS": "0"}
    with running_stack(env=env) as stack, redis.Redis.from_url(stack.redis_url) as client:
        with stack.workers(1):
            wait_until(lambda: Worker.count(connection=client) >= 1, "the worker to start", 120.0)
            time.sleep(2.0)
            numbers = [f"+1646555{n:04d}" for n in range(args.senders)]
            new = _deliver(stack, client, [(n, f"hello from {n[-4:]}") for n in numbers], held=False)
            single: list[Cpu] = []
            burst: list[Cpu] = []
            pid = stack.pids["worker-1"]
            with _profiled(args.profile, pid, stack.directory / "job_cost.raw"):
                for round_ in range(args.rounds):
                    once = [(n, f"once {round_} from {n[-4:]}") for n in numbers]
                    single.append(_deliver(stack, client, once, held=False))
                    many = [
                        (n, f"burst {round_}.{w} from {n[-4:]}") for w in range(args.writes) for n in numbers
                    ]
                    burst.append(_deliver(stack, client, many, held=True))
    print(f"\none worker thread, no latency, {args.senders} senders, medians of {args.rounds} rounds")
    print(f"{'CPU a message':34} {'total':>9}  {'worker':>9}  {'valkey':>9}  {'web':>8}")
    base = statistics.median(c.total for c in single) * 1000 / args.senders
    print(_line("new sender (one message each)", [new], args.senders, None).removesuffix("baseline"))
    print(_line("known contact, a job a message", single, args.senders, None))
    print(_line(f"known contact, {args.writes} at once (a job)", burst, args.senders * args.writes, base))


if __name__ == "__main__":
    main()
