"""A change's `statuses[]` as `DeliveryStatus`es: Meta's reports on the messages the bridge sent."""

from __future__ import annotations

from bridge.core.json_payloads import JsonNode
from bridge.model.messages import DeliveryState, DeliveryStatus
from bridge.providers.base import WebhookRequest
from bridge.providers.whatsapp.errors import read_error

# Meta's `statuses[].status` -> the bridge's; None: nothing to report (research/providers.md §2.6).
# `played` is a voice message heard, so it was read; `deleted` (the user deleted our message)
# has no delivery meaning, as in courier. Statuses missing here are skipped, not refused: a new
# status word must not make Meta redeliver the customer messages batched with it (which is why
# this table is read with `.get`, not `payloads.state_of`, which refuses unknown words).
STATUS_MAP: dict[str, DeliveryState | None] = {
    "sent": DeliveryState.SENT,
    "delivered": DeliveryState.DELIVERED,
    "read": DeliveryState.READ,
    "played": DeliveryState.READ,
    "failed": DeliveryState.FAILED,
    "deleted": None,
}


def read_status(status: JsonNode, request: WebhookRequest) -> DeliveryStatus | None:
    """One `statuses[]` item, or None when it has no delivery meaning (or is a word Meta added)."""
    provider_message_id = status.required("id")
    state = STATUS_MAP.get(status.required("status").lower())
    if state is None:
        return None
    errors = status.objects("errors")
    code, text = read_error(errors[0]) if errors else (None, None)
    if state is DeliveryState.FAILED and not text:
        text = "failed"
    return DeliveryStatus(
        provider="whatsapp",
        provider_message_id=provider_message_id,
        state=state,
        occurred_at=status.time("timestamp", default=request.received_at),
        # A BSUID recipient (a username user) comes as `recipient_user_id` [M].
        recipient=status.text("recipient_id") or status.text("recipient_user_id"),
        error_code=code,
        error_message=text,
    )
