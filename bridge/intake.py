"""Storing what a verified webhook carried: the one domain call the webhook routes make."""

from __future__ import annotations

from dataclasses import dataclass

from bridge.claims import Outcome
from bridge.ledger import InboundLedger, RawPayload
from bridge.messages import DeliveryStatus
from bridge.metrics import WebhookOutcome
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


def store_content(
    content: WebhookContent, raw: RawPayload, *, ledger: InboundLedger, statuses: StatusLedger
) -> IntakeResult:
    """Store every message and report; raises `StorageUnavailable` if any could not be stored,
    so the provider is told to retry the whole request (what was stored dedupes on the retry)."""
    outcomes = [ledger.accept(message, raw) for message in content.messages]
    outcomes += [statuses.accept(status) for status in content.statuses]
    return IntakeResult(
        accepted=outcomes.count(Outcome.ACCEPTED), duplicates=outcomes.count(Outcome.DUPLICATE)
    )


def store_statuses(reports: list[DeliveryStatus], *, statuses: StatusLedger) -> IntakeResult:
    outcomes = [statuses.accept(report) for report in reports]
    return IntakeResult(
        accepted=outcomes.count(Outcome.ACCEPTED), duplicates=outcomes.count(Outcome.DUPLICATE)
    )
