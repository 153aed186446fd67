"""The webhook jobs: read the webhooks the web process stored as they arrived (`bridge.intake.raw`).

`read_webhooks` is the reader: it takes the pending webhooks in arrival order, a page at a time,
and claims what they carry in the ledgers, in one atomic script a page (a provider's redelivery
under another request meets the claims of the first and adds nothing); a page is three round
trips, not three a webhook (issue 18). `read_webhook` reads one webhook that could not be read
before, for ops' replay after an upgrade.
"""

from __future__ import annotations

import logging

from redis import Redis

from bridge.core import metrics
from bridge.core.context import current_job_id, job_context
from bridge.core.errors import LedgerRecordMissing, UnprocessableMessage
from bridge.core.logs import mask
from bridge.core.metrics import WebhookKind
from bridge.core.settings import Settings
from bridge.infra import claims
from bridge.infra.metrics import measured_job
from bridge.intake.ledger import InboundLedger
from bridge.intake.raw import RawWebhook, RawWebhookStore, as_request
from bridge.providers.base import WebhookContent
from bridge.providers.registry import ADAPTERS
from bridge.replies.reports import StatusLedger
from workers.context import job_setup

log = logging.getLogger(__name__)


class Unreadable(Exception):
    """The webhook cannot be read by this bridge; the message says why."""


@measured_job
def read_webhooks() -> dict[str, str]:
    """Read every pending webhook, oldest first, until none is left."""
    with job_setup() as job:
        read, unreadable = read_pending(job.redis, job.settings, reader=job.id)
    return {"read": str(read), "unreadable": str(unreadable)}


def read_pending(connection: Redis, settings: Settings, *, reader: str) -> tuple[int, int]:
    """The reader's loop (`bridge.intake.raw`) as `reader`: how many webhooks it read, and how
    many it could not. Nothing while another reader holds the flag: that one reads them."""
    store = RawWebhookStore(connection, settings)
    read = unreadable = 0
    while True:
        if not store.take_reading(reader):
            return read, unreadable
        pending = store.pending()
        if not pending:
            if store.stop_reading(reader):
                return read, unreadable
            continue  # one arrived between the look and the release: it is ours
        # The page in three round trips (records, claims, marks), not three a webhook.
        records = store.get_many(pending)
        inbound, statuses = InboundLedger(connection, settings), StatusLedger(connection, settings)
        page: list[claims.Claim] = []
        claimed: dict[str, int] = {}
        for entry_id, record in records.items():
            if record is None:
                store.forget(entry_id)  # past retention
                continue
            try:
                prepared = claims_of(record, inbound, statuses, settings)
            except Unreadable as exc:
                unreadable += 1
                store.mark_unreadable(entry_id, reason=str(exc))
                metrics.current().unreadable_webhook(record.provider, _kind(record))
                log.warning("%s webhook %s cannot be read: %s", record.provider, entry_id, mask(str(exc)))
            else:
                page += prepared
                claimed[entry_id] = len(prepared)
        claims.run(connection, page)  # one script, in arrival order: a lane's order is theirs
        store.mark_all_read(claimed)
        read += len(claimed)


@measured_job
def read_webhook(*, webhook_id: str) -> dict[str, str]:
    """Read stored webhook `webhook_id` again (it could not be read before) and claim what it
    carries; `UnprocessableMessage` with the parser's reason while it still cannot be read."""
    with job_setup() as job:
        store = RawWebhookStore(job.redis, job.settings)
        record = store.get(webhook_id)
        if record is None:
            raise LedgerRecordMissing(f"webhook {webhook_id} is not stored (expired or never stored)")
        if record.read_at is not None:
            return {"result": "already read"}
        try:
            claimed = read_one(record, job.redis, job.settings)
        except Unreadable as exc:
            raise UnprocessableMessage(f"the {record.provider} webhook cannot be read: {exc}") from exc
        store.mark_read(webhook_id, claimed=claimed)
    return {"result": "read", "claimed": str(claimed)}


def read_one(record: RawWebhook, connection: Redis, settings: Settings) -> int:
    """Parse `record` and claim its messages and reports (each once: the ledgers dedupe by the
    provider's ids); how many claims were made. `Unreadable` when this bridge cannot read it."""
    prepared = claims_of(
        record, InboundLedger(connection, settings), StatusLedger(connection, settings), settings
    )
    claims.run(connection, prepared)
    return len(prepared)


def claims_of(
    record: RawWebhook, inbound: InboundLedger, statuses: StatusLedger, settings: Settings
) -> list[claims.Claim]:
    """The claims of what `record` carries, prepared (`bridge.infra.claims`), not made.
    `Unreadable` when this bridge cannot read it: any error of the parser counts, so that a
    parser bug lists the webhook instead of stopping every webhook behind it."""
    adapter = ADAPTERS.get(record.provider)
    if adapter is None:
        raise Unreadable(f"no provider {record.provider!r} in this bridge")
    request = as_request(record.raw, received_at=record.received_at, settings=settings)
    # Claims store the request id they are made under: the webhook's, so its jobs log it.
    with job_context(job_id=current_job_id() or "", request_id=record.request_id):
        try:
            content = (
                WebhookContent(statuses=tuple(adapter.parse_statuses(request, settings)))
                if record.is_status
                else adapter.parse(request, settings)
            )
        except Exception as exc:  # noqa: BLE001 - see the docstring
            raise Unreadable(str(exc) or type(exc).__name__) from exc
        if not record.verified:  # let through by BRIDGE_SIGNATURE_MODE=log-only: media never fetched
            content = content.unverified()
        prepared = [inbound.claim(message, record.raw) for message in content.messages]
        return prepared + [statuses.claim(report) for report in content.statuses]


def _kind(record: RawWebhook) -> WebhookKind:
    return WebhookKind.STATUS if record.is_status else WebhookKind.INBOUND
