"""Storing what a verified webhook carried: the one domain object the webhook routes call.

Everything a webhook carried is claimed in one script call, which counts the webhook as well
(`bridge_webhooks_total`, by `IntakeResult.outcome`), and that call shares its round trip to
Redis with the other requests in flight (`bridge.claims`, `bridge.batching`). A verified
webhook the parser cannot read is stored raw instead and read again by a worker
(`bridge.raw_webhooks`): only an unauthenticated or forged request is refused.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from redis import Redis

from bridge import metrics
from bridge.batching import Batcher
from bridge.claims import Outcome, Tally, run_batched
from bridge.ledger import InboundLedger, RawPayload
from bridge.messages import DeliveryStatus
from bridge.metrics import WebhookKind, WebhookOutcome
from bridge.providers.base import WebhookContent
from bridge.raw_webhooks import RawWebhookStore
from bridge.settings import Settings
from bridge.statuses import StatusLedger

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IntakeResult:
    accepted: int
    duplicates: int

    def outcome(self, *, verified: bool) -> WebhookOutcome:
        """What the request counts as: a redelivery when nothing in it was new; one whose
        signature failed (stored under BRIDGE_SIGNATURE_MODE=log-only) counts as that first."""
        if not verified:
            return WebhookOutcome.WOULD_BE_FORGED
        if self.duplicates and not self.accepted:
            return WebhookOutcome.DUPLICATE
        return WebhookOutcome.ACCEPTED


class Intake:
    """The ledgers a webhook's content goes to, and the round trip they share."""

    def __init__(self, client: Redis, settings: Settings) -> None:
        self.ledger = InboundLedger(client, settings)
        self.statuses = StatusLedger(client, settings)
        self.unreadable = RawWebhookStore(client, settings)
        self.batcher = Batcher(client)

    async def store_content(
        self, content: WebhookContent, raw: RawPayload, *, tally: Tally | None
    ) -> IntakeResult:
        """Store every message and report; raises `StorageUnavailable` if they could not be stored,
        so the provider is told to retry the whole request (nothing of it was stored: the claims
        are made together, atomically)."""
        claimed = [self.ledger.claim(message, raw) for message in content.messages]
        claimed += [self.statuses.claim(status) for status in content.statuses]
        return _result(await run_batched(self.batcher, claimed, tally))

    async def store_statuses(self, reports: list[DeliveryStatus], *, tally: Tally | None) -> IntakeResult:
        return _result(await run_batched(self.batcher, [self.statuses.claim(r) for r in reports], tally))

    async def store_unreadable(
        self,
        provider: str,
        raw: RawPayload,
        *,
        received_at: datetime,
        reason: str,
        verified: bool,
        tally: Tally | None,
    ) -> IntakeResult:
        """Keep an authentic request the parser cannot read, for a worker to read again
        (`bridge.raw_webhooks`); `StorageUnavailable` as for any other content."""
        log.warning("%s webhook stored unread, a worker reads it again: %s", provider, reason)
        claim = self.unreadable.claim(
            provider, raw, received_at=received_at, reason=reason, verified=verified
        )
        return _result(await run_batched(self.batcher, [claim], tally))


def webhook_tally(provider: str, kind: WebhookKind, *, verified: bool, readable: bool = True) -> Tally | None:
    """How the claims of a webhook count it: as `IntakeResult.outcome` says, whether something
    in it was new or every part was a redelivery (None when nothing is recorded). A verified
    request stored unread counts as `unreadable`."""
    if_new = IntakeResult(accepted=1, duplicates=0).outcome(verified=verified)
    return metrics.current().webhook_tally(
        provider,
        kind,
        if_new=WebhookOutcome.UNREADABLE if verified and not readable else if_new,
        if_duplicate=IntakeResult(accepted=0, duplicates=1).outcome(verified=verified),
    )


def _result(outcomes: list[Outcome]) -> IntakeResult:
    return IntakeResult(
        accepted=outcomes.count(Outcome.ACCEPTED), duplicates=outcomes.count(Outcome.DUPLICATE)
    )
