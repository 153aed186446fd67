"""The bridge's error taxonomy.

Retryability is a type: a worker retries what is retryable (with `BRIDGE_RETRY_DELAYS`) and sends
what is permanent straight to the failed registry, where ops can read the reason and replay after a
fix. Messages name the setting, provider or id involved and never carry a secret or a full phone
number.

    BridgeError
    ├── ConfigurationError        a setting a feature needs is missing or invalid (names the variable)
    ├── RetryableError            may succeed later, as is
    │   ├── IntercomUnavailable   Intercom answered 5xx / timed out / unreachable, attempts exhausted
    │   │   └── IntercomOutcomeUnknown  the same for a call not safe to repeat: it may have been
    │   │                             applied, so it is looked for before it is made again
    │   ├── IntercomRateLimited   Intercom kept answering 429
    │   ├── ConversationPending   Intercom created an admin's message but shows no conversation for it
    │   │                         yet (`message_id`: a retry looks it up instead of sending it again)
    │   ├── SenderBusy            another worker holds the sender's lock for too long
    │   ├── MediaUnavailable      a provider's media server answered 5xx/429 or could not be reached
    │   ├── ProviderUnavailable   a provider's API answered 5xx / timed out / unreachable, attempts exhausted
    │   ├── ProviderRateLimited   a provider's API kept answering 429
    │   └── StorageUnavailable    Redis did not answer (webhooks answer 503 so providers retry)
    │       └── NotDurable        Redis took the write but did not confirm it on disk or on a
    │                             replica in time (BRIDGE_ACK_AFTER, `bridge.infra.durability`)
    └── PermanentError            will fail again until something changes (data, settings, code)
        ├── IntercomRejected      any other 4xx, with Intercom's own error code and message
        │   ├── IntercomNotFound  404
        │   ├── IntercomGone      410 (a merged contact; `canonical_id` from the Link header)
        │   └── IntercomConflict  409 naming an existing contact (`existing_id`)
        ├── ProviderRejected      a provider refused a send (4xx), with its own code and message
        ├── PartiallySent         a provider sent some parts of a message and refused others: never
        │                         retried (the parts that went would reach the customer twice)
        ├── UnprocessableMessage  accepted and stored, but it cannot be delivered as it is
        ├── MediaRefused          an attachment the bridge will not fetch: not a link, not on the
        │                         provider's media hosts, a private address (`bridge.providers.media.urls`)
        ├── MediaAbandoned        an attachment's download given up: over the cap, past its deadline
        └── LedgerRecordMissing   the job's message is no longer in the ledger (retention)

    WebhookRejected               raised while answering a provider; maps to an HTTP status
    ├── UnknownProvider           404: no adapter by that name
    ├── ProviderDisabled          404: the provider's verifying secret is not configured
    ├── MethodNotAllowed          405: the provider never calls this URL with that method
    ├── SignatureInvalid          403: the request is not provably from the provider
    │   └── SignatureOutOfWindow  403: signed, but at a time the bridge no longer (or not yet)
    │                             accepts: a replay its ledgers may have forgotten (`bridge.core.freshness`)
    ├── MalformedPayload          400: the body cannot be read as the provider's format
    ├── PayloadTooLarge           413
    └── RetryLater                503: nothing stored; the provider should send it again
"""

from __future__ import annotations

from typing import NamedTuple


class BridgeError(Exception):
    """Base of every error the bridge raises on purpose."""


class ConfigurationError(BridgeError):
    """A setting a feature needs is missing or invalid."""


class RetryableError(BridgeError):
    """The same work may succeed if tried again later."""


class PermanentError(BridgeError):
    """Trying again unchanged will fail again."""


class IntercomUnavailable(RetryableError):
    """Intercom could not be reached or answered 5xx until attempts ran out."""


class IntercomOutcomeUnknown(IntercomUnavailable):
    """A call that must not be made twice got no clear answer (none, a 5xx, a 408): Intercom may
    have applied it. Whoever makes it again looks first (`bridge.intercom.parts`)."""


class IntercomRateLimited(RetryableError):
    """Intercom kept answering 429 Too Many Requests."""


class ConversationPending(RetryableError):
    """Intercom took an admin's message (`POST /messages`) but neither its answer nor the conversation
    search shows its conversation yet. The message exists: `message_id` lets the retry look the
    conversation up (`IntercomClient.conversation_for_message`) instead of writing to the customer twice."""

    def __init__(self, message: str, *, message_id: str) -> None:
        self.message_id = message_id
        super().__init__(message)


class SenderBusy(RetryableError):
    """Another worker held the sender's lock for longer than we are willing to wait."""


class MediaUnavailable(RetryableError):
    """An attachment could not be fetched from the provider for now."""


class ProviderUnavailable(RetryableError):
    """A provider's API could not be reached or answered 5xx until attempts ran out."""


class ProviderRateLimited(RetryableError):
    """A provider's API kept answering 429."""


class StorageUnavailable(RetryableError):
    """Redis could not be reached or did not answer in time."""


class NotDurable(StorageUnavailable):
    """Redis took the write, but did not confirm it as durable as `BRIDGE_ACK_AFTER` asks
    (fsynced, or on a replica) within `BRIDGE_ACK_TIMEOUT_MS`: the request is answered 503 and
    its retry is a duplicate the ledgers handle."""


class IntercomRejected(PermanentError):
    """Intercom refused the request with a 4xx other than 429."""

    def __init__(self, *, method: str, path: str, status: int, code: str, message: str) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.code = code
        self.message = message
        super().__init__(f"Intercom answered {status} {code} to {method} {path}: {message}")


class IntercomNotFound(IntercomRejected):
    """404: the contact or conversation does not exist (or is not visible yet)."""


class IntercomGone(IntercomRejected):
    """410: the contact was merged away; `canonical_id` names the survivor when Intercom says."""

    def __init__(self, *, canonical_id: str | None, **kwargs: object) -> None:
        self.canonical_id = canonical_id
        super().__init__(**kwargs)  # type: ignore[arg-type]


class IntercomConflict(IntercomRejected):
    """409: a contact matching those details already exists; `existing_id` names it."""

    def __init__(self, *, existing_id: str | None, **kwargs: object) -> None:
        self.existing_id = existing_id
        super().__init__(**kwargs)  # type: ignore[arg-type]


class ProviderRejected(PermanentError):
    """A provider refused to send: its error code (e.g. Twilio 21610, Meta 131047) and message."""

    def __init__(self, *, provider: str, code: str | None, message: str, status: int | None = None) -> None:
        self.provider = provider
        self.code = code
        self.message = message
        self.status = status
        label = f" {code}" if code else ""
        super().__init__(f"{provider} refused the message{label}: {message}")


class RefusedPart(NamedTuple):
    """One part of a message that the provider refused while it sent others."""

    number: int  # 1-based, in the order the provider listed the parts
    code: str | None
    message: str


class PartiallySent(PermanentError):
    """A provider accepted some parts of one message (a long SMS goes out as several) and refused
    others, in one answer. Permanent by type: sending again would deliver the accepted parts a
    second time, so the send is recorded under the ids it got and the agent is told what is missing.
    The Vonage SDK raises `PartialFailureError` on the same answer."""

    def __init__(
        self, *, provider: str, message_ids: tuple[str, ...], total: int, refused: tuple[RefusedPart, ...]
    ) -> None:
        self.provider = provider
        self.message_ids = message_ids  # of the accepted parts, in order; the first names the message
        self.total = total
        self.refused = refused
        parts = ", ".join(
            f"part {part.number} ({part.code or 'no code'}: {part.message})" for part in refused
        )
        super().__init__(f"{provider} sent {len(message_ids)} of {total} parts and refused {parts}")


class UnprocessableMessage(PermanentError):
    """The message was accepted and stored but cannot be delivered as it is."""


class MediaRefused(PermanentError):
    """An attachment the bridge will not fetch (`bridge.providers.media.urls`): nothing was requested from
    where its link points. The message itself is still delivered, with a line saying why the
    attachment is missing."""


class MediaAbandoned(PermanentError):
    """An attachment's download was given up (`bridge.providers.media.fetch`): larger than
    BRIDGE_MEDIA_MAX_BYTES, or slower than BRIDGE_MEDIA_DEADLINE. Nothing of it is kept; the
    message is delivered with a line saying so."""


class LedgerRecordMissing(PermanentError):
    """The job refers to a message the ledger no longer holds."""


class WebhookRejected(BridgeError):
    """A webhook request the bridge refuses; `status` is the HTTP answer."""

    status = 400

    def __init__(self, reason: str, *, headers: dict[str, str] | None = None) -> None:
        self.reason = reason
        self.headers = headers or {}
        super().__init__(reason)


class UnknownProvider(WebhookRejected):
    status = 404


class ProviderDisabled(WebhookRejected):
    status = 404


class MethodNotAllowed(WebhookRejected):
    status = 405


class SignatureInvalid(WebhookRejected):
    status = 403


class SignatureOutOfWindow(SignatureInvalid):
    """The signature verifies, but the time it signs is older than the ledgers remember or too far
    ahead of the bridge's clock: acting on it could repeat what was done before (`bridge.core.freshness`)."""


class MalformedPayload(WebhookRejected):
    status = 400


class PayloadTooLarge(WebhookRejected):
    status = 413


class RetryLater(WebhookRejected):
    """Not stored, and the provider should send it again (e.g. Vonage's occasional unsigned
    callback, which it resends signed)."""

    status = 503

    def __init__(self, reason: str) -> None:
        super().__init__(reason, headers={"Retry-After": "5"})
