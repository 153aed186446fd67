"""One Intercom call budget shared by every worker: calls per 10-second window, with and without.

The sandbox enforces Intercom's rate limit scaled down (`--limit` calls a minute, counted in
10-second windows: 300 a minute is 50 a window) and answers 429 past it, with Intercom's
headers. A backlog of `--messages` messages from new numbers (three Intercom calls each: search,
create the lead, open the conversation) is queued first; then M `bridge worker` processes drain
it, once with the bridge's budget set to that limit (`BRIDGE_INTERCOM_CALLS_PER_MINUTE`, of which
the bridge books 90 %), and once with it off (`0`), the baseline: each worker on its own,
waiting out its own 429s. Each run starts from nothing (Valkey, sandbox, web app, workers).

Printed per run: the calls the sandbox counted in each of its windows and the 429s among them,
the drain time, and for the windows wholly inside the drain (the first and last are partial) the
calls answered per window, as a share of the bridge's budget and of Intercom's limit.

    python bench/rate_budget.py                  # 300 calls/min, 100 messages, 1, 2, 4, 8 workers
    python bench/rate_budget.py --quick          # 30 messages, 1 and 4 workers (about 3 minutes)
    python bench/rate_budget.py --workers 8 --no-baseline
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `python bench/x.py` from a clone

from bench.support import machine_report, running_stack  # noqa: E402
from bridge.dev.simulators import SimulatedMessage  # noqa: E402
from bridge.infra.rate_budget import SHARE, slots_per_window  # noqa: E402

BUSINESS = "+14155550100"
WINDOW_SECONDS = 10.0


@dataclass(frozen=True)
class Drain:
    """What one run measured."""

    workers: int
    budget: bool
    messages: int
    delivered_once: int  # messages found in exactly one of Intercom's conversations
    seconds: float  # from starting the workers to the last message in Intercom
    windows: list[tuple[int, int]]  # per sandbox window, first call to last: (calls, 429s)
    bridge_429s: float  # 429s the bridge counted (bridge_api_rate_limited_total)
    waited_budget: float  # seconds waited for budget slots, all workers together
    waited_429: float  # seconds waited for 429 windows to reset
    job_failures: float  # job attempts that failed (RQ retried them later)

    @property
    def calls(self) -> int:
        return sum(calls for calls, _ in self.windows)

    @property
    def limited(self) -> int:
        return sum(limited for _, limited in self.windows)

    def answered_per_full_window(self) -> float | None:
        """Mean calls answered (not 429) per window wholly inside the drain; None if none was."""
        full = self.windows[1:-1]
        return statistics.mean(calls - limited for calls, limited in full) if full else None


def drain(workers: int, *, budget: bool, limit: int, messages: int, latency: float) -> Drain:
    env = {"BRIDGE_INTERCOM_CALLS_PER_MINUTE": str(limit) if budget else "0"}
    with running_stack(env=env) as stack:
        stack.sandbox("PUT", "/config", json={"latency": latency})
        texts = [f"bench message {n}" for n in range(messages)]
        for n, text in enumerate(texts):
            stack.send(SimulatedMessage(f"+1212555{n:04d}", BUSINESS, text))
        # The backlog is queued; Intercom's windows are counted from here.
        stack.sandbox(
            "POST", "/rate_limit", json={"per_window": limit // 6, "window_seconds": WINDOW_SECONDS}
        )
        with stack.workers(workers):
            seconds = stack.wait_until(lambda: len(stack.conversations()) >= messages, "the backlog drained")
        bodies = Counter(c["source"]["body"] for c in stack.conversations())
        return Drain(
            workers=workers,
            budget=budget,
            messages=messages,
            delivered_once=sum(1 for text in texts if bodies[text] == 1),
            seconds=seconds,
            windows=_windows(stack.sandbox("GET", "/rate_limit")["windows"]),
            bridge_429s=stack.metric("bridge_api_rate_limited_total", service="intercom"),
            waited_budget=stack.metric("bridge_api_retry_wait_seconds_total", reason="budget"),
            waited_429=stack.metric("bridge_api_retry_wait_seconds_total", reason="rate_limit"),
            job_failures=stack.metric("bridge_job_duration_seconds_count", outcome="failed"),
        )


def _windows(tallies: list[dict[str, float]]) -> list[tuple[int, int]]:
    """Every window from the first with a call to the last, empty ones included."""
    by_start = {round(t["start"] / WINDOW_SECONDS): (int(t["calls"]), int(t["limited"])) for t in tallies}
    if not by_start:
        return []
    return [by_start.get(index, (0, 0)) for index in range(min(by_start), max(by_start) + 1)]


def report(run: Drain, limit: int) -> None:
    share, per_window = slots_per_window(limit), limit // 6
    budget = f"budget on: {share} calls a window" if run.budget else "budget off (baseline)"
    plural = "s" if run.workers > 1 else ""
    print(f"\n== {run.workers} worker{plural}, {budget}; the sandbox allows {per_window}")
    delivered = "each once" if run.delivered_once == run.messages else f"ONLY {run.delivered_once} once"
    print(
        f"drained {run.messages} messages ({delivered}) in {run.seconds:.1f} s: "
        f"{run.messages / run.seconds:.2f} messages/s, {run.calls} calls"
    )
    print("calls per 10-s window:  " + " ".join(f"{calls:>3}" for calls, _ in run.windows))
    print("429s per 10-s window:   " + " ".join(f"{limited:>3}" for _, limited in run.windows))
    answered = run.answered_per_full_window()
    if answered is None:
        print("no window wholly inside the drain: run more messages for a sustained rate")
    else:
        of_budget = f"{answered / share:.0%} of the budget, " if run.budget else ""
        of_limit = f"{answered / per_window:.0%} of the limit"
        print(f"full windows: {answered:.1f} calls answered a window = {of_budget}{of_limit}")
    print(
        f"429s: {run.limited} (the bridge counted {run.bridge_429s:.0f}); waited "
        f"{run.waited_budget:.1f} s for budget slots, {run.waited_429:.1f} s for 429 windows; "
        f"failed job attempts: {run.job_failures:.0f}"
    )


def summary(runs: list[Drain], limit: int) -> None:
    share, per_window = slots_per_window(limit), limit // 6
    print(f"\n== summary: limit {limit}/min = {per_window} per 10-s window; budget {share} ({SHARE:.0%})")
    print(
        f"{'workers':>7} {'budget':>6} {'seconds':>7} {'msg/s':>6} {'calls/window':>12} "
        f"{'of budget':>9} {'of limit':>8} {'429s':>5} {'failed jobs':>11}"
    )
    for run in runs:
        answered = run.answered_per_full_window()
        of_budget = answered / share if answered is not None and run.budget else None
        of_limit = answered / per_window if answered is not None else None
        print(
            f"{run.workers:>7} {'on' if run.budget else 'off':>6} {run.seconds:>7.1f} "
            f"{run.messages / run.seconds:>6.2f} {_fmt(answered, '{:.1f}'):>12} "
            f"{_fmt(of_budget, '{:.0%}'):>9} {_fmt(of_limit, '{:.0%}'):>8} {run.limited:>5} "
            f"{run.job_failures:>11.0f}"
        )


def _fmt(value: float | None, pattern: str) -> str:
    return "-" if value is None else pattern.format(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument(
        "--limit", type=int, default=300, help="Intercom's limit the sandbox enforces, calls a minute"
    )
    parser.add_argument("--messages", type=int, default=100, help="backlog of messages, one per new number")
    parser.add_argument("--workers", default="1,2,4,8", help="worker processes; a list runs each")
    parser.add_argument("--latency", type=float, default=0.1, help="seconds the sandbox adds to each call")
    parser.add_argument("--no-baseline", action="store_true", help="skip the runs with the budget off")
    parser.add_argument("--quick", action="store_true", help="30 messages, workers 1,4")
    args = parser.parse_args(argv)
    messages = 30 if args.quick else args.messages
    counts = [1, 4] if args.quick else [int(w) for w in args.workers.split(",")]
    print(machine_report(None if argv is None else ["bench/rate_budget.py", *argv]))
    print(
        f"sandbox: {args.limit // 6} calls per 10-s window, {args.latency * 1000:.0f} ms per call; "
        f"{messages} messages from new numbers"
    )
    runs = []
    for workers in counts:
        for budget in (True,) if args.no_baseline else (True, False):
            runs.append(
                drain(workers, budget=budget, limit=args.limit, messages=messages, latency=args.latency)
            )
            report(runs[-1], args.limit)
    summary(runs, args.limit)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
