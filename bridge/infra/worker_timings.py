"""The timings the bridge runs RQ workers with, and when a worker counts as alive.

RQ defaults suit long batch jobs, not a message bridge: a worker killed mid-job (OOM, SIGKILL,
a lost node) leaves its job "started" until another worker's maintenance notices, which with
the defaults took more than 150 s, and up to 10 minutes (research/engineering.md §1.5). The
bridge's workers run with a 60 s `worker_ttl` and 60 s maintenance, so an abandoned message is
retried within about three minutes: its execution expires 90 s after the last heartbeat of the
dead worker, and the next maintenance (every 60 s, between two dequeues of at most 45 s) finds it.

Heartbeats follow from those: an idle worker heartbeats before each blocking dequeue, which
waits `worker_ttl - 15` = 45 s; a busy forking worker heartbeats every 30 s while its job runs
(RQ's job monitoring interval). A worker is alive when it heartbeated within 90 s: one missed
heartbeat is tolerated, two are not. (RQ itself keeps a worker's key `worker_ttl + 60` = 120 s.)
Timestamps come from the workers' clocks, so hosts must agree on the time (NTP), as RQ assumes.

`BRIDGE_WORKER_TTL` (default and maximum 60) shortens all of it at once, for tests that kill
workers: with 10, maintenance runs every 10 s and a busy worker heartbeats every 5 s, so an
abandoned job is retried about 70 s after the kill (RQ adds a fixed 60 s to a job's heartbeat).

Apart from `bridge.infra.heartbeats` (which reads RQ's registries) so that what needs only the
numbers (a sender lane's lock timeout) does not load RQ.
"""

from __future__ import annotations

from dataclasses import dataclass

# One message may wait for its sender's earlier messages and for Intercom's rate-limit windows.
JOB_TIMEOUT_SECONDS = 300
WORKER_TTL_SECONDS = 60
HEARTBEAT_FRESH_SECONDS = 90


@dataclass(frozen=True)
class WorkerTimings:
    """The RQ worker's timings, all derived from one TTL so they stay in proportion."""

    worker_ttl: int
    maintenance_interval: int
    job_monitoring_interval: int  # a busy worker's heartbeat period (RQ's default: 30)


def worker_timings(worker_ttl: int = WORKER_TTL_SECONDS) -> WorkerTimings:
    """Maintenance as often as the TTL, job heartbeats twice per TTL (60 gives RQ's 30 s). A TTL
    above 60 would outlast `HEARTBEAT_FRESH_SECONDS` and is refused by the settings."""
    return WorkerTimings(
        worker_ttl=worker_ttl,
        maintenance_interval=worker_ttl,
        job_monitoring_interval=max(worker_ttl // 2, 1),
    )
