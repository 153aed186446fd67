"""End to end: provider webhook -> message in an Intercom conversation, through the real product.

Runs the product as deployed (an embedded Valkey, the web app under uvicorn, M forking `bridge
worker` processes, the Intercom sandbox: `bench/support.py`), gives the sandbox a fixed latency
per API call (100 ms by default, about what Intercom's API answers in from a nearby region), then
sends K signed Twilio webhooks from three kinds of sender, one message each:

- known, open conversation: wrote before (the warm-up), so the identity map knows the contact and
  the thread map its open conversation;
- known, no conversation: a contact Intercom already has (a user with that phone), never seen
  by the bridge;
- new: nobody has the number.

Two phases, K messages each. The drain sends them all at once and gives messages/s and
Intercom calls per message for each kind (read from the sandbox's own request log, each call
attributed to a sender by the phone number or contact id it names). The paced phase sends at half
the drained rate, so the webhook -> conversation latency (from the provider's 200 to the sandbox
answering the call that put the message in Intercom) is the bridge's own and not a queue's. The
baseline printed beside them is the floor the latency alone sets: calls x latency per message,
and workers / (calls x latency) for the rate.

    python bench/e2e.py                       # 300 messages, 4 workers, 100 ms
    python bench/e2e.py --workers 2,4,8       # one run per worker count
    python bench/e2e.py --quick               # 60 messages per phase; a drain of 160
    python bench/e2e.py --drain-only          # issue 18's drain alone (`bench/drain.py`)
    python bench/e2e.py --drain-only --drain-workers 2 --drain-concurrency 50   # threaded workers

Then issue 18's drain (`bench/drain.py`): a backlog of 150 new senders x 4 messages drained by
20 workers, with the bridge's CPU per message (all its processes, by kind of sender), the
steady-state Intercom calls/s against the bridge's budget and the worker side's peak memory.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `python bench/x.py` from a clone

from bench import drain  # noqa: E402
from bench.support import Stack, delivered_text, delivering, machine_report, running_stack  # noqa: E402
from bridge.dev.simulators import SimulatedMessage  # noqa: E402

BUSINESS = "+14155550100"


class Kind(StrEnum):
    KNOWN_OPEN = "known, open conversation"
    KNOWN_NO_CONVERSATION = "known, no conversation"
    NEW = "new number"


TARGETS = {Kind.KNOWN_OPEN: "1.0", Kind.NEW: "<= 3"}


@dataclass
class Sender:
    number: str
    kind: Kind
    text: str = ""
    sent_at: float = 0.0  # when the provider got its 200
    delivered_at: float | None = None  # when the sandbox answered the call that delivered it
    contact_ids: set[str] = field(default_factory=set)


def senders(count: int, seed: int) -> list[Sender]:
    """`count` senders, a third of each kind, in a shuffled order, one area code per kind."""
    kinds = [Kind.KNOWN_OPEN, Kind.KNOWN_NO_CONVERSATION, Kind.NEW]
    area = {Kind.KNOWN_OPEN: "212", Kind.KNOWN_NO_CONVERSATION: "312", Kind.NEW: "415"}
    made = [
        Sender(number=f"+1{area[kind]}55{index // 3:05d}", kind=kind)
        for index, kind in ((i, kinds[i % 3]) for i in range(count))
    ]
    random.Random(seed).shuffle(made)
    for index, sender in enumerate(made):
        sender.text = f"bench message {index:05d}"
    return made


def send(stack: Stack, sender: Sender, text: str) -> float:
    """Post the webhook as Twilio does; when the bridge answered 200."""
    stack.send(SimulatedMessage(sender.number, BUSINESS, text))
    return time.time()


def prepare(stack: Stack, everyone: list[Sender]) -> None:
    """Known senders become known: the first kind writes once (and is delivered), the second is
    a user Intercom has had for a year."""
    for sender in everyone:
        if sender.kind is Kind.KNOWN_NO_CONVERSATION:
            year_ago = int(time.time()) - 365 * 86400
            stack.sandbox(
                "POST",
                "/contacts",
                json={"role": "user", "phone": sender.number, "name": "Known customer"}
                | {"created_at": year_ago, "updated_at": year_ago},
            )
    openers = [sender for sender in everyone if sender.kind is Kind.KNOWN_OPEN]
    for sender in openers:
        send(stack, sender, f"warm-up from {sender.number[-5:]}")
    _wait(stack, lambda: len(stack.sandbox("GET", "/state")["conversations"]) >= len(openers), "the warm-up")
    stack.sandbox("DELETE", "/requests")


def _wait(stack: Stack, condition: Callable[[], bool], what: str) -> None:
    """Wait until `condition`; a job that failed ends the wait at once (no retry would be timed)."""

    def done() -> bool:
        if stack.metric("bridge_queue_jobs", state="failed"):
            raise SystemExit(f"a job failed while waiting for {what}: see the logs in {stack.directory}")
        return condition()

    stack.wait_until(done, what, timeout=600.0)


def attribute(
    exchanges: list[dict[str, Any]], contacts: list[dict[str, Any]], everyone: list[Sender]
) -> tuple[Counter[Kind], int]:
    """Intercom calls per kind of sender, and calls naming no sender (setup, e.g. `GET /me`).

    A call names its sender by a phone number (search, create) or a contact id (conversations,
    replies, reads): `contacts` (the sandbox's) say whose number each id holds."""
    by_number = {sender.number: sender for sender in everyone}
    by_contact = {str(c["id"]): by_number[c["phone"]] for c in contacts if c.get("phone") in by_number}
    calls: Counter[Kind] = Counter()
    unattributed = 0
    for exchange in exchanges:
        text = json.dumps(exchange.get("request_body")) + exchange["path"]
        sender = next((s for number, s in by_number.items() if number in text), None) or next(
            (s for cid, s in by_contact.items() if cid in text), None
        )
        if sender is None:
            unattributed += 1
        else:
            calls[sender.kind] += 1
    return calls, unattributed


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


@dataclass
class Phase:
    """What one batch of messages did: when each was sent and delivered, and the calls made."""

    senders: list[Sender]
    started: float
    exchanges: list[dict[str, Any]]
    contacts: list[dict[str, Any]]

    @property
    def finished(self) -> float:
        return max(sender.delivered_at or 0.0 for sender in self.senders)

    def rate(self) -> float:
        return len(self.senders) / (self.finished - self.started)

    def calls_per_message(self) -> tuple[dict[Kind, float], int]:
        calls, unattributed = attribute(self.exchanges, self.contacts, self.senders)
        kinds = Counter(sender.kind for sender in self.senders)
        return {kind: calls[kind] / kinds[kind] for kind in Kind}, unattributed

    def latencies(self, kind: Kind | None = None) -> list[float]:
        return [
            s.delivered_at - s.sent_at
            for s in self.senders
            if s.delivered_at is not None and (kind is None or s.kind is kind)
        ]


def deliver(stack: Stack, batch: list[Sender], *, rate: float | None) -> Phase:
    """Send `batch` (all at once, or `rate` per second on a fixed schedule) and wait until every
    message is in Intercom."""
    stack.sandbox("DELETE", "/requests")
    by_text = {sender.text: sender for sender in batch}
    started = time.time()
    for index, sender in enumerate(batch):
        if rate:
            time.sleep(max(0.0, started + index / rate - time.time()))
        sender.sent_at = send(stack, sender, sender.text)

    def delivered() -> list[dict[str, Any]]:
        log = stack.sandbox("GET", "/requests")
        return [e for e in log if delivering(e) and delivered_text(e) in by_text]

    _wait(stack, lambda: len(delivered()) >= len(batch), "every message in Intercom")
    exchanges = stack.sandbox("GET", "/requests")
    for exchange in exchanges:
        if delivering(exchange) and (delivered_sender := by_text.get(delivered_text(exchange))) is not None:
            delivered_sender.delivered_at = exchange["at"]
    return Phase(batch, started, exchanges, stack.sandbox("GET", "/state")["contacts"])


@dataclass
class Result:
    workers: int
    messages: int
    latency: float  # added by the sandbox to each call
    drain: Phase
    paced: Phase
    pace: float

    def floor_rate(self) -> float:
        calls, _ = self.drain.calls_per_message()
        mean_calls = sum(calls[s.kind] for s in self.drain.senders) / len(self.drain.senders)
        return self.workers / (mean_calls * self.latency) if self.latency else float("inf")

    def print(self) -> None:
        calls, unattributed = self.drain.calls_per_message()
        rate, floor = self.drain.rate(), self.floor_rate()
        latencies = self.paced.latencies()
        print(f"\n== {self.workers} workers, {self.messages} messages, {self.latency * 1000:.0f} ms per call")
        print(
            f"drain (all sent at once)  {rate:.1f} messages/s   floor {floor:.1f}/s, ratio {rate / floor:.2f}"
        )
        p50, p99 = statistics.median(latencies) * 1000, percentile(latencies, 0.99) * 1000
        print(f"paced at {self.pace:.1f}/s         webhook->Intercom p50 {p50:.0f} ms, p99 {p99:.0f} ms")
        print(f"{'sender':<26} {'calls/message':>13} {'target':>7} {'paced p50':>10} {'floor':>7}")
        for kind in Kind:
            median = statistics.median(self.paced.latencies(kind)) * 1000
            floor_ms = calls[kind] * self.latency * 1000
            target = TARGETS.get(kind, "-")
            print(f"{kind.value:<26} {calls[kind]:>13.2f} {target:>7} {median:>7.0f} ms {floor_ms:>4.0f} ms")
        errors = sum(1 for e in self.drain.exchanges + self.paced.exchanges if e["status"] >= 400)
        print(f"calls naming no sender: {unattributed}; Intercom errors: {errors}")


def measure(workers: int, count: int, latency: float, seed: int) -> Result:
    """A drain (every message at once: throughput, calls) then a paced run at half that rate
    (latency without a queue in front of it)."""
    everyone = senders(2 * count, seed)
    with running_stack() as stack, stack.workers(workers):
        prepare(stack, everyone)
        stack.sandbox("PUT", "/config", json={"latency": latency})
        drain = deliver(stack, everyone[:count], rate=None)
        pace = drain.rate() / 2
        paced = deliver(stack, everyone[count:], rate=pace)
    return Result(workers, count, latency, drain, paced, pace)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=300, help="messages per phase (a third of each kind)")
    parser.add_argument("--workers", default="4", help="worker processes; a list runs each: 2,4,8")
    parser.add_argument("--latency", type=float, default=0.1, help="seconds the sandbox adds to each call")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="60 messages; the drain: 40 senders, 10 workers")
    parser.add_argument(
        "--drain-workers", type=int, help="issue 18's drain: worker processes (20; --quick: 10)"
    )
    parser.add_argument(
        "--drain-concurrency",
        type=int,
        default=0,
        help="issue 18's drain: threads (jobs in flight) per worker process; 0: RQ's forking worker",
    )
    parser.add_argument("--drain-senders", type=int, help="issue 18's drain: new senders (150; --quick: 40)")
    parser.add_argument("--drain-writes", type=int, default=4, help="issue 18's drain: messages per sender")
    parser.add_argument("--drain-only", action="store_true", help="skip the per-worker-count runs")
    parser.add_argument("--no-drain", action="store_true", help="skip issue 18's drain")
    parser.add_argument(
        "--profile",
        type=Path,
        help="py-spy one worker and its jobs during the drain (raw; threaded: the GIL's holder)",
    )
    args = parser.parse_args(argv)
    count = 60 if args.quick else args.messages
    print(machine_report(argv))
    if not args.drain_only:
        for workers in (int(w) for w in args.workers.split(",")):
            measure(workers, count, args.latency, args.seed).print()
    if not args.no_drain:
        drain.measure(
            args.drain_workers or (10 if args.quick else 20),
            args.drain_senders or (40 if args.quick else 150),
            args.drain_writes,
            args.latency,
            concurrency=args.drain_concurrency,
            profile=None
            if args.profile is None
            else drain.py_spy(args.profile, gil=args.drain_concurrency > 0),
        ).print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
