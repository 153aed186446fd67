"""An HTTP/1.1 load generator in plain Python, for the benchmarks in this directory.

No wrk, ab or hey on the machines this runs on, and httpx spends more time per request than a
small ASGI endpoint does, so it cannot saturate one. This drives raw keep-alive connections over
asyncio streams (uvloop when installed), with requests encoded to bytes before the clock starts.

Two modes, each over `connections` keep-alive connections split across `processes` generator
processes (each its own event loop, so the generator can use more than one core):

- closed loop (`LoadGenerator.closed`): every connection sends its next request as soon as the
  previous answer arrived, for `duration` seconds. Completed answers per second is the server's
  maximum rate at that concurrency.
- open loop (`LoadGenerator.open`): requests are scheduled at a fixed rate, whatever the server
  does. Latency is measured from each request's *scheduled* time, not from when a connection
  was free to send it, so a server that stalls is charged for the requests that queued behind
  the stall (no coordinated omission). How late sends left (`lag`) is reported too: the timer
  granularity of the event loop (about 1 ms) shows there, and a lag that grows means the
  generator, not the server, could not keep up.

Requests come from a `RequestBuilder`: a picklable callable run inside each generator process
before the run (so building, and signing, is never timed). `cycle=True` reuses them when a
closed-loop run needs more than were built; without it a run that uses them all up ends early
and says so (`Result.exhausted`), for servers that must see every request only once.

Use it as a library (`bench/ingest.py`) or try it: `python bench/loadgen.py URL`.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import math
import multiprocessing
import time
from array import array
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

Mode = Literal["closed", "open"]


class RequestBuilder(Protocol):
    """Builds `count` raw HTTP requests for generator process `process` (0-based)."""

    def __call__(self, process: int, count: int) -> Sequence[bytes]: ...


class ProtocolError(Exception):
    """The server's answer is not an HTTP/1.1 response this generator can read."""


def encode_request(
    method: str, target: str, *, host: str, headers: Sequence[tuple[str, str]] = (), body: bytes = b""
) -> bytes:
    """One HTTP/1.1 request as bytes, keep-alive, with `Content-Length` set from `body`."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in headers if name.lower() not in ("host", "content-length")]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@dataclass(frozen=True)
class Target:
    host: str
    port: int

    @classmethod
    def from_url(cls, url: str) -> Target:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"only plain http:// URLs are supported, not {url!r}")
        return cls(parts.hostname, parts.port or 80)

    @property
    def authority(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass
class Result:
    """One run, merged over the generator processes. Times are in seconds.

    `completed`, `statuses` and `latencies` count answers that arrived inside the timed window;
    `answered_ok` counts every 200 received, including answers to requests still in flight
    when the window closed (what the server stored, for servers that store).
    """

    mode: Mode
    duration: float
    completed: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    errors: int = 0
    answered_ok: int = 0
    sent: int = 0
    exhausted: bool = False
    latencies: array[float] = field(default_factory=lambda: array("d"))
    lag: array[float] = field(default_factory=lambda: array("d"))
    _sorted: dict[str, list[float]] = field(default_factory=dict, repr=False)

    @property
    def rate(self) -> float:
        return self.completed / self.duration if self.duration > 0 else 0.0

    @property
    def not_ok(self) -> int:
        """Answers other than 200, plus requests that got no answer at all."""
        return sum(count for status, count in self.statuses.items() if status != 200) + self.errors

    def latency(self, quantile: float) -> float:
        return self._quantile("latencies", quantile)

    def send_lag(self, quantile: float) -> float:
        return self._quantile("lag", quantile)

    def _quantile(self, name: Literal["latencies", "lag"], quantile: float) -> float:
        values = self._sorted.get(name)
        if values is None:
            values = self._sorted[name] = sorted(getattr(self, name))
        return nearest_rank(values, quantile)

    def merge(self, other: Result) -> None:
        self.completed += other.completed
        self.statuses.update(other.statuses)
        self.errors += other.errors
        self.answered_ok += other.answered_ok
        self.sent += other.sent
        self.exhausted = self.exhausted or other.exhausted
        self.latencies.extend(other.latencies)
        self.lag.extend(other.lag)
        self._sorted.clear()


def nearest_rank(ordered: Sequence[float], quantile: float) -> float:
    """The nearest-rank percentile of sorted values (NaN for none)."""
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(quantile * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


class LoadGenerator:
    """Generator processes kept alive between runs; use as a context manager."""

    def __init__(self, processes: int = 1) -> None:
        if processes < 1:
            raise ValueError("at least one generator process")
        # spawn: a clean interpreter whatever the parent holds (sockets, threads, event loops).
        context = multiprocessing.get_context("spawn")
        self._pipes: list[Connection] = []
        self._processes = []
        for index in range(processes):
            parent, child = context.Pipe()
            process = context.Process(
                target=_serve, args=(child, index), name=f"loadgen-{index}", daemon=True
            )
            process.start()
            child.close()
            self._pipes.append(parent)
            self._processes.append(process)

    @property
    def processes(self) -> int:
        return len(self._pipes)

    def closed(
        self,
        target: Target,
        build: RequestBuilder,
        *,
        connections: int,
        duration: float,
        budget: int,
        cycle: bool,
    ) -> Result:
        """Saturate `target` with `connections` connections for `duration` seconds; `budget`
        requests are built in all (reused when `cycle`)."""
        return self._run(
            "closed",
            target,
            build,
            connections=connections,
            duration=duration,
            rate=0.0,
            budget=budget,
            cycle=cycle,
        )

    def open(
        self, target: Target, build: RequestBuilder, *, rate: float, connections: int, duration: float
    ) -> Result:
        """Send `rate` requests a second for `duration` seconds over up to `connections`
        connections; latency counts from each request's scheduled time."""
        budget = math.ceil(rate * duration) + self.processes
        return self._run(
            "open",
            target,
            build,
            connections=connections,
            duration=duration,
            rate=rate,
            budget=budget,
            cycle=False,
        )

    def _run(
        self,
        mode: Mode,
        target: Target,
        build: RequestBuilder,
        *,
        connections: int,
        duration: float,
        rate: float,
        budget: int,
        cycle: bool,
    ) -> Result:
        if connections < self.processes:
            raise ValueError(f"{connections} connections cannot be split over {self.processes} processes")
        shares = _split(connections, self.processes)
        counts = _split(budget, self.processes)
        for pipe, count in zip(self._pipes, counts, strict=True):
            pipe.send(("build", build, count))
        for pipe in self._pipes:
            _expect(pipe.recv(), "built")
        for index, (pipe, share) in enumerate(zip(self._pipes, shares, strict=True)):
            plan = _Plan(
                mode=mode,
                target=target,
                connections=share,
                duration=duration,
                rate=rate / self.processes,
                phase=index / self.processes,
                cycle=cycle,
            )
            pipe.send(("connect", plan))
        for pipe in self._pipes:
            _expect(pipe.recv(), "connected")
        start_at = time.time() + 0.1  # every process starts its clock at the same moment
        for pipe in self._pipes:
            pipe.send(("go", start_at))
        merged = Result(mode, duration)
        windows = []
        for pipe in self._pipes:
            reply = pipe.recv()
            _expect(reply, "result")
            merged.merge(reply[1])
            windows.append(reply[1].duration)
        # A process that ran out of requests ended its window early; the others ran out at about
        # the same time (equal shares), and the longest window gives the lower, safer rate.
        merged.duration = max(windows)
        return merged

    def close(self) -> None:
        for pipe in self._pipes:
            try:
                pipe.send(("stop",))
            except OSError:
                pass
        for process in self._processes:
            process.join(5)
            if process.is_alive():
                process.terminate()
                process.join(5)

    def __enter__(self) -> LoadGenerator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _split(total: int, parts: int) -> list[int]:
    """`total` split into `parts` near-equal whole shares."""
    return [total // parts + (1 if index < total % parts else 0) for index in range(parts)]


def _expect(reply: tuple[Any, ...], kind: str) -> None:
    if reply[0] == "error":
        raise RuntimeError(f"generator process failed: {reply[1]}")
    if reply[0] != kind:
        raise RuntimeError(f"generator process answered {reply[0]!r}, expected {kind!r}")


@dataclass(frozen=True)
class _Plan:
    mode: Mode
    target: Target
    connections: int
    duration: float
    rate: float  # this process's share (open loop)
    phase: float  # this process's offset into the schedule, in requests (open loop)
    cycle: bool


# --- inside a generator process ---


def _serve(pipe: Connection, index: int) -> None:
    """A generator process: build, connect, run on command, until told to stop."""
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    requests: Sequence[bytes] = ()
    loop = asyncio.new_event_loop()
    streams: list[_Stream] = []
    while True:
        try:
            command = pipe.recv()
        except EOFError:
            return
        try:
            if command[0] == "stop":
                loop.run_until_complete(_close_all(streams))
                return
            if command[0] == "build":
                requests = []  # free the last run's before building the next
                requests = command[1](index, command[2])
                pipe.send(("built",))
            elif command[0] == "connect":
                plan: _Plan = command[1]
                loop.run_until_complete(_close_all(streams))
                streams = loop.run_until_complete(_connect_all(plan.target, plan.connections))
                pipe.send(("connected",))
            elif command[0] == "go":
                gc.collect()
                gc.disable()  # no collector pauses inside the timed window
                try:
                    result = loop.run_until_complete(_run(plan, streams, requests, command[1]))
                finally:
                    gc.enable()
                pipe.send(("result", result))
        except Exception as exc:  # reported to the parent, which raises
            pipe.send(("error", f"{type(exc).__name__}: {exc}"))


class _Stream:
    """One keep-alive connection; reopened after an error or a `Connection: close`."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.target.host, self.target.port)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except OSError:
                pass
        self.reader = self.writer = None

    async def exchange(self, request: bytes) -> int:
        """Send one request and read its whole answer; the status code."""
        if self.writer is None:
            await self.open()
        assert self.reader is not None and self.writer is not None
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 "):
            raise ProtocolError(f"not an HTTP/1.1 answer: {head[:40]!r}")
        status = int(head[9:12])
        lowered = head.lower()
        position = lowered.find(b"\r\ncontent-length:")
        if position < 0:
            raise ProtocolError("an answer without Content-Length (chunked answers are not read)")
        end = lowered.index(b"\r\n", position + 2)
        length = int(lowered[position + 17 : end])
        if length:
            await self.reader.readexactly(length)
        if b"\r\nconnection: close" in lowered:
            await self.close()
        return status


async def _connect_all(target: Target, count: int) -> list[_Stream]:
    streams = [_Stream(target) for _ in range(count)]
    await asyncio.gather(*(stream.open() for stream in streams))
    return streams


async def _close_all(streams: list[_Stream]) -> None:
    await asyncio.gather(*(stream.close() for stream in streams))


class _Tally:
    """What one process saw; becomes its `Result`."""

    def __init__(self, mode: Mode, duration: float) -> None:
        self.result = Result(mode, duration)
        self.statuses: Counter[int] = self.result.statuses
        self.last_answer = 0.0

    def answered(self, status: int, *, in_window: bool, latency: float) -> None:
        if status == 200:
            self.result.answered_ok += 1
        if in_window:
            self.result.completed += 1
            self.statuses[status] += 1
            self.result.latencies.append(latency)


async def _run(plan: _Plan, streams: list[_Stream], requests: Sequence[bytes], start_at: float) -> Result:
    loop_clock = time.perf_counter
    await asyncio.sleep(max(0.0, start_at - time.time()))
    start = loop_clock()
    deadline = start + plan.duration
    tally = _Tally(plan.mode, plan.duration)
    indices = itertools.count()
    if plan.mode == "closed":
        workers = [_closed(stream, requests, indices, deadline, plan.cycle, tally) for stream in streams]
    else:
        workers = [_open(stream, requests, indices, start, deadline, plan, tally) for stream in streams]
    await asyncio.gather(*workers)
    if tally.result.exhausted:
        # Out of requests before the end: the window ends at the last answer, so the rate is
        # not diluted by the idle time after it.
        tally.result.duration = min(plan.duration, tally.last_answer - start)
    return tally.result


def _next_request(
    requests: Sequence[bytes], indices: Iterator[int], cycle: bool, tally: _Tally
) -> bytes | None:
    index = next(indices)
    if index >= len(requests):
        if not cycle or not requests:
            tally.result.exhausted = True
            return None
        index %= len(requests)
    tally.result.sent += 1
    return requests[index]


async def _closed(
    stream: _Stream,
    requests: Sequence[bytes],
    indices: Iterator[int],
    deadline: float,
    cycle: bool,
    tally: _Tally,
) -> None:
    clock = time.perf_counter
    while clock() < deadline:
        request = _next_request(requests, indices, cycle, tally)
        if request is None:
            return
        began = clock()
        status = await _exchange(stream, request, tally)
        if status is not None:
            finished = clock()
            tally.answered(status, in_window=finished <= deadline, latency=finished - began)
            tally.last_answer = finished


async def _open(
    stream: _Stream,
    requests: Sequence[bytes],
    indices: Iterator[int],
    start: float,
    deadline: float,
    plan: _Plan,
    tally: _Tally,
) -> None:
    clock = time.perf_counter
    interval = 1.0 / plan.rate
    while True:
        index = next(indices)
        scheduled = start + (index + plan.phase) * interval
        if scheduled >= deadline or index >= len(requests):
            return
        delay = scheduled - clock()
        if delay > 0:
            await asyncio.sleep(delay)
        sent = clock()
        tally.result.sent += 1
        status = await _exchange(stream, requests[index], tally)
        if status is not None:
            finished = clock()
            # Every scheduled request counts, however late it finished: the window is the
            # schedule. The loop's timers have millisecond granularity and may wake a little
            # early: such a request counts from when it was sent, not from a later schedule.
            tally.answered(status, in_window=True, latency=finished - min(scheduled, sent))
            tally.result.lag.append(max(sent - scheduled, 0.0))


async def _exchange(stream: _Stream, request: bytes, tally: _Tally) -> int | None:
    try:
        return await stream.exchange(request)
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ProtocolError, ValueError):
        tally.result.errors += 1
        await stream.close()  # the next request reconnects
        return None


# --- trying it by hand ---


@dataclass(frozen=True)
class _Repeat:
    request: bytes

    def __call__(self, process: int, count: int) -> Sequence[bytes]:
        return [self.request] * count


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Drive GET requests at one URL and print the rate and latency."
    )
    parser.add_argument("url", help="http://host:port/path")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds (default 5)")
    parser.add_argument("--connections", type=int, default=64, help="keep-alive connections (default 64)")
    parser.add_argument("--processes", type=int, default=1, help="generator processes (default 1)")
    parser.add_argument(
        "--rate", type=float, help="open loop at this many requests a second (default: closed)"
    )
    args = parser.parse_args()
    target = Target.from_url(args.url)
    parts = urlsplit(args.url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    build = _Repeat(encode_request("GET", path, host=target.authority))
    with LoadGenerator(args.processes) as generator:
        if args.rate:
            result = generator.open(
                target, build, rate=args.rate, connections=args.connections, duration=args.duration
            )
        else:
            result = generator.closed(
                target, build, connections=args.connections, duration=args.duration, budget=1000, cycle=True
            )
    print(
        f"{result.rate:,.0f} req/s  p50 {result.latency(0.5) * 1e3:.2f} ms"
        f"  p99 {result.latency(0.99) * 1e3:.2f} ms  statuses {dict(result.statuses)}  errors {result.errors}"
    )


if __name__ == "__main__":
    main()
