"""The outreach job: send one message the team wrote first (`bridge.outreach.sending`)."""

from __future__ import annotations

from bridge.infra.metrics import measured_job
from bridge.outreach.sending import OutreachSender
from bridge.providers.registry import ADAPTERS
from workers.context import job_setup


@measured_job
def send_message(*, message_id: str) -> dict[str, object]:
    """Send message `message_id` (resuming after whatever of it was already done)."""
    with job_setup() as job:
        sender = OutreachSender(
            redis_client=job.redis,
            intercom=job.intercom,
            adapters=ADAPTERS,
            settings=job.settings,
            http=job.provider_http,
        )
        outcome = sender.send(message_id)
    return {"status": outcome.status.value, "provider_message_ids": list(outcome.provider_message_ids)}
