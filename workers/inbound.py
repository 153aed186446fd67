"""The inbound job: deliver one accepted message into Intercom."""

from __future__ import annotations

from bridge.conversations.attachments import AttachmentResolver, attachment_client
from bridge.conversations.delivery import Deliverer, Result
from bridge.conversations.media import media_store
from bridge.infra.metrics import measured_job
from bridge.infra.queueing import hand_off_inbound, inbound_queue, schedule_inbound
from bridge.intake.ledger import InboundLedger
from bridge.outreach.optouts import OptOuts, keyword_in
from bridge.providers.registry import ADAPTERS
from workers.context import job_setup


@measured_job
def process_inbound(*, inbound_id: str) -> dict[str, str]:
    """Deliver ledger entry `inbound_id`, with any earlier message of its sender still waiting and
    those that came after it (`bridge.conversations.lanes`); a message it could not deliver gets a
    job of its own."""
    with job_setup() as job:
        settings = job.settings
        attachments = AttachmentResolver(
            settings=settings,
            store=media_store(settings.data_dir, settings.retention_days),
            adapters=ADAPTERS,
            http=job.open(attachment_client(settings, ADAPTERS)),
        )
        deliverer = Deliverer(
            redis_client=job.redis, intercom=job.intercom, attachments=attachments, settings=settings
        )
        delivery = deliverer.deliver(inbound_id)
        queue = inbound_queue(job.redis)
        for handoff in delivery.handoffs:
            hand_off_inbound(queue, handoff.inbound_id, delay_seconds=handoff.delay, settings=settings)
        if delivery.result is Result.WAITING:
            schedule_inbound(queue, inbound_id, delay_seconds=delivery.retry_after, settings=settings)
        elif delivery.message is None or keyword_in(delivery.message, settings) is not None:
            # Only a keyword needs the entry as delivered and the provider's client (a
            # confirmation): most messages are none, and their entry is not read again.
            entry = InboundLedger(job.redis, settings).get(inbound_id)
            if entry is not None and keyword_in(entry.message, settings) is not None:
                optouts = OptOuts(
                    redis_client=job.redis,
                    intercom=job.intercom,
                    adapters=ADAPTERS,
                    settings=settings,
                    http=job.provider_http,
                )
                optouts.after_delivery(entry)
    return {
        "result": delivery.result.value,
        "conversation_id": delivery.conversation_id,
        "drained": str(delivery.drained),  # the sender's later messages delivered with it
    }
