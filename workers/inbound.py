"""The inbound job: deliver one accepted message into Intercom."""

from __future__ import annotations

from rq import get_current_job

from bridge.conversations.attachments import AttachmentResolver, attachment_client
from bridge.conversations.delivery import Deliverer, Result
from bridge.conversations.media import media_store
from bridge.core.settings import get_settings
from bridge.infra.metrics import measured_job
from bridge.infra.queueing import inbound_queue, schedule_inbound
from bridge.intercom.client import IntercomClient
from bridge.providers import ADAPTERS


@measured_job
def process_inbound(*, inbound_id: str) -> dict[str, str]:
    """Deliver ledger entry `inbound_id` (and any earlier message of its sender still waiting)."""
    settings = get_settings()
    job = get_current_job()
    assert job is not None, "process_inbound runs inside an RQ worker"
    # Clients per job: a forking worker runs every job in a fresh process, so pooled clients made
    # in the parent would not be reused anyway.
    with (
        IntercomClient.from_settings(settings, redis_client=job.connection) as intercom,
        attachment_client(settings, ADAPTERS) as media_http,
    ):
        attachments = AttachmentResolver(
            settings=settings,
            store=media_store(settings.data_dir, settings.retention_days),
            adapters=ADAPTERS,
            http=media_http,
        )
        deliverer = Deliverer(
            redis_client=job.connection, intercom=intercom, attachments=attachments, settings=settings
        )
        delivery = deliverer.deliver(inbound_id)
    if delivery.result is Result.WAITING:
        schedule_inbound(
            inbound_queue(job.connection), inbound_id, delay_seconds=delivery.retry_after, settings=settings
        )
    return {"result": delivery.result.value, "conversation_id": delivery.conversation_id}
