"""The interface every provider adapter implements, like an httpx transport: small and closed.

An adapter knows one provider's wire format and nothing else: whether it is configured, how to
prove a webhook is genuine, how to turn it into `InboundMessage`s, and what the provider expects
as an answer. Routes call adapters; adapters never touch Redis or Intercom.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from bridge.messages import InboundMessage
from bridge.settings import Settings


@dataclass(frozen=True)
class WebhookRequest:
    """A provider's HTTP request, as the bridge received it.

    `url` is the URL the provider called, rebuilt from `BRIDGE_PUBLIC_URL` when set: behind a
    proxy the URL the app sees differs from the one the provider signed.
    """

    method: str
    url: str
    headers: Mapping[str, str]
    query: str
    body: bytes
    received_at: datetime

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


@dataclass(frozen=True)
class Acknowledgement:
    """What the provider expects back once its message is safely stored."""

    status: int = 200
    media_type: str = "application/json"
    body: bytes = b'{"status":"accepted"}'
    headers: Mapping[str, str] = field(default_factory=dict)


class ProviderAdapter(ABC):
    """One provider: configuration check, signature verification, parsing, acknowledgement."""

    #: The provider's name in routes (`/webhooks/{name}`), the ledger and metrics.
    name: str

    @abstractmethod
    def disabled_reason(self, settings: Settings) -> str | None:
        """Why the provider is off (its verifying secret is unset), or None when it is on."""

    @abstractmethod
    def verify(self, request: WebhookRequest, settings: Settings) -> None:
        """Raise `SignatureInvalid` unless the request provably comes from the provider."""

    @abstractmethod
    def parse(self, request: WebhookRequest, settings: Settings) -> list[InboundMessage]:
        """The messages in a verified request; raise `MalformedPayload` when it cannot be read."""

    def acknowledge(self) -> Acknowledgement:
        """The answer once every message in the request is stored."""
        return Acknowledgement()
