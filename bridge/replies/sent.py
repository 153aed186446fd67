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
from redis.client import Pipeline

from bridge.core.settings import Settings
from bridge.infra import keys
from bridge.infra.entries import Fields, HashEntries, timestamp
from bridge.model.messages import DeliveryState, DeliveryStatus

# A later report never moves a message back: read implies delivered implies sent. Failed is final.
_RANK = {DeliveryState.SENT: 1, DeliveryState.DELIVERED: 2, DeliveryState.READ: 3, DeliveryState.FAILED: 4}


@dataclass(frozen=True, kw_only=True)
class SentMessage:
    """A message the bridge sent, as far as it is known: the send, once recorded, and the latest
    report (either may come first)."""

    provider: str
    provider_message_id: str
    conversation_id: str | None  # None until the send is recorded
    part_id: str | None  # the reply part it was sent for
    text: str  # its first 200 characters, for the agent's note when it fails
    sent_at: float | None
    state: DeliveryState | None  # None until a report arrived
    state_at: datetime | None  # when the provider says it got there
    error_code: str | None
    error_message: str

    @classmethod
    def read(cls, provider: str, provider_message_id: str, fields: Fields) -> SentMessage:
        state, state_at = fields.text("state"), fields.text("state_at")
        return cls(
            provider=provider,
            provider_message_id=provider_message_id,
            conversation_id=fields.text("conversation_id"),
            part_id=fields.text("part_id"),
            text=fields.values.get("text", ""),
            sent_at=fields.number("sent_at"),
            state=DeliveryState(state) if state else None,
            state_at=datetime.fromisoformat(state_at) if state_at else None,
            error_code=fields.text("error_code"),
            error_message=fields.values.get("error_message", ""),
        )


@dataclass(frozen=True)
class RecordedSend:
    """What was known of a sent message when its send was recorded."""

    failed_before_recorded: bool = False
    error_code: str | None = None
    error_message: str = ""


class OutboundStore:
    def __init__(self, redis_client: Redis, settings: Settings) -> None:
        self._entries = HashEntries(redis_client, settings)

    def get(self, provider: str, provider_message_id: str) -> SentMessage | None:
        fields = self._entries.read(keys.outbound(provider, provider_message_id))
        return SentMessage.read(provider, provider_message_id, fields) if fields else None

    def record_sent(
        self, provider: str, provider_message_id: str, *, conversation_id: str, part_id: str, text: str
    ) -> RecordedSend:
        """Remember which conversation and reply a sent message belongs to (its reports' notes go
        there). A failure report that arrived first is returned, so the caller can say it now."""
        self._write(
            provider,
            provider_message_id,
            {
                "conversation_id": conversation_id,
                "part_id": part_id,
                "text": text[:200],
                "sent_at": timestamp(time.time()),
            },
        )
        record = self.get(provider, provider_message_id)
        if record is not None and record.state is DeliveryState.FAILED:
            return RecordedSend(True, record.error_code, record.error_message)
        return RecordedSend()

    def record_status(self, status: DeliveryStatus) -> bool:
        """Apply a report; False when an equal or later state was already recorded.

        Read and write are one optimistic transaction (WATCH): two workers applying reports of one
        message at once must not let "delivered" overwrite the "read" the other just wrote."""
        key = keys.outbound(status.provider, status.provider_message_id)
        fields = {
            "state": status.state.value,
            "state_at": status.occurred_at.isoformat(),
            "error_code": status.error_code or "",
            "error_message": status.error_message or "",
        }

        applied = False

        def apply(pipe: Pipeline) -> None:
            nonlocal applied
            recorded = self._recorded_state(pipe, key)
            applied = recorded is None or _RANK[recorded] < _RANK[status.state]
            if applied:
                pipe.multi()
                self._entries.store(pipe, key, fields)

        self._entries.redis.transaction(apply, key)
        return applied

    def _recorded_state(self, pipe: Pipeline, key: str) -> DeliveryState | None:
        """The state recorded at `key`, read on the watching `pipe`."""
        value = pipe.hget(key, "state")
        text = value.decode() if isinstance(value, bytes) else value
        return DeliveryState(text) if text else None

    def _write(self, provider: str, provider_message_id: str, fields: dict[str, str]) -> None:
        """Write `fields`, creating the record if need be, with the retention as its lifetime."""
        with self._entries.redis.pipeline() as pipe:
            self._entries.store(pipe, keys.outbound(provider, provider_message_id), fields)
            pipe.execute()
