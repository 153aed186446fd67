"""The context every job runs in: its ids in every log line, and one set-up of what it works with.

The log context's hook is `execute_job`, around everything RQ does for one job: in the forking
worker the work horse is forked inside it and inherits the context, so the job's own lines, RQ's
traceback of a failure and the failure callback's record all carry `job_id` and `request_id`, as
do the parent's lines about that job (a horse that died, a timeout). The log lines are masked by
the logging filter (`bridge.core.logs`); the traceback RQ stores with a failed job is masked here.

`job_setup` is what each job function starts with (`JobSetup`), so the jobs stay a few lines over
one domain call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import TypeVar

import httpx
from redis import Redis
from rq import Queue, SimpleWorker, Worker, get_current_job
from rq.executions import Execution
from rq.job import Job
from rq.registry import StartedJobRegistry
from rq.worker.base import BaseWorker

from bridge.core.context import job_context, sane_request_id
from bridge.core.cookies import NoCookies
from bridge.core.logs import mask
from bridge.core.settings import Settings, get_settings
from bridge.core.tls import tls_context
from bridge.infra.entries import Ledger
from bridge.infra.queueing import JobKind, record_of
from bridge.intake.ledger import InboundLedger
from bridge.intake.raw import RawWebhookStore
from bridge.intercom.client import IntercomClient, intercom_http
from bridge.outreach.store import OutreachStore
from bridge.replies.ledger import ReplyLedger
from bridge.replies.reports import StatusLedger

log = logging.getLogger(__name__)

PROVIDER_TIMEOUT = httpx.Timeout(30.0, connect=10.0)

T = TypeVar("T")


class _LogContext(BaseWorker):
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


class JobContextWorker(_LogContext, Worker):
    """RQ's forking worker, with each job's ids in its log lines."""


class JobContextSimpleWorker(_LogContext, SimpleWorker):
    """RQ's in-process worker, with each job's ids in its log lines."""


# Where each kind of job keeps its record.
_LEDGERS: dict[JobKind, Callable[[Redis, Settings], Ledger]] = {
    JobKind.WEBHOOK: RawWebhookStore,
    JobKind.INBOUND: InboundLedger,
    JobKind.OUTBOUND: ReplyLedger,
    JobKind.STATUS: StatusLedger,
    JobKind.OUTREACH: OutreachStore,
}


def request_id_of(job: Job) -> str | None:
    """The id of the request that queued the job.

    From the job's meta (`bridge.infra.queueing`), which RQ read with the job: reading the record
    instead costs every job a round trip, and an inbound message's record a parse. Checked as a
    request id is on arrival, since it goes into every log line. A job without one in its meta
    (queued by an earlier version, outside a request, or by a caller whose request did not bring
    the record: `JobType.options`) has it from the record it works on, which stores the id of the
    request that brought it (`bridge.infra.queueing` says which record).

    None when there is none or it cannot be read: a log field is never worth failing a job for,
    and a job whose record is missing fails on its own, with the reason.
    """
    carried = job.meta.get("request_id")
    if isinstance(carried, str) and (request_id := sane_request_id(carried)) is not None:
        return request_id
    try:
        kind, record_id = record_of(job) or (None, "")
        ledger = _LEDGERS.get(kind) if kind is not None else None
        entry = ledger(job.connection, get_settings()).get(record_id) if ledger is not None else None
        return entry.request_id if entry is not None else None
    except Exception as exc:  # noqa: BLE001 - see the docstring
        log.debug("no request id for job %s: %s", job.id, type(exc).__name__)
    return None


def provider_client(limits: httpx.Limits | None = None) -> httpx.Client:
    """A client for the providers' APIs: the process's TLS context, no cookies (each call is
    authenticated by its headers: `bridge.core.cookies`), httpx's own pool limits unless given."""
    limits = limits or httpx.Limits(max_connections=100, max_keepalive_connections=20)
    return httpx.Client(timeout=PROVIDER_TIMEOUT, verify=tls_context(), cookies=NoCookies(), limits=limits)


@dataclass(frozen=True)
class SharedClients:
    """HTTP clients a threaded worker process opens once and its concurrent jobs share
    (`workers.threaded`): httpx's clients are thread-safe and pool their connections, so a job
    reuses a warm TLS connection instead of opening its own."""

    intercom: httpx.Client
    providers: httpx.Client

    @classmethod
    def open(cls, settings: Settings, pool_size: int) -> SharedClients:
        limits = httpx.Limits(max_connections=pool_size, max_keepalive_connections=pool_size)
        return cls(
            intercom=intercom_http(settings, pool_size=pool_size),
            providers=provider_client(limits),
        )

    def close(self) -> None:
        self.intercom.close()
        self.providers.close()


_shared: SharedClients | None = None


@contextmanager
def shared_clients(settings: Settings, pool_size: int) -> Iterator[SharedClients]:
    """The process's shared clients for as long as it runs jobs in threads; `job_setup` hands
    them to every job meanwhile."""
    global _shared
    clients = SharedClients.open(settings, pool_size)
    _shared = clients
    try:
        yield clients
    finally:
        _shared = None
        clients.close()


class JobSetup:
    """What a job works with: the settings, the job's Redis, and the clients it asks for, each
    opened on first use and closed when the job ends.

    Clients per job in a forking worker: every job runs in a fresh process, so pooled clients
    made in the parent would not be reused anyway. A threaded worker's jobs share its process's
    pooled clients (`shared`), which outlive the job. Opened only when asked for: a delivery
    report that needs no note never calls Intercom, and so needs no Intercom token.
    """

    def __init__(
        self, job: Job, settings: Settings, resources: ExitStack, shared: SharedClients | None = None
    ) -> None:
        self.id: str = job.id
        self.redis: Redis = job.connection
        self.settings = settings
        self._resources = resources
        self._shared = shared

    def open(self, resource: AbstractContextManager[T]) -> T:
        """`resource`, entered now and left when the job ends."""
        return self._resources.enter_context(resource)

    @cached_property
    def intercom(self) -> IntercomClient:
        # Per job even over a shared connection pool: the client keeps a per-job cache.
        http = self._shared.intercom if self._shared is not None else None
        return self.open(IntercomClient.from_settings(self.settings, redis_client=self.redis, http=http))

    @cached_property
    def provider_http(self) -> httpx.Client:
        """The HTTP client for the providers' APIs."""
        if self._shared is not None:
            return self._shared.providers
        return self.open(provider_client())


@contextmanager
def job_setup() -> Iterator[JobSetup]:
    """The current RQ job's set-up; what it opened is closed on the way out."""
    job = get_current_job()
    assert job is not None, "bridge jobs run inside an RQ worker"
    with ExitStack() as resources:
        yield JobSetup(job, get_settings(), resources, _shared)
