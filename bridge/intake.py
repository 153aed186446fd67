"""Storing what a verified webhook carried: the one domain call the webhook routes make.

Everything a webhook carried is claimed in one script call, which counts the webhook as well
(`bridge_webhooks_total`, by `IntakeResult.outcome`), and that call shares its round trip to
Redis with the other requests in flight (`bridge.claims`, `bridge.batching`).
"""

from __future__ import annotations

from dataclasses import dataclass

from bridge import metrics
from bridge.batching import Batcher
from bridge.claims import Outcome, Tally, run_batched
from bridge.ledger import InboundLedger, RawPayload
from bridge.messages import DeliveryStatus
from bridge.metrics import WebhookKind, WebhookOutcome
from bridge.providers.base import WebhookContent
from bridge.statuses import StatusLedger


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


async def store_content(
    content: WebhookContent,
    raw: RawPayload,
    *,
    ledger: InboundLedger,
    statuses: StatusLedger,
    batcher: Batcher,
    tally: Tally | None,
) -> IntakeResult:
    """Store every message and report; raises `StorageUnavailable` if they could not be stored,
    so the provider is told to retry the whole request (nothing of it was stored: the claims
    are made together, atomically)."""
    claimed = [ledger.claim(message, raw) for message in content.messages]
    claimed += [statuses.claim(status) for status in content.statuses]
    return _result(await run_batched(batcher, claimed, tally))


async def store_statuses(
    reports: list[DeliveryStatus], *, statuses: StatusLedger, batcher: Batcher, tally: Tally | None
) -> IntakeResult:
    return _result(await run_batched(batcher, [statuses.claim(report) for report in reports], tally))


def webhook_tally(provider: str, kind: WebhookKind, *, verified: bool) -> Tally | None:
    """How the claims of a webhook count it: as `IntakeResult.outcome` says, whether something
    in it was new or every part was a redelivery (None when nothing is recorded)."""
    return metrics.current().webhook_tally(
        provider,
        kind,
        if_new=IntakeResult(accepted=1, duplicates=0).outcome(verified=verified),
        if_duplicate=IntakeResult(accepted=0, duplicates=1).outcome(verified=verified),
    )


def _result(outcomes: list[Outcome]) -> IntakeResult:
    return IntakeResult(
        accepted=outcomes.count(Outcome.ACCEPTED), duplicates=outcomes.count(Outcome.DUPLICATE)
    )
