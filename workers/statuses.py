"""The status job: apply one provider delivery report to the bridge's record of the sent message."""

from __future__ import annotations

from rq import get_current_job

from bridge.errors import LedgerRecordMissing
from bridge.outbound import OutboundStore
from bridge.settings import get_settings
from bridge.statuses import StatusLedger


def apply_status(*, status_id: str) -> dict[str, str]:
    """Record report `status_id` on its outbound message."""
    settings = get_settings()
    job = get_current_job()
    assert job is not None, "apply_status runs inside an RQ worker"
    status = StatusLedger(job.connection, settings).get(status_id)
    if status is None:
        raise LedgerRecordMissing(f"delivery report {status_id} is not stored (expired or never stored)")
    changed = OutboundStore(job.connection, settings).record_status(status)
    return {"state": status.state.value, "recorded": "yes" if changed else "no (not newer)"}
