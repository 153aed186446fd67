"""The ops API: `Authorization: Bearer $BRIDGE_ADMIN_TOKEN`; off (404) when no token is set.

The jobs endpoints answer what `bridge jobs failed|show|replay` print (both call `bridge.ops.jobs`);
a replay here queues and returns at once, without waiting for the workers. Forgetting a customer
answers what `bridge contacts forget` prints, once it is done (`bridge.ops.forget`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from redis import Redis

from bridge.core.settings import Settings
from bridge.inbox.merges import MergeAudit
from bridge.intercom.client import IntercomClient
from bridge.model.messages import Channel
from bridge.ops.consent import UnknownNumber, consent_report, customer_of, set_consent
from bridge.ops.forget import Forgetter, masked
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


@router.get("/consent/{number}")
def show_consent(_: AdminDep, redis_client: RedisDep, settings: SettingsDep, number: str) -> dict[str, Any]:
    """A customer's consent on every business number, and every change (`bridge consent show`)."""
    try:
        return consent_report(redis_client, number, settings)
    except UnknownNumber as unknown:
        raise HTTPException(422, str(unknown)) from None


class ConsentRequest(BaseModel):
    """A choice the customer made elsewhere (by phone, by email), for one business number."""

    model_config = ConfigDict(populate_by_name=True)

    number: str = Field(min_length=1, max_length=64)
    business: str = Field(alias="from", min_length=1, max_length=64)
    channel: Channel = Channel.SMS
    opted_out: bool
    reason: str = Field(min_length=1, max_length=500)
    operator: str = Field("ops API", min_length=1, max_length=100)


@router.post("/consent")
def record_consent(
    _: AdminDep, redis_client: RedisDep, settings: SettingsDep, body: ConsentRequest
) -> dict[str, Any]:
    """Record it (`bridge consent set`): audited as the operator's, mirrored on the Intercom contact."""
    try:
        with _intercom_if_configured(settings, redis_client) as intercom:
            change = set_consent(
                redis_client,
                intercom,
                settings,
                number=body.number,
                business=body.business,
                channel=body.channel,
                opted_out=body.opted_out,
                reason=body.reason,
                operator=body.operator,
            )
    except (UnknownNumber, ValueError) as refused:
        raise HTTPException(422, str(refused)) from None
    return change.to_json()


@contextmanager
def _intercom_if_configured(settings: Settings, redis_client: Redis) -> Iterator[IntercomClient | None]:
    if settings.intercom_access_token is None:
        yield None
        return
    with IntercomClient.from_settings(settings, redis_client=redis_client) as intercom:
        yield intercom


class ForgetRequest(BaseModel):
    """The customer to forget: a number in any form (or a WhatsApp user id)."""

    number: str = Field(min_length=1, max_length=64)


@router.post("/contacts/forget")
def forget_contact(
    _: AdminDep, redis_client: RedisDep, settings: SettingsDep, body: ForgetRequest
) -> dict[str, Any]:
    """Forget a customer (`bridge contacts forget`): every record, opt-outs kept hashed; never Intercom."""
    try:
        customer = customer_of(body.number, settings)
    except UnknownNumber as unknown:
        raise HTTPException(422, str(unknown)) from None
    report = Forgetter(redis_client, settings).number(customer)
    return {"customer": masked(customer), **report.to_json()}
