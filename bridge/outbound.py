"""Messages the bridge sent to customers, and what providers report about them.

A record is keyed by (provider, the id the provider gave the sent message). Delivery reports can
arrive before the send is recorded (providers are fast, workers are not always), so a report
creates or updates the record either way; the send fills in the rest.
"""

from __future__ import annotations

from datetime import datetime

from redis import Redis
from redis.typing import EncodableT, FieldT

from bridge import keys
from bridge.connection import read_hash
from bridge.messages import DeliveryState, DeliveryStatus
from bridge.settings import Settings

# A later report never moves a message back: read implies delivered implies sent. Failed is final.
_RANK = {DeliveryState.SENT: 1, DeliveryState.DELIVERED: 2, DeliveryState.READ: 3, DeliveryState.FAILED: 4}


class OutboundStore:
    def __init__(self, redis_client: Redis, settings: Settings) -> None:
        self._redis = redis_client
        self._ttl = settings.retention_days * 86400

    def get(self, provider: str, provider_message_id: str) -> dict[str, str]:
        return read_hash(self._redis, keys.outbound(provider, provider_message_id))

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
