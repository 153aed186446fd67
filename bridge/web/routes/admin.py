"""The ops API: `Authorization: Bearer $BRIDGE_ADMIN_TOKEN`; off (404) when no token is set.

The jobs endpoints answer what `bridge jobs failed|show|replay` print (both call `bridge.ops.jobs`);
a replay here queues and returns at once, without waiting for the workers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field

from bridge.inbox.merges import MergeAudit
from bridge.ops.jobs import FailedJobs, Planner, parse_since
from bridge.web.deps import AdaptersDep, AdminDep, RedisDep, SettingsDep

router = APIRouter(prefix="/admin", tags=["ops"])


@router.get("/merges")
def list_merges(
    _: AdminDep, redis_client: RedisDep, limit: int = Query(100, ge=1, le=1000)
) -> dict[str, Any]:
    """Every merge attempt from the inbox app, newest first: who, when, from, into, outcome, snapshots."""
    return {"merges": MergeAudit(redis_client).recent(limit)}


def _failed_jobs(request: Request, settings: SettingsDep, adapters: AdaptersDep) -> FailedJobs:
    return FailedJobs(request.app.state.redis, settings, adapters)


FailedJobsDep = Annotated[FailedJobs, Depends(_failed_jobs)]


@router.get("/jobs/failed")
def failed_jobs(
    _: AdminDep, jobs: FailedJobsDep, provider: str | None = None, since: str | None = None
) -> dict[str, Any]:
    """Every failed job, oldest failure first: id, kind, provider, masked customer, when, attempts, reason."""
    rows = jobs.failed(provider=provider, since=_since(since))
    return {"jobs": [row.to_json() for row in rows]}


@router.get("/jobs/{job_id}")
def show_job(_: AdminDep, jobs: FailedJobsDep, job_id: str, reveal: bool = False) -> dict[str, Any]:
    """Everything about one job, the normalized message included; full numbers only with `reveal`."""
    detail = jobs.show(job_id, reveal=reveal)
    if detail is None:
        raise HTTPException(404, f"no job {job_id!r}")
    return detail


class ReplayRequest(BaseModel):
    """Which failed jobs to replay: `ids`, or `all` narrowed by `provider` and `since`."""

    ids: list[str] = Field(default_factory=list, max_length=10_000)
    all: bool = False
    provider: str | None = None
    since: str | None = None
    dry_run: bool = False


@router.post("/jobs/replay")
def replay_jobs(
    _: AdminDep, jobs: FailedJobsDep, request: ReplayRequest, settings: SettingsDep, adapters: AdaptersDep
) -> dict[str, Any]:
    """Replay failed jobs; nothing that reached Intercom or the customer is sent again."""
    if bool(request.ids) == request.all:
        raise HTTPException(400, "give ids or all=true (not both)")
    if (request.provider or request.since) and not request.all:
        raise HTTPException(400, "provider and since narrow all=true")
    ids = request.ids or jobs.ids(provider=request.provider, since=_since(request.since))
    with _planner(request.dry_run, jobs, settings, adapters) as planner:
        replays = list(jobs.replay(ids, dry_run=request.dry_run, planner=planner))
    return {"dry_run": request.dry_run, "replays": [replay.to_json() for replay in replays]}


@router.post("/jobs/{job_id}/replay")
def replay_job(
    _: AdminDep,
    jobs: FailedJobsDep,
    job_id: str,
    settings: SettingsDep,
    adapters: AdaptersDep,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Replay one failed job (`dry_run=true`: say what would happen, change nothing)."""
    with _planner(dry_run, jobs, settings, adapters) as planner:
        [replay] = jobs.replay([job_id], dry_run=dry_run, planner=planner)
    return {"dry_run": dry_run, "replays": [replay.to_json()]}


@contextmanager
def _planner(
    dry_run: bool, jobs: FailedJobs, settings: SettingsDep, adapters: AdaptersDep
) -> Iterator[Planner | None]:
    if not dry_run:
        yield None
        return
    from bridge.ops.replay_plan import dry_run_planner

    with dry_run_planner(jobs.connection, settings, adapters) as planner:
        yield planner


def _since(value: str | None) -> float | None:
    try:
        return parse_since(value)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
