"""Messages the bridge sent to customers, and what providers report about them.

A record is keyed by (provider, the id the provider gave the sent message). Delivery reports can
arrive before the send is recorded (providers are fast, workers are not always), so a report
creates or updates the record either way; the send fills in the rest.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from redis import Redis
from redis.typing import EncodableT, FieldT

from bridge.core.settings import Settings
from bridge.infra import keys
from bridge.infra.connection import read_hash
from bridge.model.messages import DeliveryState, DeliveryStatus

# A later report never moves a message back: read implies delivered implies sent. Failed is final.
_RANK = {DeliveryState.SENT: 1, DeliveryState.DELIVERED: 2, DeliveryState.READ: 3, DeliveryState.FAILED: 4}


@dataclass(frozen=True)
class RecordedSend:
    """What was known of a sent message when its send was recorded."""

    failed_before_recorded: bool = False
    error_code: str | None = None
    error_message: str = ""


class OutboundStore:
    def __init__(self, redis_client: Redis, settings: Settings) -> None:
        self._redis = redis_client
        self._ttl = settings.retention_days * 86400

    def get(self, provider: str, provider_message_id: str) -> dict[str, str]:
        return read_hash(self._redis, keys.outbound(provider, provider_message_id))

    def record_sent(
        self, provider: str, provider_message_id: str, *, conversation_id: str, part_id: str, text: str
    ) -> RecordedSend:
        """Remember which conversation and reply a sent message belongs to (its reports' notes go
        there). A failure report that arrived first is returned, so the caller can say it now."""
        key = keys.outbound(provider, provider_message_id)
        fields: dict[FieldT, EncodableT] = {
            "conversation_id": conversation_id,
            "part_id": part_id,
            "text": text[:200],
            "sent_at": f"{time.time():.6f}",
        }
        with self._redis.pipeline() as pipe:
            pipe.hset(key, mapping=fields)
            pipe.expire(key, self._ttl)
            pipe.execute()
        record = self.get(provider, provider_message_id)
        if record.get("state") == DeliveryState.FAILED.value:
            return RecordedSend(True, record.get("error_code") or None, record.get("error_message", ""))
        return RecordedSend()

    def record_status(self, status: DeliveryStatus) -> bool:
        """Apply a report; False when an equal or later state was already recorded."""
        key = keys.outbound(status.provider, status.provider_message_id)
        current = self.get(status.provider, status.provider_message_id).get("state")
        if current and _RANK[DeliveryState(current)] >= _RANK[status.state]:
            return False
        fields: dict[FieldT, EncodableT] = {
            "state": status.state.value,
            "state_at": _iso(status.occurred_at),
            "error_code": status.error_code or "",
            "error_message": status.error_message or "",
        }
        with self._redis.pipeline() as pipe:
            pipe.hset(key, mapping=fields)
            pipe.expire(key, self._ttl)
            pipe.execute()
        return True


def _iso(moment: datetime) -> str:
    return moment.isoformat()
