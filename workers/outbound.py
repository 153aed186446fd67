"""The outbound job: send one agent reply to the customer through their provider."""

from __future__ import annotations

import httpx
from rq import get_current_job

from bridge.core.settings import get_settings
from bridge.core.tls import tls_context
from bridge.infra.metrics import measured_job
from bridge.intercom.client import IntercomClient
from bridge.providers import ADAPTERS
from bridge.replies.agent import ReplySender

PROVIDER_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


@measured_job
def send_reply(*, part_id: str) -> dict[str, object]:
    """Send reply part `part_id` (resuming after any message of it already sent)."""
    settings = get_settings()
    job = get_current_job()
    assert job is not None, "send_reply runs inside an RQ worker"
    with (
        IntercomClient.from_settings(settings, redis_client=job.connection) as intercom,
        httpx.Client(timeout=PROVIDER_TIMEOUT, verify=tls_context()) as http,
    ):
        sender = ReplySender(
            redis_client=job.connection, intercom=intercom, adapters=ADAPTERS, settings=settings, http=http
        )
        result = sender.send(part_id)
    return {"status": result.status.value, "provider_message_ids": list(result.provider_message_ids)}
