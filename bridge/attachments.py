"""A message's media, as attachments Intercom can fetch.

With `BRIDGE_PUBLIC_URL` set, every attachment is fetched with the provider's credentials and
re-served from the bridge (`bridge.media`): provider URLs may need credentials or expire. Without
it, media that come with a URL are passed through as they are (fine for public URLs), and media
announced only by id cannot be delivered: that is a configuration error naming the variable.

An attachment that cannot be fetched does not cost the customer's message: a transient failure
(5xx, 429, network) retries the job; a definite one (404, 403, too large) delivers the message
with a line saying which attachment is missing and why. A link that can never be fetched
(`bridge.media_urls`: not http(s), no host, not a URL) is withheld in both modes, unrequested,
and the message delivered on its first attempt with a line saying why.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx

from bridge.errors import ConfigurationError, MalformedPayload, MediaRefused, MediaUnavailable
from bridge.media import MediaStore
from bridge.media_urls import refusal
from bridge.messages import InboundMessage, Media
from bridge.providers.base import ProviderAdapter
from bridge.settings import Settings

log = logging.getLogger(__name__)

# WhatsApp's largest media (documents) are 100 MB.
MAX_MEDIA_BYTES = 100 * 1024 * 1024


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
    ) -> None:
        self._settings = settings
        self._store = store
        self._adapters = adapters
        self._http = http

    def resolve(self, message: InboundMessage) -> Attachments:
        if not message.media:
            return Attachments()
        public_url = self._settings.public_url
        if not public_url:
            if any(media.url is None for media in message.media):
                raise ConfigurationError(
                    f"BRIDGE_PUBLIC_URL is not set: {message.provider} sends media by id, and the bridge "
                    "must serve them to Intercom from its own public URL"
                )
            return self._pass_through(message)
        attachments = Attachments()
        for media in message.media:
            url, note = self._proxy(message.provider, media, public_url.rstrip("/"))
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

    def _proxy(self, provider: str, media: Media, public_url: str) -> tuple[str | None, str | None]:
        adapter = self._adapters.get(provider)
        if adapter is None:
            raise ConfigurationError(f"no adapter for provider {provider!r} to fetch its media")
        label = _label(media)
        try:
            fetched = adapter.fetch_media(media, self._settings, self._http)
        except MediaRefused as exc:  # never requested: no retry could make the link work
            log.warning("%s attachment withheld: %s", provider, exc)
            return None, withheld_note(str(exc), media)
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
        if len(fetched.content) > MAX_MEDIA_BYTES:
            return None, f"(an attachment was larger than {MAX_MEDIA_BYTES // (1024 * 1024)} MB; {label})"
        token = self._store.put(fetched)
        return f"{public_url}/media/{token}", None


def withheld_note(reason: str, media: Media) -> str:
    """The line that replaces an attachment whose link is never fetched: why, and at most the
    link's scheme and host (its query may carry an access signature)."""
    return f"(an attachment was withheld, not fetched: {reason}; {_label(media)})"


def _label(media: Media) -> str:
    return media.filename or media.content_type or "attachment"
