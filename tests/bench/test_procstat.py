"""The benchmarks' CPU and memory accounting from /proc (`bench/procstat.py`).

Each CPU figure is checked against CPU the processes themselves say they burned (a loop until
`time.process_time()` reaches a mark), so nothing here depends on how fast the machine is.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest

from tests.helpers import ROOT

sys.path.insert(0, str(ROOT / "bench"))
from procstat import MemoryPeak, descendants, parse_stat, snapshot, tree_cpu  # noqa: E402

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="Linux's /proc")

BURN = 0.3  # CPU seconds each process burns

# A parent that burns, forks a child that burns and is waited for (a forking worker's finished
# job), forks another that burns and stays (a job in flight), then waits to be read.
TREE = textwrap.dedent(
    f"""
    import os, sys, time
    def burn():
        while time.process_time() < {BURN}:
            pass
    burn()
    reaped = os.fork()
    if reaped == 0:
        burn(); os._exit(0)
    os.waitpid(reaped, 0)
    ready_r, ready_w = os.pipe()
    live = os.fork()
    if live == 0:
        burn(); os.write(ready_w, b"x"); time.sleep(60); os._exit(0)
    os.read(ready_r, 1)
    print(live, flush=True)
    sys.stdin.read()
    """
)


@pytest.fixture
def tree() -> Iterator[tuple[int, int]]:
    """(parent pid, live child pid) of a running TREE; it ends when the test does."""
    with subprocess.Popen(
        [sys.executable, "-c", TREE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as process:
        assert process.stdout is not None
        live = int(process.stdout.readline())
        yield process.pid, live
        os.kill(live, 9)


@pytest.mark.parametrize(
    ("line", "pid", "ppid"),
    [
        ("4242 (python) S 17 4242 4242 0 -1 4194304 1 0 0 0 150 30 7 3 20 0 1 0 99 1000 25 0", 4242, 17),
        ("77 (a) b) (c) R 1 77 77 0 -1 0 0 0 0 0 150 30 7 3 20 0 1 0 99 1000 25 0", 77, 1),
    ],
)
def test_a_stat_line_is_read_after_the_last_parenthesis_of_the_command_name(line, pid, ppid):
    stat = parse_stat(line)
    ticks = os.sysconf("SC_CLK_TCK")
    assert (stat.pid, stat.ppid) == (pid, ppid)
    assert stat.own == pytest.approx(180 / ticks)
    assert stat.reaped_children == pytest.approx(10 / ticks)
    assert stat.rss == 25 * os.sysconf("SC_PAGE_SIZE")


def test_a_tree_counts_its_own_cpu_its_reaped_children_and_its_live_ones(tree):
    parent, live = tree
    stats = snapshot()
    assert set(descendants([parent], stats)) == {parent, live}
    assert stats[parent].reaped_children >= BURN - 0.02  # the child it waited for
    # Three processes burned BURN each: the parent, the reaped child, the live child.
    assert tree_cpu([parent], stats) >= 3 * BURN - 0.05
    assert tree_cpu([live], stats) < tree_cpu([parent], stats) - BURN


def test_memory_is_summed_over_the_tree_and_its_peak_kept(tree):
    parent, live = tree
    with MemoryPeak([parent], every=0.05) as peak:
        pass
    assert peak.processes == 2
    assert peak.samples >= 2
    assert peak.rss > 0 and 0 < peak.pss <= peak.rss
