"""The forget job: Intercom deleted a contact, so the bridge forgets its numbers (`bridge.ops.forget`)."""

from __future__ import annotations

from bridge.infra.metrics import measured_job
from bridge.ops.forget import forget_deleted_contact
from workers.context import job_setup


@measured_job
def forget_contact(*, contact_id: str) -> dict[str, object]:
    """Forget what led to `contact_id` (a merged lead's numbers stay with the survivor)."""
    with job_setup() as job:
        return forget_deleted_contact(job.redis, job.intercom, job.settings, contact_id)
