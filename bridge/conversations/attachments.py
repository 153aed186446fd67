"""A message's media, as attachments Intercom can fetch.

With `BRIDGE_PUBLIC_URL` set, every attachment is fetched with the provider's credentials and
re-served from the bridge (`bridge.conversations.media`): provider URLs may need credentials or
expire. Without it, media that come with a URL are passed through as they are (fine for public
URLs), and media announced only by id cannot be delivered: that is a configuration error naming the variable.

An attachment that cannot be fetched does not cost the customer's message: a transient failure
(5xx, 429, network) retries the job; a definite one (404, 403, larger than
`BRIDGE_MEDIA_MAX_BYTES`, slower than `BRIDGE_MEDIA_DEADLINE`) delivers the message with a line
saying which attachment is missing and why. A link that can never be fetched
(`bridge.providers.media.urls`: not http(s), no host, not a URL) is withheld in both modes, unrequested,
and the message delivered on its first attempt with a line saying why; so is, when proxying, a
link off the provider's media hosts or to a private address. A message whose webhook did not
verify (let through by `BRIDGE_SIGNATURE_MODE=log-only`) has all its media withheld: anyone may
have named those links.

The media of one message share a time budget well inside the job's timeout
(`MEDIA_BUDGET_SECONDS`): however slowly media hosts answer, the text reaches Intercom.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import httpx

from bridge.conversations.media import MediaStore
from bridge.core.errors import (
    ConfigurationError,
    MalformedPayload,
    MediaAbandoned,
    MediaRefused,
    MediaUnavailable,
)
from bridge.core.settings import Settings
from bridge.infra.worker_timings import JOB_TIMEOUT_SECONDS
from bridge.model.messages import InboundMessage, Media
from bridge.providers.base import ProviderAdapter
from bridge.providers.media.fetch import Sink
from bridge.providers.media.transport import media_client
from bridge.providers.media.urls import refusal

log = logging.getLogger(__name__)

# All of one message's downloads end within this, leaving the rest of the job's time for
# Intercom: media left when it runs out are withheld with a line, and the text is delivered.
MEDIA_BUDGET_SECONDS = JOB_TIMEOUT_SECONDS * 0.6
UNVERIFIED = "its webhook's signature did not verify (BRIDGE_SIGNATURE_MODE is log-only)"
OUT_OF_TIME = "the message's other attachments took all the time the bridge gives them"


@dataclass(frozen=True)
class Attachments:
    urls: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # lines for the body: media that could not be had

    def to_record(self) -> dict[str, list[str]]:
        return {"urls": self.urls, "notes": self.notes}


class AttachmentResolver:
    def __init__(
        self,
        *,
        settings: Settings,
        store: MediaStore,
        adapters: Mapping[str, ProviderAdapter],
        http: httpx.Client,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._store = store
        self._adapters = adapters
        self._http = http
        self._clock = clock

    def resolve(self, message: InboundMessage) -> Attachments:
        if not message.media:
            return Attachments()
        if not message.verified:
            log.warning("%s attachments withheld: %s", message.provider, UNVERIFIED)
            return Attachments(notes=[withheld_note(UNVERIFIED, media) for media in message.media])
        public_url = self._settings.public_url
        if not public_url:
            if any(media.url is None for media in message.media):
                raise ConfigurationError(
                    f"BRIDGE_PUBLIC_URL is not set: {message.provider} sends media by id, and the bridge "
                    "must serve them to Intercom from its own public URL"
                )
            return self._pass_through(message)
        attachments = Attachments()
        budget_ends = self._clock() + MEDIA_BUDGET_SECONDS
        for media in message.media:
            url, note = self._proxy(message.provider, media, public_url.rstrip("/"), budget_ends)
            if url:
                attachments.urls.append(url)
            if note:
                attachments.notes.append(note)
        return attachments

    def _pass_through(self, message: InboundMessage) -> Attachments:
        """The provider's links, for Intercom to fetch, except those that can never be fetched:
        Intercom cannot either, and an agent must not be handed `file:///etc/passwd` as a link."""
        attachments = Attachments()
        for media in message.media:
            assert media.url is not None  # resolve() refuses media without a URL in this mode
            refused = refusal(media.url)
            if refused is None:
                attachments.urls.append(media.url)
            else:
                log.warning("%s attachment withheld: %s", message.provider, refused.describe())
                attachments.notes.append(withheld_note(refused.describe(), media))
        return attachments

    def _proxy(
        self, provider: str, media: Media, public_url: str, budget_ends: float
    ) -> tuple[str | None, str | None]:
        adapter = self._adapters.get(provider)
        if adapter is None:
            raise ConfigurationError(f"no adapter for provider {provider!r} to fetch its media")
        label = _label(media)
        seconds = min(self._settings.media_deadline, budget_ends - self._clock())
        if seconds <= 0:
            log.warning("%s attachment withheld: %s", provider, OUT_OF_TIME)
            return None, withheld_note(OUT_OF_TIME, media)
        try:
            with self._store.receiving() as incoming:
                sink = Sink.within(incoming.file, max_bytes=self._settings.media_max_bytes, seconds=seconds)
                fetched = adapter.fetch_media(media, self._settings, self._http, into=sink)
                token = incoming.keep(fetched)
        except MediaRefused as exc:  # never requested from where it points: no retry could help
            log.warning("%s attachment withheld: %s", provider, exc)
            return None, withheld_note(str(exc), media)
        except MediaAbandoned as exc:  # requested, then given up: another try would end the same
            log.warning("%s attachment abandoned: %s", provider, exc)
            return None, f"(an attachment {exc}; {label})"
        except httpx.HTTPStatusError as exc:
            status = exc.response.status_code
            if status >= 500 or status in (408, 429):
                raise MediaUnavailable(f"{provider} answered {status} for an attachment") from exc
            log.warning("%s attachment unavailable: %s", provider, status)
            return None, f"(an attachment could not be retrieved from {provider}: {status}; {label})"
        except httpx.TransportError as exc:
            raise MediaUnavailable(f"{provider} media could not be reached: {type(exc).__name__}") from exc
        except MalformedPayload as exc:  # the provider's media API answered something unreadable
            log.warning("%s attachment unavailable: %s", provider, exc)
            return None, f"(an attachment could not be retrieved from {provider}: {exc}; {label})"
        return f"{public_url}/media/{token}", None


def attachment_client(settings: Settings, adapters: Mapping[str, ProviderAdapter]) -> httpx.Client:
    """The HTTP client a worker fetches media with (`bridge.providers.media.transport.media_client`),
    trusting the origins of every provider's configured API URLs."""
    trusted = [url for adapter in adapters.values() for url in adapter.media_sources(settings).api_urls]
    return media_client(trusted)


def withheld_note(reason: str, media: Media) -> str:
    """The line that replaces an attachment whose link is never fetched: why, and at most the
    link's scheme and host (its query may carry an access signature)."""
    return f"(an attachment was withheld, not fetched: {reason}; {_label(media)})"


def _label(media: Media) -> str:
    return media.filename or media.content_type or "attachment"
