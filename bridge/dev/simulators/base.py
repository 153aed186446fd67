"""What a simulated provider sends: one customer message, as an HTTP request."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from bridge.core.settings import Settings


@dataclass(frozen=True)
class HeldMedia:
    """A file the provider holds for the message: uploaded to its stand-in under `media_id`.

    A webhook names such a file as the provider does (Twilio a MediaUrl on its API, Meta a media
    id its Graph API resolves), where a `str` in `SimulatedMessage.media` is a link named as given."""

    media_id: str
    content_type: str
    sha256: str  # of the file's bytes, hex (Meta's webhook carries it)
    filename: str


@dataclass(frozen=True)
class MediaHolder:
    """Where a provider keeps the files its webhooks name: the settings field of the API that
    serves them (its stand-in's, in a sandbox run) and how it names one."""

    api_url: Callable[[Settings], str]
    new_id: Callable[[], str]


@dataclass(frozen=True)
class SimulatedMessage:
    sender: str
    recipient: str
    text: str = ""
    media: tuple[str | HeldMedia, ...] = ()
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


def api_origin(api_url: str) -> str:
    """`scheme://host:port` of a configured API URL: where its stand-in serves what it holds."""
    parts = urlsplit(api_url)
    return f"{parts.scheme}://{parts.netloc}"
