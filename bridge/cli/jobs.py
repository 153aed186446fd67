"""`bridge jobs failed|show|replay`: failed work, for operators (see `bridge.ops.jobs`).

Heavy imports wait inside the commands, as in `bridge.cli.main`: every `bridge` invocation loads this.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from redis import Redis

    from bridge.ops.jobs import FailedJobs, Replay

# Replays of more jobs than this get a progress bar (on a terminal).
PROGRESS_FROM = 10
WAIT_POLL_SECONDS = 0.5


@click.group()
def jobs() -> None:
    """Failed jobs: list them, see why, replay them (nothing is sent twice)."""


@jobs.command("failed")
@click.option("--provider", default=None, help="Only this provider's.")
@click.option("--since", default=None, help="Only those failed since: a duration ago (2h, 3d) or a date.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of a table.")
def jobs_failed(provider: str | None, since: str | None, as_json: bool) -> None:
    """Every failed job: id, kind, provider, masked customer, when, attempts, reason."""
    with _failed_jobs() as (failed, _):
        rows = failed.failed(provider=provider, since=_since(since))
    if as_json:
        click.echo(json.dumps({"jobs": [row.to_json() for row in rows]}, indent=2))
        return
    if not rows:
        click.echo("No failed jobs.")
        return
    click.echo(
        f"{'id':<44}  {'kind':<8}  {'provider':<14}  {'customer':<18}  {'failed at (UTC)':<20}  att  reason"
    )
    for row in rows:
        when = (row.to_json()["failed_at"] or "-").replace("T", " ").rstrip("Z")
        click.echo(
            f"{row.id[:44]:<44}  {row.kind.value:<8}  {row.provider[:14]:<14}  {row.party[:18]:<18}  "
            f"{when:<20}  {row.attempts:>3}  {row.reason}"
        )
    click.echo(
        f"\n{len(rows)} failed. See one: bridge jobs show ID. Replay: bridge jobs replay --all --dry-run"
    )


@jobs.command("show")
@click.argument("job_id")
@click.option(
    "--reveal", is_flag=True, help="Show full numbers and the raw payload (mind where this output goes)."
)
def jobs_show(job_id: str, reveal: bool) -> None:
    """Everything about one job, the normalized message included (JSON)."""
    with _failed_jobs() as (failed, _):
        detail = failed.show(job_id, reveal=reveal)
    if detail is None:
        click.echo(f"bridge: no job {job_id!r}", err=True)
        sys.exit(1)
    click.echo(json.dumps(detail, indent=2, ensure_ascii=False))


@jobs.command("replay")
@click.argument("job_ids", nargs=-1)
@click.option("--all", "replay_all", is_flag=True, help="Every failed job (narrow with --provider, --since).")
@click.option("--provider", default=None, help="With --all: only this provider's.")
@click.option("--since", default=None, help="With --all: only those failed since (2h, 3d, or a date).")
@click.option("--dry-run", is_flag=True, help="Say what each replay would do; change nothing.")
@click.option(
    "--wait/--no-wait", default=True, show_default=True, help="Wait for the workers to finish them."
)
@click.option("--timeout", default=600.0, show_default=True, help="With --wait: seconds to wait at most.")
def jobs_replay(
    job_ids: tuple[str, ...],
    replay_all: bool,
    provider: str | None,
    since: str | None,
    dry_run: bool,
    wait: bool,
    timeout: float,
) -> None:
    """Replay failed jobs by id, or --all. What already reached Intercom or the customer is not sent again."""
    if bool(job_ids) == replay_all:
        raise click.UsageError("give job ids or --all (not both)")
    if (provider or since) and not replay_all:
        raise click.UsageError("--provider and --since narrow --all")
    with _failed_jobs(dry_run=dry_run) as (failed, planner):
        ids = list(job_ids) or failed.ids(provider=provider, since=_since(since))
        if not ids:
            click.echo("No failed jobs to replay.")
            return
        replays = _run_with_progress(failed.replay(ids, dry_run=dry_run, planner=planner), len(ids), dry_run)
        queued = [replay.job_id for replay in replays if replay.outcome.value == "queued"]
        for replay in replays:
            click.echo(f"{replay.job_id}: {replay.outcome.value}: {replay.detail}")
            for line in replay.plan:
                click.echo(f"    {line}")
        click.echo(_summary(replays, dry_run))
        if queued and wait:
            sys.exit(_wait_for(failed.connection, queued, timeout))


def _run_with_progress(replays: Iterator[Replay] | Any, total: int, dry_run: bool) -> list[Replay]:
    if total < PROGRESS_FROM or not sys.stdout.isatty():
        return list(replays)
    label = "planning" if dry_run else "replaying"
    with click.progressbar(replays, length=total, label=label) as bar:
        return list(bar)


def _summary(replays: list[Replay], dry_run: bool) -> str:
    counts: dict[str, int] = {}
    for replay in replays:
        counts[replay.outcome.value] = counts.get(replay.outcome.value, 0) + 1
    parts = ", ".join(f"{count} {outcome.replace('_', ' ')}" for outcome, count in sorted(counts.items()))
    return f"\n{'dry run, nothing changed: ' if dry_run else ''}{parts}"


def _wait_for(connection: Redis, job_ids: list[str], timeout: float) -> int:
    """Follow the replayed jobs until each finished or failed again; exit status 1 if any failed
    again (or is still running at the timeout)."""
    from rq.job import Job, JobStatus
    from rq.serializers import JSONSerializer

    from bridge.infra.heartbeats import heartbeats, live_workers

    # A worker killed without a goodbye stays registered until its heartbeat expires: only a
    # recent heartbeat says somebody will run the jobs.
    if not live_workers(heartbeats(connection)):
        click.echo("No worker is running: the jobs are queued and run when one starts (`bridge worker`).")
        return 0
    pending, failed = set(job_ids), []
    deadline = time.monotonic() + timeout
    bar_shown = len(job_ids) >= PROGRESS_FROM and sys.stdout.isatty()
    with click.progressbar(length=len(job_ids), label="delivering", hidden=not bar_shown) as bar:
        while pending and time.monotonic() < deadline:
            jobs = Job.fetch_many(sorted(pending), connection=connection, serializer=JSONSerializer)
            for job in jobs:
                if job is None:
                    continue
                status = job.get_status(refresh=False)
                if status is JobStatus.FINISHED or (status is JobStatus.FAILED and job.meta.get("final")):
                    pending.discard(job.id)
                    bar.update(1)
                    if status is JobStatus.FAILED:
                        failed.append(f"{job.id}: failed again: {job.meta.get('reason', '?')}")
            if pending:
                time.sleep(WAIT_POLL_SECONDS)
    for line in failed:
        click.echo(line)
    if pending:
        click.echo(
            f"{len(pending)} still running or retrying after {timeout:.0f} s: see `bridge jobs failed` later."
        )
    delivered = len(job_ids) - len(failed) - len(pending)
    click.echo(f"{delivered} done, {len(failed)} failed again, {len(pending)} not finished.")
    return 1 if failed or pending else 0


def _since(value: str | None) -> float | None:
    from bridge.ops.jobs import parse_since

    try:
        return parse_since(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None


@contextmanager
def _failed_jobs(*, dry_run: bool = False) -> Iterator[tuple[FailedJobs, Any]]:
    """The failed-jobs service on the configured Redis (embedded if unset), and a dry-run planner."""
    from bridge.core.errors import BridgeError
    from bridge.core.settings import get_settings
    from bridge.infra.connection import redis_client
    from bridge.ops.jobs import FailedJobs
    from bridge.providers.registry import ADAPTERS
    from bridge.runtime.embedded import redis_url

    settings = get_settings()
    try:
        with redis_url(settings) as url, ExitStack() as planning:
            client = planning.enter_context(closing(redis_client(url, timeout=30.0)))
            planner = None
            if dry_run:
                from bridge.ops.replay_plan import dry_run_planner

                planner = planning.enter_context(dry_run_planner(client, settings, ADAPTERS))
            yield FailedJobs(client, settings, ADAPTERS), planner
    except BridgeError as exc:
        click.echo(f"bridge: {exc}", err=True)
        sys.exit(2)
