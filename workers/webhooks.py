"""The webhook job: read a verified webhook the route could not read (`bridge.raw_webhooks`)."""

from __future__ import annotations

from rq import get_current_job

from bridge import claims
from bridge.errors import LedgerRecordMissing, MalformedPayload, UnprocessableMessage
from bridge.ledger import InboundLedger
from bridge.metrics import measured_job
from bridge.providers import ADAPTERS
from bridge.providers.base import WebhookContent
from bridge.raw_webhooks import RawWebhookStore, as_request
from bridge.settings import get_settings
from bridge.statuses import StatusLedger


@measured_job
def read_webhook(*, webhook_id: str) -> dict[str, str]:
    """Parse stored webhook `webhook_id` again and claim what it carries, as the route would have;
    `UnprocessableMessage` with the parser's reason while it still cannot be read."""
    settings = get_settings()
    job = get_current_job()
    assert job is not None, "read_webhook runs inside an RQ worker"
    store = RawWebhookStore(job.connection, settings)
    record = store.get(webhook_id)
    if record is None:
        raise LedgerRecordMissing(f"webhook {webhook_id} is not stored (expired or never stored)")
    if record.read_at is not None:
        return {"result": "already read"}
    adapter = ADAPTERS.get(record.provider)
    if adapter is None:
        raise UnprocessableMessage(f"no provider {record.provider!r} in this bridge")
    request = as_request(record.raw, received_at=record.received_at, settings=settings)
    try:
        content = (
            WebhookContent(statuses=tuple(adapter.parse_statuses(request, settings)))
            if record.is_status
            else adapter.parse(request, settings)
        )
    except MalformedPayload as exc:
        raise UnprocessableMessage(f"the {record.provider} webhook cannot be read: {exc}") from exc
    ledger, statuses = InboundLedger(job.connection, settings), StatusLedger(job.connection, settings)
    claimed = [ledger.claim(message, record.raw) for message in content.messages]
    claimed += [statuses.claim(report) for report in content.statuses]
    outcomes = claims.run(job.connection, claimed)
    store.mark_read(webhook_id, claimed=len(outcomes))
    return {"result": "read", "messages": str(len(content.messages)), "reports": str(len(content.statuses))}
