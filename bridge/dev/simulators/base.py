"""What a simulated provider sends: one customer message, as an HTTP request."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx


@dataclass(frozen=True)
class SimulatedMessage:
    sender: str
    recipient: str
    text: str = ""
    media: tuple[str, ...] = ()
    whatsapp: bool = False
    profile_name: str | None = None
    message_id: str | None = None


@dataclass(frozen=True)
class SimulatedRequest:
    url: str
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    method: str = "POST"

    def send(self, client: httpx.Client | None = None, *, timeout: float = 10.0) -> httpx.Response:
        """Post it, as the provider would."""
        if client is not None:
            return client.request(self.method, self.url, content=self.body, headers=dict(self.headers))
        return httpx.request(
            self.method, self.url, content=self.body, headers=dict(self.headers), timeout=timeout
        )
