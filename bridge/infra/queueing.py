"""RQ queues, job ids and retry policy: how work is handed from the web side to the workers.

Jobs are enqueued by dotted name with the JSON serializer, so the web process never imports
worker code and nothing is pickled. Job ids derive from the ledger id, so a job can always be
found from its message and vice versa.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from redis import Redis
from redis.client import Pipeline
from rq import Callback, Queue, Retry
from rq.job import Job
from rq.serializers import JSONSerializer

from bridge.core.settings import Settings

INBOUND_QUEUE = "bridge-inbound"
OUTBOUND_QUEUE = "bridge-outbound"
STATUS_QUEUE = "bridge-status"
QUEUES = (INBOUND_QUEUE, OUTBOUND_QUEUE, STATUS_QUEUE)

PROCESS_INBOUND = "workers.inbound.process_inbound"
READ_WEBHOOK = "workers.webhooks.read_webhook"
READ_WEBHOOKS = "workers.webhooks.read_webhooks"
SEND_REPLY = "workers.outbound.send_reply"
APPLY_STATUS = "workers.statuses.apply_status"
RECORD_FAILURE = "workers.failures.record_failure"
# What workers import.
JOB_FUNCTIONS = (PROCESS_INBOUND, READ_WEBHOOKS, READ_WEBHOOK, SEND_REPLY, APPLY_STATUS, RECORD_FAILURE)

# One message may wait for its sender's earlier messages and for Intercom's rate-limit windows.
JOB_TIMEOUT_SECONDS = 300
RESULT_TTL_SECONDS = 3600


def inbound_queue(redis: Redis) -> Queue:
    return Queue(INBOUND_QUEUE, connection=redis, serializer=JSONSerializer)


def outbound_queue(redis: Redis) -> Queue:
    return Queue(OUTBOUND_QUEUE, connection=redis, serializer=JSONSerializer)


def status_queue(redis: Redis) -> Queue:
    return Queue(STATUS_QUEUE, connection=redis, serializer=JSONSerializer)


def retry_policy(delays: Sequence[int]) -> Retry | None:
    """RQ's retry from `BRIDGE_RETRY_DELAYS`: one retry per delay, in that order."""
    if not delays:
        return None
    return Retry(max=len(delays), interval=list(delays))


def inbound_job_id(inbound_id: str) -> str:
    return f"in-{inbound_id}"


def _options(settings: Settings, *, job_id: str, kwargs: dict[str, Any], description: str) -> dict[str, Any]:
    """What every bridge job carries: its id, JSON kwargs, timeouts, retry policy and the failure
    callback that records why it failed."""
    return {
        "kwargs": kwargs,
        "job_id": job_id,
        "timeout": JOB_TIMEOUT_SECONDS,
        "result_ttl": RESULT_TTL_SECONDS,
        "failure_ttl": settings.retention_days * 86400,
        "retry": retry_policy(settings.retry_delays),
        "on_failure": Callback(RECORD_FAILURE),
        "description": description,
    }


def enqueue_inbound(
    queue: Queue, inbound_id: str, *, settings: Settings, pipeline: Pipeline | None = None
) -> Job:
    """Queue delivery of one ledger entry; with `pipeline`, inside the caller's transaction."""
    options = _options(
        settings,
        job_id=inbound_job_id(inbound_id),
        kwargs={"inbound_id": inbound_id},
        description=f"deliver inbound {inbound_id}",
    )
    return queue.enqueue_call(PROCESS_INBOUND, pipeline=pipeline, **options)


def enqueue_webhook(
    queue: Queue, webhook_id: str, *, settings: Settings, pipeline: Pipeline | None = None
) -> Job:
    """Queue reading one stored webhook (`bridge.intake.raw`) on the inbound queue."""
    options = _options(
        settings,
        job_id=f"wh-{webhook_id}",
        kwargs={"webhook_id": webhook_id},
        description=f"read webhook {webhook_id}",
    )
    return queue.enqueue_call(READ_WEBHOOK, pipeline=pipeline, **options)


def reader_job_id() -> str:
    """A reader job's id: new each time, so a reader still running is never overwritten by the
    next one's job, and the reader's flag can name the job that holds it."""
    return f"rd-{uuid.uuid4().hex}"


def enqueue_reader(
    queue: Queue, *, settings: Settings, pipeline: Pipeline | None = None, job_id: str | None = None
) -> Job:
    """Queue a reader of the webhooks stored and not read yet (`bridge.intake.raw`)."""
    options = _options(
        settings, job_id=job_id or reader_job_id(), kwargs={}, description="read the webhooks stored"
    )
    return queue.enqueue_call(READ_WEBHOOKS, pipeline=pipeline, **options)


def schedule_inbound(queue: Queue, inbound_id: str, *, delay_seconds: float, settings: Settings) -> Job:
    """Look at `inbound_id` again later (the parts of a long SMS still missing); one pending look
    per message, whatever number of parts ask for it."""
    options = _options(
        settings,
        job_id=f"{inbound_job_id(inbound_id)}-later",
        kwargs={"inbound_id": inbound_id},
        description=f"deliver inbound {inbound_id} (parts waited for)",
    )
    job = queue.create_job(PROCESS_INBOUND, **options)
    return queue.schedule_job(job, datetime.now(UTC) + timedelta(seconds=max(delay_seconds, 1.0)))


def enqueue_status(
    queue: Queue, status_id: str, *, settings: Settings, pipeline: Pipeline | None = None
) -> Job:
    """Queue the application of one delivery report; with `pipeline`, inside the caller's transaction."""
    options = _options(
        settings,
        job_id=f"st-{status_id}",
        kwargs={"status_id": status_id},
        description=f"apply delivery report {status_id}",
    )
    return queue.enqueue_call(APPLY_STATUS, pipeline=pipeline, **options)


def enqueue_reply(queue: Queue, part_id: str, *, settings: Settings, pipeline: Pipeline | None = None) -> Job:
    """Queue sending one agent reply; with `pipeline`, inside the caller's transaction."""
    options = _options(
        settings,
        job_id=f"out-{part_id}",
        kwargs={"part_id": part_id},
        description=f"send reply part {part_id}",
    )
    return queue.enqueue_call(SEND_REPLY, pipeline=pipeline, **options)
