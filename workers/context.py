"""Workers whose every log line names the job and the request that queued it.

The hook is `execute_job`, around everything RQ does for one job: in the forking worker the
work horse is forked inside it and inherits the context, so the job's own lines, RQ's traceback
of a failure and the failure callback's record all carry `job_id` and `request_id`, as do the
parent's lines about that job (a horse that died, a timeout). The log lines are masked by the
logging filter (`bridge.core.logs`); the traceback RQ stores with a failed job is masked here.
"""

from __future__ import annotations

import logging

from rq import Queue, SimpleWorker, Worker
from rq.executions import Execution
from rq.job import Job
from rq.registry import StartedJobRegistry
from rq.worker.base import BaseWorker

from bridge.core.context import job_context
from bridge.core.logs import mask
from bridge.core.settings import get_settings
from bridge.intake.ledger import InboundLedger
from bridge.intake.raw import RawWebhookStore
from bridge.replies.agent import ReplyLedger
from bridge.replies.reports import StatusLedger

log = logging.getLogger(__name__)


class _JobContext(BaseWorker):
    def execute_job(self, job: Job, queue: Queue) -> None:
        with job_context(job_id=job.id, request_id=request_id_of(job)):
            super().execute_job(job, queue)

    def handle_job_failure(
        self,
        job: Job,
        queue: Queue,
        started_job_registry: StartedJobRegistry | None = None,
        exc_string: str = "",
        execution: Execution | None = None,
    ) -> None:
        """The traceback RQ keeps with the failed job (what `bridge jobs show` prints), masked
        before it is stored: an httpx error names the full URL it fetched, and a pre-signed
        media URL's query is the access it grants."""
        super().handle_job_failure(
            job, queue, started_job_registry, exc_string=mask(exc_string), execution=execution
        )


class JobContextWorker(_JobContext, Worker):
    """RQ's forking worker, with each job's ids in its log lines."""


class JobContextSimpleWorker(_JobContext, SimpleWorker):
    """RQ's in-process worker, with each job's ids in its log lines."""


def request_id_of(job: Job) -> str | None:
    """The request id stored with the job's ledger entry, found by the job's keyword argument.

    None when there is none or it cannot be read: a log field is never worth failing a job for,
    and a job whose entry is missing fails on its own, with the reason.
    """
    try:
        kwargs = job.kwargs or {}
        settings = get_settings()
        if "inbound_id" in kwargs:
            entry = InboundLedger(job.connection, settings).get(kwargs["inbound_id"])
            return entry.get("request_id") if entry else None
        if "part_id" in kwargs:
            return ReplyLedger(job.connection, settings).get(kwargs["part_id"]).get("request_id") or None
        if "status_id" in kwargs:
            return StatusLedger(job.connection, settings).request_id(kwargs["status_id"])
        if "webhook_id" in kwargs:
            stored = RawWebhookStore(job.connection, settings).get(kwargs["webhook_id"])
            return stored.request_id if stored else None
    except Exception as exc:  # noqa: BLE001 - see the docstring
        log.debug("no request id for job %s: %s", job.id, type(exc).__name__)
    return None
