"""The status job: apply one provider delivery report, and tell the agent when a message failed."""

from __future__ import annotations

from rq import get_current_job

from bridge.conversations.notes import Notes
from bridge.core.errors import LedgerRecordMissing
from bridge.core.settings import get_settings
from bridge.infra.metrics import measured_job
from bridge.intercom.client import IntercomClient
from bridge.model.messages import DeliveryState
from bridge.providers import ADAPTERS
from bridge.replies.agent import failure_note
from bridge.replies.reports import StatusLedger
from bridge.replies.sent import OutboundStore


@measured_job
def apply_status(*, status_id: str) -> dict[str, str]:
    """Record report `status_id` on its sent message; a failure becomes one note in its conversation."""
    settings = get_settings()
    job = get_current_job()
    assert job is not None, "apply_status runs inside an RQ worker"
    status = StatusLedger(job.connection, settings).get(status_id)
    if status is None:
        raise LedgerRecordMissing(f"delivery report {status_id} is not stored (expired or never stored)")
    outbound = OutboundStore(job.connection, settings)
    changed = outbound.record_status(status)
    record = outbound.get(status.provider, status.provider_message_id)
    noted = False
    if status.state is DeliveryState.FAILED and record.get("conversation_id"):
        adapter = ADAPTERS.get(status.provider)
        reason = (
            (adapter.failure_reason(status.error_code) if adapter else None)
            or status.error_message
            or "failed"
        )
        with IntercomClient.from_settings(settings, redis_client=job.connection) as intercom:
            noted = Notes(job.connection, intercom, settings).post_once(
                record["conversation_id"],
                failure_note(status.provider, status.error_code, reason, record.get("text", "")),
                once=f"failed:{status.provider}:{status.provider_message_id}",
            )
    return {
        "state": status.state.value,
        "recorded": "yes" if changed else "no (not newer)",
        "noted": "yes" if noted else "no",
    }
