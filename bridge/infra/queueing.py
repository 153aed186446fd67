"""RQ queues, job ids and retry policy: how work is handed from the web side to the workers.

Every kind of job is one row of `JOB_TYPES`: its id prefix, the job function's dotted path, its
queue and the keyword argument naming the record it works on. Whatever maps between job ids,
kinds, functions and arguments (ops' failed list and replays, the workers' log context and
failure callback) reads that table, so a kind is described once.

Jobs are enqueued by dotted name with the JSON serializer, so the web process never imports
worker code and nothing is pickled. Job ids derive from the record's id, so a job can always be
found from its message and vice versa. RQ stores the dotted path and the keyword argument with
every queued job: a deployment upgraded with jobs in its queues runs them by those, so neither
ever changes (`tests/workers/test_jobs_queued_before.py`).

A job on a record carries the id of the request it was queued in (`bridge.core.context`) in its
RQ meta: RQ reads the meta with the job, so the worker's log context has it without reading the
record (`workers.context.request_id_of`), which the record also stores.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from redis import Redis
from redis.client import Pipeline
from rq import Callback, Queue, Retry
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from bridge.core.context import current_request_id
from bridge.core.settings import Settings
from bridge.infra.worker_timings import JOB_TIMEOUT_SECONDS

INBOUND_QUEUE = "bridge-inbound"
OUTBOUND_QUEUE = "bridge-outbound"
STATUS_QUEUE = "bridge-status"
QUEUES = (INBOUND_QUEUE, OUTBOUND_QUEUE, STATUS_QUEUE)

# RQ calls it after every failed attempt of any bridge job (`workers.failures`).
RECORD_FAILURE = "workers.failures.record_failure"

RESULT_TTL_SECONDS = 3600


class JobKind(StrEnum):
    """What a job carries, as ops list it."""

    INBOUND = "inbound"  # a customer's message on its way into Intercom
    OUTBOUND = "outbound"  # an agent's reply on its way to the customer
    STATUS = "status"  # a provider's delivery report on its way to the conversation
    WEBHOOK = "webhook"  # stored webhooks read by a worker: the reader, or one read again
    OUTREACH = "outreach"  # a message the team wrote first, on its way to the customer
    FORGET = "forget"  # a contact Intercom deleted, whose numbers the bridge forgets


@dataclass(frozen=True)
class JobType:
    """One kind of bridge job. Every kind shares the timeouts, the retry policy
    (`BRIDGE_RETRY_DELAYS`) and the failure callback: `options` gives them."""

    kind: JobKind
    prefix: str  # its job ids start with this, followed by its record's id
    function: str  # the job function's dotted path, stored with each queued job: never renamed
    queue: str
    record: str | None  # the keyword argument naming its record; None: it works on none
    description: str  # what `rq info` shows; "{}" is the record's id

    def job_id(self, record_id: str) -> str:
        return f"{self.prefix}{record_id}"

    def record_id(self, job: Job) -> str | None:
        """The id of the record `job` works on, from the keyword argument every version stored;
        None for a kind that has no record, "" when the argument is missing."""
        if self.record is None:
            return None
        return str((job.kwargs or {}).get(self.record) or "")

    def options(
        self,
        record_id: str,
        *,
        settings: Settings,
        job_id: str | None = None,
        description: str = "",
        carry_request_id: bool = True,
    ) -> dict[str, Any]:
        """RQ's options for this kind's job on `record_id`: its id, JSON kwargs, timeouts, retry
        policy, the failure callback that records why it failed, and the current request's id in
        its meta (the module docstring says why).

        No request id when there is no request, for a kind that works on no record (the reader
        reads the webhooks of many requests: what it queues for each must not carry the first
        one's id), or without `carry_request_id`, for a caller whose request is not the one that
        brought the record (an operator's replay; a job queueing another message's). Without a
        meta, RQ leaves the one stored under the job's id as it is (a replayed job's keeps its
        reason and the request id it was first queued with), and the worker reads the id from
        the record.
        """
        options: dict[str, Any] = {
            "kwargs": {self.record: record_id} if self.record else {},
            "job_id": job_id or self.job_id(record_id),
            "timeout": JOB_TIMEOUT_SECONDS,
            "result_ttl": RESULT_TTL_SECONDS,
            "failure_ttl": settings.retention_days * 86400,
            "retry": retry_policy(settings.retry_delays),
            "on_failure": Callback(RECORD_FAILURE),
            "description": description or self.description.format(record_id),
        }
        request_id = current_request_id() if self.record is not None and carry_request_id else None
        if request_id:
            options["meta"] = {"request_id": request_id}
        return options

    def enqueue(
        self,
        queue: Queue,
        record_id: str,
        *,
        settings: Settings,
        pipeline: Pipeline | None = None,
        job_id: str | None = None,
        carry_request_id: bool = True,
    ) -> Job:
        """Queue this kind's job on `record_id`; with `pipeline`, inside the caller's transaction.
        `carry_request_id`: see `options`."""
        options = self.options(record_id, settings=settings, job_id=job_id, carry_request_id=carry_request_id)
        return queue.enqueue_call(self.function, pipeline=pipeline, **options)


# The job functions' dotted paths. RQ stores them with every queued job: never renamed or moved.
PROCESS_INBOUND = "workers.inbound.process_inbound"
READ_WEBHOOK = "workers.webhooks.read_webhook"
READ_WEBHOOKS = "workers.webhooks.read_webhooks"
SEND_REPLY = "workers.outbound.send_reply"
APPLY_STATUS = "workers.statuses.apply_status"
SEND_MESSAGE = "workers.outreach.send_message"
FORGET_CONTACT = "workers.forget.forget_contact"

# Each kind of job: what ops call it, its id prefix, function, queue, record argument, description.
JOB_TYPES = (
    JobType(JobKind.INBOUND, "in-", PROCESS_INBOUND, INBOUND_QUEUE, "inbound_id", "deliver inbound {}"),
    # A verified webhook the reader could not read, read again (`bridge.intake.raw`).
    JobType(JobKind.WEBHOOK, "wh-", READ_WEBHOOK, INBOUND_QUEUE, "webhook_id", "read webhook {}"),
    # The reader of the webhooks stored and not read yet; its id is new each time.
    JobType(JobKind.WEBHOOK, "rd-", READ_WEBHOOKS, INBOUND_QUEUE, None, "read the webhooks stored"),
    JobType(JobKind.OUTBOUND, "out-", SEND_REPLY, OUTBOUND_QUEUE, "part_id", "send reply part {}"),
    JobType(JobKind.STATUS, "st-", APPLY_STATUS, STATUS_QUEUE, "status_id", "apply delivery report {}"),
    JobType(JobKind.OUTREACH, "msg-", SEND_MESSAGE, OUTBOUND_QUEUE, "message_id", "send message {}"),
    # Intercom's contact.deleted (`bridge.replies.deletions`): on the inbound queue, behind the
    # contact's messages already queued.
    JobType(JobKind.FORGET, "fg-", FORGET_CONTACT, INBOUND_QUEUE, "contact_id", "forget deleted contact {}"),
)
INBOUND_JOB, WEBHOOK_JOB, READER_JOB, REPLY_JOB, STATUS_JOB, OUTREACH_JOB, FORGET_JOB = JOB_TYPES
# What workers import.
JOB_FUNCTIONS = (*(job_type.function for job_type in JOB_TYPES), RECORD_FAILURE)


def job_type_of(job_id: str) -> JobType | None:
    """A bridge job's type from its id; None for an id no bridge version gave."""
    return next((job_type for job_type in JOB_TYPES if job_id.startswith(job_type.prefix)), None)


def record_of(job: Job) -> tuple[JobKind, str] | None:
    """A bridge job's kind and the id of the record it works on; None for a job that names no
    record (the reader, or a job no bridge version queued)."""
    job_type = job_type_of(job.id)
    record_id = job_type.record_id(job) if job_type is not None else None
    return (job_type.kind, record_id) if job_type is not None and record_id else None


def queue_named(redis: Redis, name: str) -> Queue:
    return Queue(name, connection=redis, serializer=JSONSerializer)


def inbound_queue(redis: Redis) -> Queue:
    return queue_named(redis, INBOUND_QUEUE)


def outbound_queue(redis: Redis) -> Queue:
    return queue_named(redis, OUTBOUND_QUEUE)


def status_queue(redis: Redis) -> Queue:
    return queue_named(redis, STATUS_QUEUE)


def retry_policy(delays: Sequence[int]) -> Retry | None:
    """RQ's retry from `BRIDGE_RETRY_DELAYS`: one retry per delay, in that order."""
    if not delays:
        return None
    return Retry(max=len(delays), interval=list(delays))


def inbound_job_id(inbound_id: str) -> str:
    return INBOUND_JOB.job_id(inbound_id)


def enqueue_inbound(
    queue: Queue, inbound_id: str, *, settings: Settings, pipeline: Pipeline | None = None
) -> Job:
    """Queue delivery of one ledger entry; with `pipeline`, inside the caller's transaction."""
    return INBOUND_JOB.enqueue(queue, inbound_id, settings=settings, pipeline=pipeline)


def enqueue_webhook(
    queue: Queue, webhook_id: str, *, settings: Settings, pipeline: Pipeline | None = None
) -> Job:
    """Queue reading one stored webhook (`bridge.intake.raw`) on the inbound queue."""
    return WEBHOOK_JOB.enqueue(queue, webhook_id, settings=settings, pipeline=pipeline)


def reader_job_id() -> str:
    """A reader job's id: new each time, so a reader still running is never overwritten by the
    next one's job, and the reader's flag can name the job that holds it."""
    return READER_JOB.job_id(uuid.uuid4().hex)


def enqueue_reader(
    queue: Queue, *, settings: Settings, pipeline: Pipeline | None = None, job_id: str | None = None
) -> Job:
    """Queue a reader of the webhooks stored and not read yet (`bridge.intake.raw`)."""
    job_id = job_id or reader_job_id()
    return READER_JOB.enqueue(queue, job_id, settings=settings, pipeline=pipeline, job_id=job_id)


def schedule_inbound(
    queue: Queue,
    inbound_id: str,
    *,
    delay_seconds: float,
    settings: Settings,
    carry_request_id: bool = True,
) -> Job:
    """Look at `inbound_id` again later (the parts of a long SMS still missing); one pending look
    per message, whatever number of parts ask for it. `carry_request_id`: see `JobType.options`."""
    options = INBOUND_JOB.options(
        inbound_id,
        settings=settings,
        job_id=f"{inbound_job_id(inbound_id)}-later",
        description=f"deliver inbound {inbound_id} (parts waited for)",
        carry_request_id=carry_request_id,
    )
    job = queue.create_job(INBOUND_JOB.function, **options)
    return queue.schedule_job(job, datetime.now(UTC) + timedelta(seconds=max(delay_seconds, 1.0)))


# A job in one of these will deliver its message: a hand-off leaves it alone.
_PENDING = (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.STARTED, JobStatus.DEFERRED)


def hand_off_inbound(
    queue: Queue, inbound_id: str, *, settings: Settings, delay_seconds: float = 0.0
) -> bool:
    """Give a message waiting in its sender's lane a job of its own (the job that was to deliver
    it could not: `bridge.conversations.delivery.Handoff`), unless its job is queued, scheduled
    or running already; after `delay_seconds` when given (`schedule_inbound`). Whether one was
    queued. A job queued twice would only find its message delivered: this keeps the queue and
    `rq info` free of those. The job's log lines carry its message's request id, read from the
    message by the job (the one in force here is another message's)."""
    if delay_seconds > 0:
        schedule_inbound(
            queue, inbound_id, delay_seconds=delay_seconds, settings=settings, carry_request_id=False
        )
        return True
    status = queue.connection.hget(Job.key_for(inbound_job_id(inbound_id)), "status")
    if status is not None and JobStatus(status.decode() if isinstance(status, bytes) else status) in _PENDING:
        return False
    INBOUND_JOB.enqueue(queue, inbound_id, settings=settings, carry_request_id=False)
    return True


def enqueue_status(
    queue: Queue, status_id: str, *, settings: Settings, pipeline: Pipeline | None = None
) -> Job:
    """Queue the application of one delivery report; with `pipeline`, inside the caller's transaction."""
    return STATUS_JOB.enqueue(queue, status_id, settings=settings, pipeline=pipeline)


def enqueue_reply(queue: Queue, part_id: str, *, settings: Settings, pipeline: Pipeline | None = None) -> Job:
    """Queue sending one agent reply; with `pipeline`, inside the caller's transaction."""
    return REPLY_JOB.enqueue(queue, part_id, settings=settings, pipeline=pipeline)
