"""Verified webhooks the bridge could not read: kept, acknowledged, read again later.

A provider that hears 4xx for an authentic request never sends it again (Twilio does not retry a
4xx; Meta retries for a while, then gives up), so a parser bug or a provider's format change
would drop messages silently. Instead, once the signature has verified, a request the parser
cannot read is stored raw with the parser's reason, numbered in the same arrival sequence as the
messages, and queued as a `wh-` job on the inbound queue (`workers.webhooks.read_webhook`). The
job parses it again, with whatever parser the worker has by then: what it can read is claimed
exactly as the route would have claimed it (the ledgers dedupe by the provider's ids); what it
cannot read fails for good with the reason, is listed by `bridge jobs failed` and kept for
`BRIDGE_RETENTION_DAYS`, and a replay after an upgrade reads it.

The record's id is a digest of the request, so a provider's identical retry of an unreadable
request meets the first one's claim and stores nothing more.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from redis import Redis
from redis.client import Pipeline

from bridge import claims, keys
from bridge.connection import read_hash
from bridge.ledger import RawPayload
from bridge.providers.base import WebhookRequest
from bridge.queueing import enqueue_webhook, inbound_queue
from bridge.request_context import request_id_fields
from bridge.settings import Settings

STATUS_PATH_SUFFIX = "/status"


@dataclass(frozen=True)
class RawWebhook:
    """One stored webhook: what the provider sent, why it could not be read, and whether a later
    reading succeeded (`read_at`)."""

    webhook_id: str
    provider: str
    raw: RawPayload
    received_at: datetime
    reason: str
    verified: bool
    read_at: float | None

    @property
    def is_status(self) -> bool:
        """A delivery report route's request (`/webhooks/{provider}/status`)."""
        return self.raw.path.endswith(STATUS_PATH_SUFFIX)


def webhook_id(provider: str, raw: RawPayload) -> str:
    """The same request, the same id (safe as an RQ job id: `[A-Za-z0-9_-]`)."""
    digest = hashlib.sha256()
    for part in (provider, raw.method, raw.path, raw.query, raw.content_type, raw.body):
        digest.update(part.encode("utf-8", "surrogatepass") + b"\0")
    return f"{provider}-{digest.hexdigest()[:32]}"


def as_request(raw: RawPayload, *, received_at: datetime, settings: Settings) -> WebhookRequest:
    """A stored payload as the adapter reads a request (it was verified on arrival, so the URL
    only needs the path and query the adapter may read)."""
    base = (settings.public_url or "http://bridge.invalid").rstrip("/")
    return WebhookRequest(
        method=raw.method,
        url=f"{base}{raw.path}" + (f"?{raw.query}" if raw.query else ""),
        headers={"content-type": raw.content_type},
        query=raw.query,
        body=raw.body.encode("utf-8", "surrogatepass"),
        received_at=received_at,
    )


class RawWebhookStore:
    def __init__(self, redis_client: Redis, settings: Settings) -> None:
        self._redis = redis_client
        self._settings = settings

    def claim(
        self, provider: str, raw: RawPayload, *, received_at: datetime, reason: str, verified: bool
    ) -> claims.Claim:
        """Store and queue an unreadable webhook once (`claims.run_batched` sends it)."""
        entry_id = webhook_id(provider, raw)
        key = keys.webhook(entry_id)
        fields = {
            "provider": provider,
            "raw": json.dumps(asdict(raw)),
            "received_at": received_at.isoformat(),
            "reason": reason,
            "verified": "1" if verified else "0",
            **request_id_fields(),
        }
        retention = self._settings.retention_days * 86400
        queue = inbound_queue(self._redis)

        def write(pipe: Pipeline) -> None:
            pipe.hset(key, mapping=fields)  # type: ignore[arg-type]
            pipe.expire(key, retention)
            enqueue_webhook(queue, entry_id, settings=self._settings, pipeline=pipe)

        return claims.prepare(self._redis, key, write, what="the webhook", numbered_by=keys.INBOUND_SEQUENCE)

    def get(self, entry_id: str) -> RawWebhook | None:
        fields = read_hash(self._redis, keys.webhook(entry_id))
        if not fields or "raw" not in fields:
            return None
        read_at = fields.get("read_at")
        return RawWebhook(
            webhook_id=entry_id,
            provider=fields.get("provider", ""),
            raw=RawPayload(**json.loads(fields["raw"])),
            received_at=datetime.fromisoformat(fields.get("received_at") or datetime.now(UTC).isoformat()),
            reason=fields.get("reason", ""),
            verified=fields.get("verified") == "1",
            read_at=float(read_at) if read_at else None,
        )

    def mark_read(self, entry_id: str, *, claimed: int) -> None:
        """The webhook was read and what it carried claimed: a replay has nothing left to do."""
        self._redis.hset(
            keys.webhook(entry_id), mapping={"read_at": f"{time.time():.6f}", "claimed": str(claimed)}
        )
