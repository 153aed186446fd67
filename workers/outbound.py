"""The outbound job: send one agent reply to the customer through their provider."""

from __future__ import annotations

from bridge.infra.metrics import measured_job
from bridge.providers.registry import ADAPTERS
from bridge.replies.agent import ReplySender
from workers.context import job_setup


@measured_job
def send_reply(*, part_id: str) -> dict[str, object]:
    """Send reply part `part_id` (resuming after any message of it already sent)."""
    with job_setup() as job:
        sender = ReplySender(
            redis_client=job.redis,
            intercom=job.intercom,
            adapters=ADAPTERS,
            settings=job.settings,
            http=job.provider_http,
        )
        result = sender.send(part_id)
    return {"status": result.status.value, "provider_message_ids": list(result.provider_message_ids)}
