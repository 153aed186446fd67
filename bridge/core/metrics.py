"""What the bridge measures, for Prometheus (`GET /metrics`, `bridge.ops.metrics_export`), and
the one way to record it.

Here and not beside the store (`bridge.infra.metrics`): the places worth measuring sit in every
layer, down to the retry loop and the providers' sends, and those layers must not load redis or
rq. So this module holds only what a measurement is (the metrics, their labels and buckets, the
outcomes counted) and how code records one (`Metrics`); where the increments go is a `Sink`
handed in by whoever owns a store. Without one nothing is recorded (the CLI, unit tests).

Label values come from fixed sets (provider names, enums, endpoint templates), never from
message content: no phone number, id or secret ever becomes a label.

Which recorder is used is ambient (`current()`): the places worth measuring (the Intercom client,
the retry loop, provider sends) sit deep in call chains that hold no Redis client, and threading
one through every constructor would touch every caller. A job's wrapper
(`bridge.infra.metrics.measured_job`) scopes its own recorder to the job (`scoped`); the web app
installs one for its process (`installed`); anything else records nothing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from bridge.core.errors import (
    MalformedPayload,
    MethodNotAllowed,
    PayloadTooLarge,
    ProviderDisabled,
    RetryLater,
    SignatureInvalid,
    WebhookRejected,
)


@dataclass(frozen=True)
class Spec:
    """One metric: its exposition name, help text, label names, and buckets for a histogram."""

    name: str
    documentation: str
    labels: tuple[str, ...]
    buckets: tuple[float, ...] = ()  # a histogram's upper bounds (+Inf is implied); () for a counter

    @property
    def histogram(self) -> bool:
        return bool(self.buckets)


class WebhookKind(StrEnum):
    INBOUND = "inbound"  # /webhooks/{provider}: messages (and Meta's statuses)
    STATUS = "status"  # /webhooks/{provider}/status: delivery reports


class WebhookOutcome(StrEnum):
    """One per request: what the bridge answered, and why."""

    ACCEPTED = "accepted"  # stored (at least one message or report was new)
    DUPLICATE = "duplicate"  # stored before: everything in it was a redelivery
    WOULD_BE_FORGED = "would_be_forged"  # signature failed, stored anyway (BRIDGE_SIGNATURE_MODE=log-only)
    FORGED = "forged"  # 403: the signature does not verify
    MALFORMED = "malformed"  # 400: cannot even be verified (too many fields, not UTF-8)
    DISABLED = "disabled"  # 404: the provider's verifying secret is not set
    TOO_LARGE = "too_large"  # 413
    METHOD_NOT_ALLOWED = "method_not_allowed"  # 405
    RETRY_LATER = "retry_later"  # 503 asked of the provider (Vonage's unsigned callback)


_REFUSALS: dict[type[WebhookRejected], WebhookOutcome] = {
    SignatureInvalid: WebhookOutcome.FORGED,
    MalformedPayload: WebhookOutcome.MALFORMED,
    ProviderDisabled: WebhookOutcome.DISABLED,
    PayloadTooLarge: WebhookOutcome.TOO_LARGE,
    MethodNotAllowed: WebhookOutcome.METHOD_NOT_ALLOWED,
    RetryLater: WebhookOutcome.RETRY_LATER,
}


def refusal_outcome(refused: WebhookRejected) -> WebhookOutcome | None:
    """What a refused webhook counts as; None for one not counted (an unknown provider)."""
    return next((outcome for cls, outcome in _REFUSALS.items() if isinstance(refused, cls)), None)


class WaitReason(StrEnum):
    RATE_LIMIT = "rate_limit"  # a 429's window
    BACKOFF = "backoff"  # after a 5xx, a 408 or a transport error
    BUDGET = "budget"  # for a slot of the call budget shared by every process (bridge.infra.rate_budget)


class SendOutcome(StrEnum):
    SENT = "sent"  # the provider accepted it
    REJECTED = "rejected"  # the provider refused it (4xx, permanent)
    FAILED = "failed"  # could not be sent for now (5xx, 429 or unreachable after quick retries)
    BLOCKED = "blocked"  # not sent: WhatsApp's 24-hour window closed and no template is set


class ReadOutcome(StrEnum):
    """What became of a read receipt (an agent's WhatsApp reply marking the customer's message read)."""

    MARKED = "marked"  # the provider took it: the customer sees the blue ticks
    REJECTED = "rejected"  # the provider refused it (4xx): a message too old, a wrong region…
    FAILED = "failed"  # the provider could not be reached or was busy


class JobOutcome(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # raised (RQ retries it or moves it to the failed registry)


WEBHOOKS = Spec(
    "bridge_webhooks_total",
    "Provider webhook requests, by provider, route kind and outcome.",
    ("provider", "kind", "outcome"),
)
INTERCOM_REQUESTS = Spec(
    "bridge_intercom_requests_total",
    "HTTP attempts at Intercom's API, by method, endpoint template and status (or transport_error).",
    ("method", "endpoint", "status"),
)
INTERCOM_DURATION = Spec(
    "bridge_intercom_request_duration_seconds",
    "Duration of HTTP attempts at Intercom's API, by method and endpoint template.",
    ("method", "endpoint"),
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0),  # 15 s: the client's read timeout
)
RATE_LIMITED = Spec(
    "bridge_api_rate_limited_total",
    "429 answers from an API (intercom or a provider's).",
    ("service",),
)
RETRY_WAIT = Spec(
    "bridge_api_retry_wait_seconds_total",
    "Seconds spent waiting on an API: rate-limit windows and backoff between quick retries, "
    "and slots of the shared call budget.",
    ("service", "reason"),
)
CONTACT_MATCHES = Spec(
    "bridge_contact_matches_total",
    "Senders matched to an Intercom contact, by rule and whether a variant of the number matched.",
    ("rule", "variant"),
)
OUTBOUND_MESSAGES = Spec(
    "bridge_outbound_messages_total",
    "Messages to customers, by provider, outcome and whether it was a template.",
    ("provider", "outcome", "template"),
)
READ_RECEIPTS = Spec(
    "bridge_read_receipts_total",
    "Customers' WhatsApp messages marked read when an agent replied, by provider and outcome.",
    ("provider", "outcome"),
)
JOB_DURATION = Spec(
    "bridge_job_duration_seconds",
    "Duration of the bridge's RQ jobs, by queue and outcome.",
    ("queue", "outcome"),
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0),  # 300 s: job timeout
)
DELIVERY_LATENCY = Spec(
    "bridge_inbound_delivery_latency_seconds",
    "From a message's webhook being stored to its delivery into Intercom, by provider and result.",
    ("provider", "result"),
    # Retries after an outage (BRIDGE_RETRY_DELAYS) stretch this to hours.
    buckets=(0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 21600.0, 86400.0),
)
UNREADABLE_WEBHOOKS = Spec(
    "bridge_unreadable_webhooks_total",
    "Stored webhooks a worker could not read (each listed by `bridge jobs failed`), by provider and kind.",
    ("provider", "kind"),
)
REPLY_CATCHUP_PARTS = Spec(
    "bridge_reply_catchup_parts_total",
    "Agents' and bots' reply parts the reply catch-up found unsent and queued, by author type: "
    "each is a webhook from Intercom that never reached the bridge (or not yet).",
    ("author",),
)
SPECS = (
    WEBHOOKS,
    UNREADABLE_WEBHOOKS,
    INTERCOM_REQUESTS,
    INTERCOM_DURATION,
    RATE_LIMITED,
    RETRY_WAIT,
    CONTACT_MATCHES,
    OUTBOUND_MESSAGES,
    READ_RECEIPTS,
    JOB_DURATION,
    DELIVERY_LATENCY,
    REPLY_CATCHUP_PARTS,
)

SUM_FIELD = "sum"


def series_field(values: Sequence[str]) -> str:
    """A series' name within its metric: the JSON list of its label values (and bucket), so the
    store and the scrape (`bridge.ops.metrics_export`) agree on it without a schema."""
    return json.dumps(list(values), separators=(",", ":"))


def bound_text(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(float(bound))


#: One addition: to `spec`'s series with these label values (a histogram's last is its bound,
#: or `SUM_FIELD`), by `amount`.
Increment = tuple[Spec, Sequence[str], float]


class Sink(Protocol):
    """Where a recorder's increments go (`bridge.infra.metrics.RedisSink`). It must never raise:
    recording never breaks the work it measures, so a sink drops what it cannot store."""

    def add(self, increments: Sequence[Increment]) -> None:
        """Add them all, together: one event's increments are stored in one go."""


class Metrics:
    """Records events as increments into its sink; with no sink, records nothing."""

    def __init__(self, sink: Sink | None = None) -> None:
        self.sink = sink

    def webhook(self, provider: str, kind: WebhookKind, outcome: WebhookOutcome) -> None:
        self._add([(WEBHOOKS, (provider, kind.value, outcome.value), 1.0)])

    def unreadable_webhook(self, provider: str, kind: WebhookKind) -> None:
        self._add([(UNREADABLE_WEBHOOKS, (provider, kind.value), 1.0)])

    def intercom_request(self, method: str, endpoint: str, status: str, seconds: float) -> None:
        """One HTTP attempt (a retried call is several): `endpoint` a template, never a raw path."""
        self._add(
            [
                (INTERCOM_REQUESTS, (method, endpoint, status), 1.0),
                *_observation(INTERCOM_DURATION, (method, endpoint), seconds),
            ]
        )

    def rate_limited(self, service: str) -> None:
        self._add([(RATE_LIMITED, (service.lower(),), 1.0)])

    def waited(self, service: str, reason: WaitReason, seconds: float) -> None:
        self._add([(RETRY_WAIT, (service.lower(), reason.value), max(seconds, 0.0))])

    def contact_match(self, rule: str, *, variant: bool) -> None:
        self._add([(CONTACT_MATCHES, (rule, _flag(variant)), 1.0)])

    def outbound_message(self, provider: str, outcome: SendOutcome, *, template: bool) -> None:
        self._add([(OUTBOUND_MESSAGES, (provider, outcome.value, _flag(template)), 1.0)])

    def read_receipt(self, provider: str, outcome: ReadOutcome) -> None:
        self._add([(READ_RECEIPTS, (provider, outcome.value), 1.0)])

    def job(self, queue: str, outcome: JobOutcome, seconds: float) -> None:
        self._add(_observation(JOB_DURATION, (queue, outcome.value), seconds))

    def delivered(self, provider: str, result: str, *, received_at: float | None, now: float) -> None:
        """A message reached Intercom; `received_at` is when its ledger entry was stored (unix seconds)."""
        if received_at is None:
            return  # an entry stored before the ledger kept the time
        self._add(_observation(DELIVERY_LATENCY, (provider, result), max(now - received_at, 0.0)))

    def reply_caught_up(self, author_type: str) -> None:
        """The reply catch-up queued a part no webhook had brought (`bridge.replies.catchup`)."""
        self._add([(REPLY_CATCHUP_PARTS, (author_type,), 1.0)])

    def _add(self, increments: Sequence[Increment]) -> None:
        if self.sink is not None:
            self.sink.add(increments)


def _observation(spec: Spec, labels: Sequence[str], value: float) -> list[Increment]:
    """A histogram observation: one in the bucket it falls in (not cumulative), and its sum."""
    bound = next((b for b in spec.buckets if value <= b), math.inf)
    return [(spec, (*labels, bound_text(bound)), 1.0), (spec, (*labels, SUM_FIELD), value)]


def _flag(value: bool) -> str:
    return "true" if value else "false"


# --- which recorder: the job's, else the process's, else none ---

_job_recorder: ContextVar[Metrics | None] = ContextVar("bridge_job_metrics", default=None)
_process_recorder = Metrics()


def current() -> Metrics:
    """The recorder for whatever is running now."""
    return _job_recorder.get() or _process_recorder


@contextmanager
def installed(recorder: Metrics) -> Iterator[None]:
    """Make `recorder` the process's while the block runs (the web app's lifespan)."""
    global _process_recorder
    previous, _process_recorder = _process_recorder, recorder
    try:
        yield
    finally:
        _process_recorder = previous


@contextmanager
def scoped(recorder: Metrics) -> Iterator[None]:
    """Make `recorder` the one for this context while the block runs, whatever the process's is
    (a job: `bridge.infra.metrics.measured_job`)."""
    token = _job_recorder.set(recorder)
    try:
        yield
    finally:
        _job_recorder.reset(token)
