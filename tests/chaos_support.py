"""What the chaos tests share: real worker processes that can die like containers, a provider
that retries what the bridge refused, and an audit of what reached the Intercom sandbox.

Nothing here fakes a part: workers are `python -m bridge worker` processes, the provider is
HTTP requests signed by `bridge.dev.simulators`, and the audit reads the sandbox's workspace.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis

from bridge.core.settings import Settings
from bridge.dev.simulators import SIMULATORS, SimulatedMessage, SimulatedRequest
from bridge.infra import keys
from bridge.intake.ledger import inbound_id
from tests.helpers import SandboxControl, conversation_bodies

BUSINESS = "+14155550100"


# --- processes ----------------------------------------------------------------------------


def process_tree(root: int) -> list[int]:
    """`root` and every process descending from it (Linux /proc), parents first.

    RQ's work horse calls `setpgrp()`, so the job process is not in its worker's process
    group: a container dying takes both, and so must the test."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        # The command name is in parentheses and may hold spaces: the parent pid follows the last ")".
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    tree, pending = [], [root]
    while pending:
        pid = pending.pop(0)
        tree.append(pid)
        pending.extend(children.get(pid, []))
    return tree


def _signal_all(pids: Iterable[int], signum: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass


@dataclass
class WorkerProcess:
    """One `bridge worker` process (not burst), its output in a log file; the environment is the
    test's (`os.environ`, as the fixtures set it) unless `env` is given."""

    log_path: Path
    env: Mapping[str, str] | None = None
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bridge", "worker"],
                env=dict(os.environ if self.env is None else self.env),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill_like_a_container(self) -> list[int]:
        """SIGKILL the worker and everything it started (its job process, RQ's scheduler) at once,
        as a container's end does: frozen first, so no process outlives another by a moment."""
        tree = process_tree(self.pid)
        _signal_all(tree, signal.SIGSTOP)
        tree = process_tree(self.pid)  # a fork may have landed between the listing and the stop
        _signal_all(tree, signal.SIGSTOP)
        _signal_all(tree, signal.SIGKILL)
        assert self.process is not None
        self.process.wait(10)
        return tree

    def request_stop(self) -> None:
        """A warm shutdown: SIGTERM, once (RQ takes a second one for "kill the job in hand")."""
        if self.alive and self.process is not None:
            self.process.send_signal(signal.SIGTERM)

    def wait_stopped(self, timeout: float = 30.0) -> None:
        """Wait for the warm shutdown; kill what is left of the worker if it takes too long."""
        if self.process is None:
            return
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            _signal_all(process_tree(self.pid), signal.SIGKILL)
            self.process.wait(10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@dataclass
class WorkerPool:
    """Worker processes started for one test; every one of them is stopped when it ends."""

    log_dir: Path
    env: Mapping[str, str] | None = None
    workers: list[WorkerProcess] = field(default_factory=list)

    def start(self, count: int = 1) -> list[WorkerProcess]:
        started = []
        for _ in range(count):
            number = len(self.workers) + 1
            worker = WorkerProcess(self.log_dir / f"worker-{number}.log", self.env).start()
            self.workers.append(worker)
            started.append(worker)
        return started

    def stop_all(self) -> None:
        for worker in self.workers:
            worker.request_stop()
        for worker in self.workers:
            worker.wait_stopped()

    def logs(self) -> str:
        return "\n".join(f"--- {w.log_path.name}\n{w.log()[-4000:]}" for w in self.workers)


@contextmanager
def worker_pool(log_dir: Path, env: Mapping[str, str] | None = None) -> Iterator[WorkerPool]:
    log_dir.mkdir(parents=True, exist_ok=True)
    pool = WorkerPool(log_dir, env)
    try:
        yield pool
    finally:
        pool.stop_all()


# --- the provider -------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    """One customer message the test sends; its text is unique, so Intercom shows where it went."""

    provider: str
    sender: str
    text: str
    message_id: str

    def request(self, base_url: str, settings: Settings) -> SimulatedRequest:
        simulated = SimulatedMessage(
            sender=self.sender, recipient=BUSINESS, text=self.text, message_id=self.message_id
        )
        return SIMULATORS[self.provider](simulated, base_url, settings)


def traffic(
    *, repeat_senders: int, messages_each: int, new_senders: int, seed: int, provider: str = "twilio"
) -> list[Message]:
    """A mixed run: `repeat_senders` customers writing `messages_each` times, and `new_senders`
    writing once, interleaved at random (each sender's own messages stay in order)."""
    rng = random.Random(seed)
    queues: list[list[Message]] = []
    for number in range(repeat_senders + new_senders):
        sender = f"+1415{200 + seed % 700:03d}{number:04d}"  # a valid US number per sender
        count = messages_each if number < repeat_senders else 1
        queues.append([_message(provider, seed, number, index, sender) for index in range(count)])
    ordered: list[Message] = []
    while queues:
        queue = rng.choice(queues)
        ordered.append(queue.pop(0))
        if not queue:
            queues.remove(queue)
    return ordered


def _message(provider: str, seed: int, number: int, index: int, sender: str) -> Message:
    message_id = f"SM{seed:08x}{number:08x}{index:016x}"  # Twilio's shape: SM + 32 hex digits
    return Message(provider, sender, f"chaos {seed} {sender} #{index}", message_id)


@dataclass
class ProviderLog:
    """What the provider saw: each message's answers in order (0: no answer), and when."""

    answers: dict[str, list[int]] = field(default_factory=dict)
    timeline: list[tuple[float, int]] = field(default_factory=list)  # (monotonic time, status)

    def record(self, message: Message, status: int) -> None:
        self.answers.setdefault(message.message_id, []).append(status)
        self.timeline.append((time.monotonic(), status))

    def statuses(self) -> Counter[int]:
        return Counter(status for _, status in self.timeline)

    def count(self, status: int) -> int:
        return self.statuses()[status]

    def acknowledged(self) -> list[str]:
        return [mid for mid, statuses in self.answers.items() if 200 in statuses]

    def first_after(self, moment: float, status: int) -> float:
        """Seconds from `moment` (monotonic) to the first answer `status` after it."""
        return next(at for at, answer in self.timeline if at >= moment and answer == status) - moment


def deliver_as_provider(
    messages: Iterable[Message],
    *,
    base_url: str,
    settings: Settings,
    log: ProviderLog,
    pace: float = 0.0,
    retry_pause: float = 0.2,
    give_up_after: float = 120.0,
) -> None:
    """Send each message as its provider would, `pace` seconds apart, retrying a refused one (5xx
    or no answer) until it is acknowledged. A 4xx is final: providers do not retry those."""
    with httpx.Client(timeout=10.0) as http:
        for message in messages:
            time.sleep(pace)
            deadline = time.monotonic() + give_up_after
            while True:
                try:
                    status = message.request(base_url, settings).send(http).status_code
                except httpx.TransportError:
                    status = 0
                log.record(message, status)
                if status < 500 and status != 0:
                    break
                if time.monotonic() > deadline:
                    raise AssertionError(f"{message.message_id} was refused for {give_up_after:.0f}s")
                time.sleep(retry_pause)


def send_concurrently(requests: list[SimulatedRequest]) -> list[int]:
    """Post every request at the same moment, each from its own thread and connection; their
    status codes, in order."""
    start = threading.Barrier(len(requests))

    def send(request: SimulatedRequest) -> int:
        with httpx.Client(timeout=30.0) as http:
            start.wait()
            return request.send(http).status_code

    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(send, requests))


# --- what the bridge and Intercom hold -----------------------------------------------------


def ledger_statuses(client: redis.Redis, messages: Iterable[Message]) -> Counter[str]:
    """How many of `messages` the inbound ledger holds in each status ("missing": not stored)."""
    with client.pipeline(transaction=False) as pipe:
        for message in messages:
            pipe.hget(keys.inbound(inbound_id(message.provider, message.message_id)), "status")
        return Counter(status.decode() if status else "missing" for status in pipe.execute())


@dataclass(frozen=True)
class Audit:
    """The sandbox's workspace, counted the ways the bridge promises about."""

    contacts_per_phone: Counter[str]
    parts: Counter[str]  # customer message body -> times it appears in any conversation
    bodies_by_phone: dict[str, list[str]]  # each contact's messages, in conversation order

    @classmethod
    def of(cls, sandbox: SandboxControl) -> Audit:
        state = sandbox.state()
        contacts = [c for c in state["contacts"] if not c.get("merged_into")]
        phone_of = {contact["id"]: contact.get("phone") or "" for contact in contacts}
        parts: Counter[str] = Counter()
        by_phone: dict[str, list[str]] = {}
        for conversation in sorted(state["conversations"], key=lambda c: (c["created_at"], int(c["id"]))):
            bodies = conversation_bodies(conversation)
            parts.update(bodies)
            phone = phone_of.get(conversation["contacts"]["contacts"][0]["id"], "")
            by_phone.setdefault(phone, []).extend(bodies)
        return cls(Counter(phone_of.values()), parts, by_phone)

    def lost(self, messages: Iterable[Message]) -> list[str]:
        return [m.text for m in messages if self.parts[m.text] == 0]

    def duplicate_parts(self) -> int:
        return sum(count - 1 for count in self.parts.values() if count > 1)

    def duplicate_contacts(self) -> int:
        return sum(count - 1 for count in self.contacts_per_phone.values() if count > 1)

    def out_of_order(self, messages: Iterable[Message]) -> list[str]:
        """Senders whose messages Intercom shows in another order than they were sent (first
        appearances: a duplicated part is counted by `duplicate_parts`, not here)."""
        sent: dict[str, list[str]] = {}
        for message in messages:
            sent.setdefault(message.sender, []).append(message.text)
        wrong = []
        for sender, texts in sent.items():
            seen = list(dict.fromkeys(self.bodies_by_phone.get(sender, [])))
            if [text for text in seen if text in texts] != texts:
                wrong.append(sender)
        return wrong


def wait_for(condition: Callable[[], bool], *, timeout: float, what: str, pause: float = 0.25) -> float:
    """Poll `condition` until it holds; the seconds it took. Fails the test with `what` if it never does."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(pause)
    return time.monotonic() - started
