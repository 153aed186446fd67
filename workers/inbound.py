"""The inbound job: deliver one accepted message into Intercom."""

from __future__ import annotations

from rq import get_current_job

from bridge.delivery import Deliverer
from bridge.intercom.client import IntercomClient
from bridge.settings import get_settings


def process_inbound(*, inbound_id: str) -> dict[str, str]:
    """Deliver ledger entry `inbound_id` (and any earlier message of its sender still waiting)."""
    settings = get_settings()
    job = get_current_job()
    assert job is not None, "process_inbound runs inside an RQ worker"
    # A client per job: a forking worker runs every job in a fresh process, so a pooled client
    # made in the parent would not be reused anyway.
    with IntercomClient.from_settings(settings) as intercom:
        delivery = Deliverer(redis_client=job.connection, intercom=intercom, settings=settings).deliver(
            inbound_id
        )
    return {"result": delivery.result.value, "conversation_id": delivery.conversation_id}
