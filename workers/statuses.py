"""The status job: apply one provider delivery report (`bridge.replies.reports`)."""

from __future__ import annotations

from bridge.infra.metrics import measured_job
from bridge.providers.registry import ADAPTERS
from bridge.replies.reports import ReportApplier
from workers.context import job_setup


@measured_job
def apply_status(*, status_id: str) -> dict[str, str]:
    """Record report `status_id` on its sent message; a failure becomes one note in its conversation."""
    with job_setup() as job:
        applied = ReportApplier(job.redis, job.settings, ADAPTERS, lambda: job.intercom).apply(status_id)
    return {
        "state": applied.state.value,
        "recorded": "yes" if applied.recorded else "no (not newer)",
        "noted": "yes" if applied.noted else "no",
    }
