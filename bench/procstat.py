"""CPU and memory of process trees, read from Linux's /proc: what a bridge costs, all of it.

A forking `bridge worker` runs each job in a child it then waits for, so the job's CPU lands in
the worker's `cutime`/`cstime` (children's times, counted once a child is reaped); a child still
running is counted from its own line. Summed over a tree:

    before = tree_cpu([web, valkey, *workers])
    ...                                                   # the work being measured
    seconds = tree_cpu([web, valkey, *workers]) - before  # user + system, start-up excluded

    with MemoryPeak([*workers]) as peak:                  # samples in a thread
        ...
    peak.rss, peak.pss                                    # bytes, the largest sums seen

A child reaped between reading its parent and reading it is missed (read while running, counted
in the parent after): take the snapshots when the tree is quiet, as the benchmarks do. RSS sums
count the pages forked children share with their parent once per process, as `ps` and most
dashboards do; PSS (`smaps_rollup`) divides each shared page among its sharers, the memory the
tree really holds. No psutil: the bridge does not depend on it, and /proc says all we need.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

PROC = Path("/proc")
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass(frozen=True)
class Stat:
    """The fields of /proc/<pid>/stat the benchmarks read; times in seconds, rss in bytes."""

    pid: int
    ppid: int
    own: float  # utime + stime
    reaped_children: float  # cutime + cstime: children waited for, and theirs
    rss: int


def parse_stat(line: str) -> Stat:
    """One /proc/<pid>/stat line. The command name (field 2) may hold spaces and parentheses,
    so the fields are counted from its last `)`."""
    pid = int(line[: line.index(" ")])
    fields = line[line.rindex(")") + 2 :].split()

    # After the name, fields are numbered from 3 (state) in proc(5): ppid 4, utime 14, stime 15,
    # cutime 16, cstime 17, rss 24 (pages).
    def field(number: int) -> int:
        return int(fields[number - 3])

    return Stat(
        pid=pid,
        ppid=field(4),
        own=(field(14) + field(15)) / TICKS,
        reaped_children=(field(16) + field(17)) / TICKS,
        rss=field(24) * PAGE,
    )


def snapshot() -> dict[int, Stat]:
    """Every process this user can read, by pid; those that exit while being read are left out."""
    stats: dict[int, Stat] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            try:
                stats[int(entry.name)] = parse_stat((entry / "stat").read_text())
            except (OSError, ValueError, IndexError):
                continue
    return stats


def descendants(roots: Iterable[int], stats: dict[int, Stat]) -> list[int]:
    """The roots and every live process under them (each once), from one snapshot."""
    children: dict[int, list[int]] = {}
    for stat in stats.values():
        children.setdefault(stat.ppid, []).append(stat.pid)
    seen: list[int] = []
    pending = [pid for pid in roots if pid in stats]
    while pending:
        pid = pending.pop()
        if pid not in seen:
            seen.append(pid)
            pending.extend(children.get(pid, []))
    return seen


def tree_cpu(roots: Iterable[int], stats: dict[int, Stat] | None = None) -> float:
    """User + system CPU seconds of `roots` and everything under them, live or reaped."""
    stats = snapshot() if stats is None else stats
    return sum(stats[pid].own + stats[pid].reaped_children for pid in descendants(roots, stats))


def pss(pid: int) -> int:
    """Proportional set size of one process in bytes (0 if it is gone or unreadable)."""
    try:
        for line in (PROC / str(pid) / "smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


@dataclass(frozen=True)
class Memory:
    """The resident memory of one tree at one moment."""

    processes: int
    rss: int
    pss: int


def tree_memory(roots: Iterable[int]) -> Memory:
    stats = snapshot()
    pids = descendants(roots, stats)
    return Memory(len(pids), sum(stats[pid].rss for pid in pids), sum(pss(pid) for pid in pids))


class MemoryPeak:
    """The largest RSS and PSS sums of a tree, sampled every `every` seconds in a thread while
    the block runs (and once at each end). Roots may be added as processes start."""

    def __init__(self, roots: Iterable[int], *, every: float = 0.5) -> None:
        self.roots = list(roots)
        self.every = every
        self.rss = self.pss = self.processes = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory-peak", daemon=True)

    def sample(self) -> Memory:
        memory = tree_memory(self.roots)
        self.rss, self.pss = max(self.rss, memory.rss), max(self.pss, memory.pss)
        self.processes = max(self.processes, memory.processes)
        self.samples += 1
        return memory

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.sample()

    def __enter__(self) -> MemoryPeak:
        self.sample()
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()
