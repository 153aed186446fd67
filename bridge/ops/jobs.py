"""Failed work, for operators: list it, explain it, replay it without sending anything twice.

Every job that failed for good sits in its queue's RQ `FailedJobRegistry` (kept as long as the
ledgers, `BRIDGE_RETENTION_DAYS`), with the reason and attempt count `workers.failures` recorded.
The registry is the index; the ledgers are what make a replay safe. An inbound message's entry is
`delivered` once it reached Intercom and holds recovery points (contact, media) before that; a
reply part records each provider message id before sending the next; a message the team wrote
first records its contact, its conversation and each provider message id, each before the next
step; a delivery report applies only if newer, and its note is said once. So a replay just
queues the job again, with a fresh retry budget, after taking it out of the registry (one ZREM:
two operators replaying at once queue it once), and the job skips whatever already happened.
A job's kind, queue and record are read from its id and keyword argument through the job-kind
table (`bridge.infra.queueing`).

A message the provider refused is listed with the provider's code and reason, as the sender
recorded them on the message.

Accepted-but-unprocessable messages (a sender that is no number, a message type not supported, a
reply whose provider is not configured) failed with a permanent error and are listed the same way.
Replaying an inbound one parses its stored payload again first, so a fix (a default region, a
newer bridge) lets it through.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from redis import Redis
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer

from bridge.conversations.threads import ThreadStore
from bridge.core.logs import mask, mask_number
from bridge.core.settings import Settings
from bridge.infra.queueing import (
    INBOUND_JOB,
    QUEUES,
    READER_JOB,
    WEBHOOK_JOB,
    JobKind,
    JobType,
    enqueue_reader,
    job_type_of,
    queue_named,
)
from bridge.intake.ledger import InboundEntry, InboundLedger, Status
from bridge.intake.raw import RawWebhook, RawWebhookStore, as_request
from bridge.model.messages import InboundMessage
from bridge.model.senders import SenderIdentity
from bridge.outreach.store import FINAL as OUTREACH_FINAL
from bridge.outreach.store import OutreachEntry, OutreachStatus, OutreachStore
from bridge.providers.base import ProviderAdapter
from bridge.replies.ledger import FINAL, ReplyEntry, ReplyLedger
from bridge.replies.reports import StatusLedger

# What RQ accepts as a job id (`rq.job.validate_job_id`); an operator can type anything.
RQ_JOB_ID = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class FailedJob:
    """One row of `bridge jobs failed`: enough to recognise it and know why, no full number."""

    id: str
    kind: JobKind
    provider: str
    party: str  # the customer, masked: the sender of an inbound message, the recipient of a reply or message
    failed_at: float | None
    attempts: int
    reason: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"failed_at": iso(self.failed_at)}


class ReplayOutcome(StrEnum):
    QUEUED = "queued"  # back on its queue, fresh retry budget
    PLANNED = "planned"  # dry run: what a replay would do, nothing changed
    ALREADY_DONE = "already_done"  # it reached Intercom or the customer before: nothing to do
    STILL_UNPROCESSABLE = "still_unprocessable"  # parsed again, it still cannot be delivered
    EXPIRED = "expired"  # its record is past retention: nothing left to replay
    NOT_FAILED = "not_failed"  # not in the failed list (replayed already, or no such job)


@dataclass(frozen=True)
class Replay:
    job_id: str
    outcome: ReplayOutcome
    detail: str
    plan: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "outcome": self.outcome.value,
            "detail": self.detail,
            "plan": list(self.plan),
        }


# The dry-run planner: given a job's kind and record, the lines saying what a replay would do.
Planner = Callable[["JobRecord"], list[str]]


@dataclass(frozen=True)
class JobRecord:
    """A failed job and the ledger record it works on (None when that expired)."""

    job: Job
    job_type: JobType
    record_id: str = ""  # what the job's keyword argument names ("" for the reader)
    inbound: InboundEntry | None = None
    reply: ReplyEntry | None = None
    webhook: RawWebhook | None = None
    outreach: OutreachEntry | None = None

    @property
    def kind(self) -> JobKind:
        return self.job_type.kind


class FailedJobs:
    """The failed jobs of the bridge's three queues, read and replayed through their ledgers."""

    def __init__(
        self, redis_client: Redis, settings: Settings, adapters: Mapping[str, ProviderAdapter]
    ) -> None:
        self._redis = redis_client
        self._settings = settings
        self._adapters = adapters
        self._inbound = InboundLedger(redis_client, settings)
        self._replies = ReplyLedger(redis_client, settings)
        self._statuses = StatusLedger(redis_client, settings)
        self._threads = ThreadStore(redis_client)
        self._webhooks = RawWebhookStore(redis_client, settings)
        self._outreach = OutreachStore(redis_client, settings)
        self._queues = {name: queue_named(redis_client, name) for name in QUEUES}

    @property
    def connection(self) -> Redis:
        return self._redis

    # --- reading ---

    def failed(self, *, provider: str | None = None, since: float | None = None) -> list[FailedJob]:
        """Every failed job, oldest failure first; only `provider`'s, only those failed since `since`."""
        rows = []
        for queue in QUEUES:
            ids = [job_id for job_id in self._registry(queue).get_job_ids() if _type(job_id).queue == queue]
            for job in self._fetch(ids):
                row = self._row(self._record(job))
                if provider is not None and row.provider != provider:
                    continue
                if since is not None and (row.failed_at or 0.0) < since:
                    continue
                rows.append(row)
        return sorted(rows, key=lambda row: (row.failed_at or 0.0, row.id))

    def ids(self, *, provider: str | None = None, since: float | None = None) -> list[str]:
        return [row.id for row in self.failed(provider=provider, since=since)]

    def show(self, job_id: str, *, reveal: bool = False) -> dict[str, Any] | None:
        """Everything about one job (failed or not), the normalized message included; every party
        masked, media URLs without their query and the raw payload left out unless `reveal`. None
        when there is no such job, nor a message it would be the job of."""
        job = self._job(job_id)
        if job is None:
            return self._laned(job_id, reveal=reveal)
        record = self._record(job)
        row = self._row(record)
        result = job.latest_result()
        detail: dict[str, Any] = {
            **row.to_json(),
            "queue": job.origin,
            "state": job.get_status(refresh=False).value if job.get_status(refresh=False) else "unknown",
            "in_failed_list": job.id in self._registry(record.job_type.queue),
            "final": bool(job.meta.get("final", False)),
            "enqueued_at": iso(job.enqueued_at.timestamp()) if job.enqueued_at else None,
            "ended_at": iso(job.ended_at.timestamp()) if job.ended_at else None,
            "traceback": mask(result.exc_string) if result is not None and result.exc_string else None,
        }
        if record.inbound is not None:
            detail["record"] = _inbound_detail(record.inbound, reveal=reveal)
        elif record.reply is not None:
            detail["record"] = _reply_detail(record.reply, self._threads, reveal=reveal)
        elif record.kind is JobKind.STATUS:
            entry = self._statuses.get(record.record_id)
            detail["record"] = _status_detail(entry.report.model_dump(mode="json"), reveal) if entry else None
        elif record.webhook is not None:
            detail["record"] = _webhook_detail(record.webhook, reveal=reveal)
        elif record.outreach is not None:
            detail["record"] = _outreach_detail(record.outreach, reveal=reveal)
        else:
            detail["record"] = None
        return detail

    def _laned(self, job_id: str, *, reveal: bool) -> dict[str, Any] | None:
        """A message that never had a job of its own (`in-{id}` names none): only the first in
        its sender's lane is queued, and that job delivers those behind it
        (`bridge.conversations.lanes`). What the ledger says of it, so that an operator looking it
        up by its job's id finds it."""
        if job_type_of(job_id) is not INBOUND_JOB:
            return None
        entry = self._inbound.get(job_id.removeprefix(INBOUND_JOB.prefix))
        if entry is None:
            return None
        return {
            "id": job_id,
            "kind": JobKind.INBOUND.value,
            "provider": entry.message.provider,
            "party": masked_identity(entry.message.sender),
            "state": entry.status.value,
            "job": "none of its own: delivered in its sender's lane by the job of the message ahead of it",
            "reason": entry.error or None,
            "record": _inbound_detail(entry, reveal=reveal),
        }

    # --- replaying ---

    def replay(
        self, job_ids: Iterable[str], *, dry_run: bool = False, planner: Planner | None = None
    ) -> Iterable[Replay]:
        """Replay each job (lazily, one at a time, so a caller can show progress). A dry run
        changes nothing and returns each job's plan from `planner`."""
        for job_id in job_ids:
            yield self._replay_one(job_id, dry_run=dry_run, planner=planner)

    def _replay_one(self, job_id: str, *, dry_run: bool, planner: Planner | None) -> Replay:
        job = self._job(job_id)
        job_type = job_type_of(job_id)
        if job is None or job_type is None or job_id not in self._registry(job_type.queue):
            return Replay(job_id, ReplayOutcome.NOT_FAILED, "not in the failed list: nothing to replay")
        record = self._record(job)
        settled = self._settled(record)
        if settled is not None:
            if not dry_run:
                self._registry(job_type.queue).remove(job_id)
            return settled
        if record.inbound is not None and record.inbound.message.problem:
            reparsed = self._reparse(record.inbound)
            problem = reparsed.problem if reparsed is not None else record.inbound.message.problem
            if reparsed is None or problem:
                return Replay(
                    job_id, ReplayOutcome.STILL_UNPROCESSABLE, f"still cannot be delivered: {problem}"
                )
            if not dry_run:
                self._inbound.replace_message(record.inbound.inbound_id, reparsed)
            record = replace(record, inbound=replace(record.inbound, message=reparsed))
        if dry_run:
            plan = tuple(planner(record)) if planner is not None else ()
            return Replay(job_id, ReplayOutcome.PLANNED, "a replay would queue it again", plan)
        if not self._registry(job_type.queue).remove(job_id):  # someone else replayed it a moment ago
            return Replay(job_id, ReplayOutcome.NOT_FAILED, "replayed by someone else just now")
        self._requeue(record)
        return Replay(job_id, ReplayOutcome.QUEUED, "queued again with a fresh retry budget")

    def _settled(self, record: JobRecord) -> Replay | None:
        """The replay's answer when there is nothing left to do (already done, or expired)."""
        job_id = record.job.id
        if record.kind is JobKind.INBOUND:
            if record.inbound is None:
                return Replay(
                    job_id, ReplayOutcome.EXPIRED, "the message is past retention; nothing to replay"
                )
            if record.inbound.status is Status.DELIVERED:
                where = record.inbound.conversation_id or "?"
                return Replay(job_id, ReplayOutcome.ALREADY_DONE, f"already in conversation {where}")
        if record.kind is JobKind.OUTBOUND:
            if record.reply is None:
                return Replay(job_id, ReplayOutcome.EXPIRED, "the reply is past retention; nothing to replay")
            if record.reply.status in FINAL:
                return Replay(job_id, ReplayOutcome.ALREADY_DONE, f"already {record.reply.status.value}")
        if record.kind is JobKind.OUTREACH:
            if record.outreach is None:
                return Replay(
                    job_id, ReplayOutcome.EXPIRED, "the message is past retention; nothing to replay"
                )
            if record.outreach.status in OUTREACH_FINAL - {OutreachStatus.FAILED}:
                return Replay(job_id, ReplayOutcome.ALREADY_DONE, f"already {record.outreach.status.value}")
        if record.kind is JobKind.STATUS and self._statuses.get(record.record_id) is None:
            return Replay(job_id, ReplayOutcome.EXPIRED, "the report is past retention; nothing to replay")
        if record.job_type is WEBHOOK_JOB:
            if record.webhook is None:
                return Replay(
                    job_id, ReplayOutcome.EXPIRED, "the webhook is past retention; nothing to replay"
                )
            if record.webhook.read_at is not None:
                return Replay(job_id, ReplayOutcome.ALREADY_DONE, "already read: its messages were queued")
        return None

    def _requeue(self, record: JobRecord) -> None:
        queue = self._queues[record.job_type.queue]
        if record.kind is JobKind.INBOUND:
            self._inbound.requeue(record.record_id)
        elif record.kind is JobKind.OUTBOUND:
            self._replies.requeue(record.record_id)
        elif record.kind is JobKind.OUTREACH:
            self._outreach.requeue(record.record_id)  # what was done stays recorded: not done again
        if record.job_type is READER_JOB:
            enqueue_reader(queue, settings=self._settings)  # a new reader takes whatever is pending
        else:
            # Over the failed job, whose meta keeps its reason and the request id it was first
            # queued with: the replay's lines join the message's, not the operator's request.
            record.job_type.enqueue(queue, record.record_id, settings=self._settings, carry_request_id=False)

    def _reparse(self, entry: InboundEntry) -> InboundMessage | None:
        """The stored payload parsed again (it was verified on arrival): the same message, as this
        bridge reads it now. None when the payload no longer yields it."""
        adapter = self._adapters.get(entry.message.provider)
        if adapter is None or entry.raw is None:
            return None
        request = as_request(entry.raw, received_at=entry.message.received_at, settings=self._settings)
        try:
            content = adapter.parse(request, self._settings)
        except Exception:  # noqa: BLE001 - a payload this bridge cannot read at all is "still unprocessable"
            return None
        same = [m for m in content.messages if m.provider_message_id == entry.message.provider_message_id]
        # As it was received: its time, and whether its signature verified (if not, media are withheld).
        kept = {"received_at": entry.message.received_at, "verified": entry.message.verified}
        return same[0].model_copy(update=kept) if same else None

    # --- plumbing ---

    def _registry(self, queue: str) -> FailedJobRegistry:
        return FailedJobRegistry(queue=self._queues[queue])

    def _job(self, job_id: str) -> Job | None:
        if not RQ_JOB_ID.fullmatch(job_id):
            return None  # RQ raises ValueError rather than look such an id up: there is no such job
        try:
            return Job.fetch(job_id, connection=self._redis, serializer=JSONSerializer)
        except NoSuchJobError:
            return None

    def _fetch(self, job_ids: list[str]) -> list[Job]:
        jobs = Job.fetch_many(job_ids, connection=self._redis, serializer=JSONSerializer)
        return [job for job in jobs if job is not None]

    def _record(self, job: Job) -> JobRecord:
        job_type = _type(job.id)
        record = JobRecord(job=job, job_type=job_type, record_id=job_type.record_id(job) or "")
        if job_type.kind is JobKind.WEBHOOK:
            return replace(record, webhook=self._webhooks.get(record.record_id))
        if job_type.kind is JobKind.INBOUND:
            return replace(record, inbound=self._inbound.get(record.record_id))
        if job_type.kind is JobKind.OUTBOUND:
            return replace(record, reply=self._replies.get(record.record_id))
        if job_type.kind is JobKind.OUTREACH:
            return replace(record, outreach=self._outreach.get(record.record_id))
        return record

    def _row(self, record: JobRecord) -> FailedJob:
        job = record.job
        provider, party = "?", "?"
        if record.inbound is not None:
            provider, party = record.inbound.message.provider, masked_identity(record.inbound.message.sender)
        elif record.reply is not None:
            thread = self._threads.by_conversation(record.reply.conversation_id)
            if thread is not None:
                provider, party = thread.provider, mask_number(thread.customer_address)
        elif record.kind is JobKind.STATUS:
            entry = self._statuses.get(record.record_id)
            if entry is not None:
                report = entry.report
                provider, party = report.provider, mask_number(report.recipient) if report.recipient else "?"
        elif record.webhook is not None:
            provider = record.webhook.provider  # the party is unknown until the webhook is read
        elif record.outreach is not None:
            provider, party = record.outreach.provider, masked_identity(record.outreach.customer)
        if provider == "?" and record.kind in (JobKind.INBOUND, JobKind.WEBHOOK):
            provider = (record.record_id or "?").split("-", 1)[0]
        failed_at = job.meta.get("failed_at")
        reason = str(job.meta.get("reason") or _last_line(job) or "unknown")
        if record.outreach is not None and record.outreach.error_code:
            reason = _refusal(record.outreach)
        return FailedJob(
            id=job.id,
            kind=record.kind,
            provider=provider,
            party=party,
            failed_at=float(failed_at) if failed_at is not None else None,
            attempts=int(job.meta.get("attempts", 1 if failed_at is not None else 0)),
            reason=reason,
        )


# --- presentation helpers (pure) ---


def _type(job_id: str) -> JobType:
    """A job's type; an id no bridge version gave is taken for an inbound job's."""
    return job_type_of(job_id) or INBOUND_JOB


def _webhook_detail(webhook: RawWebhook, *, reveal: bool) -> dict[str, Any]:
    """A stored webhook as ops see it: why it could not be read, what it was; its body (numbers,
    texts) only with `reveal`."""
    detail: dict[str, Any] = {
        "provider": webhook.provider,
        "received_at": webhook.received_at.isoformat(),
        "reason": mask(webhook.reason),
        "verified": webhook.verified,
        "read_at": iso(webhook.read_at),
        "method": webhook.raw.method,
        "path": webhook.raw.path,
        "content_type": webhook.raw.content_type[:200],
        "body_bytes": len(webhook.raw.body.encode("utf-8", "surrogatepass")),
    }
    if reveal:
        detail["raw"] = asdict(webhook.raw)
    return detail


def iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def masked_identity(sender: SenderIdentity) -> str:
    """A sender as ops see it: a phone number as its masked E.164, any other kind (a WhatsApp
    user id, an alphanumeric id, something unreadable a payload made up) masked after its kind."""
    return mask_number(sender.e164 or f"{sender.kind.value}:{sender.bare}")


def _inbound_detail(entry: InboundEntry, *, reveal: bool) -> dict[str, Any]:
    message = entry.message.model_dump(mode="json")
    if not reveal:
        masked = masked_identity(entry.message.sender)
        message["sender"] = {"kind": entry.message.sender.kind.value, "masked": masked}
        message["aliases"] = [masked_identity(alias) for alias in entry.message.aliases]
        if entry.message.new_identity is not None:
            message["new_identity"] = masked_identity(entry.message.new_identity)
        for media in message["media"]:
            if media.get("url"):  # a pre-signed URL's query is the access it grants
                media["url"] = mask(media["url"])
    fields = {name: value for name, value in entry.stored.items() if name not in ("message", "raw")}
    detail: dict[str, Any] = {"inbound_id": entry.inbound_id, **fields, "message": message}
    if entry.match is not None:
        detail["match"] = dict(entry.match)
        if not reveal and entry.match.get("variant"):
            detail["match"]["variant"] = mask_number(str(entry.match["variant"]))  # a form of the number
    if entry.attachments is not None:
        detail["attachments"] = entry.attachments
    if reveal and entry.raw is not None:
        detail["raw"] = asdict(entry.raw)
    return detail


def _reply_detail(reply: ReplyEntry, threads: ThreadStore, *, reveal: bool) -> dict[str, Any]:
    detail: dict[str, Any] = {
        name: value for name, value in reply.stored.items() if not name.startswith("sent.")
    }
    detail["part"] = reply.part.to_json()
    detail["sent"] = list(reply.sent_ids())
    thread = threads.by_conversation(reply.conversation_id)
    if thread is not None:
        to = thread.customer_address if reveal else mask_number(thread.customer_address)
        detail["route"] = {
            "provider": thread.provider,
            "channel": thread.channel,
            "to": to,
            "from": thread.business_number,
        }
    return detail


def _refusal(entry: OutreachEntry) -> str:
    """Why the provider refused the message, as the sender recorded it: the provider's code and a
    person's reason (the tables reply notes use), which the job's exception does not carry."""
    return f"{entry.provider} refused it (error {entry.error_code}): {entry.error or 'no reason given'}"


def _outreach_detail(entry: OutreachEntry, *, reveal: bool) -> dict[str, Any]:
    """A message the team wrote first, as ops see it: what was asked, and each step its job
    recorded (contact, conversation, the provider ids sent), so a replay's resumption can be read.
    The customer masked and media URLs without their query unless `reveal`; the idempotency key
    too, which the message id is hashed from precisely so that it is not shown."""
    request = entry.request.model_dump(mode="json", by_alias=True)
    to = entry.customer_address
    if not reveal:
        request["to"] = mask_number(entry.request.to)
        to = masked_identity(entry.customer)
        request["media_urls"] = [mask(url) for url in entry.request.media_urls]
        header = (request.get("template") or {}).get("header") or {}
        if header.get("url"):
            header["url"] = mask(header["url"])
        if request.get("idempotency_key"):
            request["idempotency_key"] = "(given: shown with --reveal)"
    code, error = entry.error_code, entry.error
    return {
        "message_id": entry.message_id,
        "status": entry.status.value,
        "source": entry.source,
        "provider": entry.provider,
        "channel": entry.channel.value,
        "from": entry.business,
        "to": to,
        "request": request,
        "rendered": entry.rendered,
        "template_name": entry.template_name,
        "contact": {"id": entry.contact_id, "role": entry.contact_role} if entry.contact_id else None,
        "conversation_id": entry.conversation_id,
        "part_id": entry.part_id,
        "intercom_message_id": entry.intercom_message_id,
        "sent": list(entry.sent_ids()),
        "error": {"code": code, "reason": error} if code or error else None,
        "created_at": iso(entry.created_at),
        "request_id": entry.request_id,
    }


def _status_detail(status: dict[str, Any], reveal: bool) -> dict[str, Any]:
    if not reveal and status.get("recipient"):
        status["recipient"] = mask_number(status["recipient"])
    return status


def _last_line(job: Job) -> str:
    result = job.latest_result()
    if result is None or not result.exc_string:
        return ""
    return mask(result.exc_string.strip().splitlines()[-1])


def parse_since(value: str | None, *, now: float | None = None) -> float | None:
    """`--since`: a duration ago (`90m`, `2h`, `3d`) or an ISO 8601 moment (UTC unless it says);
    None when not given. ValueError names what it accepts, for the CLI and the API to answer."""
    from bridge.core.settings import parse_duration

    if value is None:
        return None
    try:
        return (now if now is not None else time.time()) - parse_duration(value)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not a duration or a date: {value!r} (use e.g. 2h, 3d, 2026-11-23T10:00)") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
