"""A message's media, handed to Intercom as files Intercom keeps.

Every attachment is fetched with the provider's credentials into the worker's media store
(`bridge.conversations.media`) and handed to Intercom as a file (`attachment_files` on a reply:
`bridge.intercom.files`). Intercom then holds the bytes and serves them to agents for as long as
the conversation exists: nothing depends on the bridge afterwards, neither which machine fetched
the file nor `BRIDGE_RETENTION_DAYS`, and no capability URL of the bridge's is handed out. The
other way, keeping the files where every web process could serve them (Redis for small ones, an
S3-compatible store for large ones), would make the bridge a file host for as long as any
conversation may be read, which is forever, for every deployment on more than one machine.

Intercom's limits (2.16 description; Help Center, "Control how attachments are uploaded and
used"): files go only in a reply (`POST /conversations` takes links only, so a message that opens
a conversation opens it with its text and adds its files as the first reply), at most 10 a reply,
and 100 MB an attachment; the API documents no byte limit of its own. The bridge therefore puts
at most `BRIDGE_INTERCOM_FILES_MAX_BYTES` (default 100 MB) of files in one request and more
files in further replies (`bridge.conversations.handover`). An attachment larger than that, or
one Intercom refuses, is linked instead: served from `{BRIDGE_PUBLIC_URL}/media/{token}` until
`BRIDGE_RETENTION_DAYS` run out, with a line in the message saying so; without
`BRIDGE_PUBLIC_URL` it is withheld with a line saying why. With the defaults
(`BRIDGE_MEDIA_MAX_BYTES` is 100 MB too) no attachment the bridge downloads is too large to hand
over.

An attachment that cannot be fetched does not cost the customer's message: a transient failure
(5xx, 429, network) retries the job; a definite one (404, 403, larger than
`BRIDGE_MEDIA_MAX_BYTES`, slower than `BRIDGE_MEDIA_DEADLINE`) delivers the message with a line
saying which attachment is missing and why. A link that can never be fetched
(`bridge.providers.media.urls`: not http(s), no host, not a URL, off the provider's media hosts,
a private address) is withheld unrequested, and the message delivered on its first attempt with
a line saying why. A message whose webhook did not verify (let through by
`BRIDGE_SIGNATURE_MODE=log-only`) has all its media withheld: anyone may have named those links.

The media of one message share a time budget well inside the job's timeout
(`MEDIA_BUDGET_SECONDS`): however slowly media hosts answer, the text reaches Intercom. A retry
that runs on another machine than the one that fetched a file fetches it again (`on_disk`).
"""

from __future__ import annotations

import logging
import mimetypes
import time
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

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
from bridge.intercom.files import AttachmentFile
from bridge.model.messages import InboundMessage, Media
from bridge.providers.base import ProviderAdapter
from bridge.providers.media.fetch import Sink, describe_size
from bridge.providers.media.transport import media_client

log = logging.getLogger(__name__)

# All of one message's downloads end within this, leaving the rest of the job's time for
# Intercom: media left when it runs out are withheld with a line, and the text is delivered.
MEDIA_BUDGET_SECONDS = JOB_TIMEOUT_SECONDS * 0.6
UNVERIFIED = "its webhook's signature did not verify (BRIDGE_SIGNATURE_MODE is log-only)"
OUT_OF_TIME = "the message's other attachments took all the time the bridge gives them"
# Longer names are cut: Intercom shows the name, and a payload may carry anything.
MAX_NAME_CHARACTERS = 120
_UNSHOWN = frozenset({"Cc", "Cf", "Zl", "Zp"})


@dataclass(frozen=True)
class HeldFile:
    """An attachment in this worker's media store, to hand Intercom as a file. `media` is its
    place among the message's media: another worker fetches it again from there."""

    token: str
    name: str
    content_type: str
    size: int
    media: int


@dataclass(frozen=True)
class Progress:
    """How far a message with more than one request's worth got: the conversation it is in,
    whether the bridge opened it for this message, and how many batches of files are in it."""

    conversation_id: str
    opened: bool
    batches: int


@dataclass(frozen=True)
class Attachments:
    """What a message's media became: files to hand over, lines for the body (media withheld or
    linked), and `urls` for `attachment_urls` (only in records written before files were handed
    over: a message recorded then keeps the links it was given)."""

    files: list[HeldFile] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    progress: Progress | None = None

    def to_record(self) -> dict[str, Any]:
        record = asdict(self)
        if self.progress is None:
            del record["progress"]
        return record

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Attachments:
        progress = record.get("progress")
        return cls(
            files=[HeldFile(**file) for file in record.get("files") or []],
            notes=list(record.get("notes") or []),
            urls=list(record.get("urls") or []),
            progress=Progress(**progress) if progress else None,
        )


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
        """Fetch every attachment of `message`; those Intercom cannot take as files are linked
        or withheld, with a line each."""
        if not message.media:
            return Attachments()
        if not message.verified:
            log.warning("%s attachments withheld: %s", message.provider, UNVERIFIED)
            return Attachments(notes=[withheld_note(UNVERIFIED, media) for media in message.media])
        attachments = Attachments()
        budget_ends = self._clock() + MEDIA_BUDGET_SECONDS
        for index, media in enumerate(message.media):
            file, note = self._fetch(message.provider, index, media, budget_ends)
            if file is not None and file.size > self._settings.intercom_files_max_bytes:
                limit = describe_size(self._settings.intercom_files_max_bytes)
                attachments.notes.append(
                    self._instead(file, f"is larger than Intercom takes as a file ({limit})")
                )
            elif file is not None:
                attachments.files.append(file)
            if note:
                attachments.notes.append(note)
        return attachments

    def on_disk(
        self, message: InboundMessage, files: Sequence[HeldFile]
    ) -> tuple[list[tuple[HeldFile, AttachmentFile]], list[str]]:
        """`files` as Intercom's client reads them from this worker's store, each with the file
        as held now: one fetched on another machine (or expired here) is fetched again, or
        becomes a line saying why it cannot be."""
        found: list[tuple[HeldFile, AttachmentFile]] = []
        notes: list[str] = []
        budget_ends = self._clock() + MEDIA_BUDGET_SECONDS
        for file in files:
            held, stored = file, self._store.get(file.token)
            if stored is None:
                log.info("%s attachment not on this machine; fetching it again", message.provider)
                again, note = self._fetch(
                    message.provider, file.media, message.media[file.media], budget_ends
                )
                stored = self._store.get(again.token) if again is not None else None
                if again is None or stored is None or again.size != file.size:
                    if again is not None:
                        self._store.discard(again.token)
                    notes.append(note or f"(an attachment changed since it was first fetched; {file.name})")
                    continue
                held = replace(file, token=again.token)
            on_disk = AttachmentFile(
                path=stored.path, name=file.name, content_type=file.content_type, size=file.size
            )
            found.append((held, on_disk))
        return found, notes

    def instead_of_files(self, files: Sequence[HeldFile], why: str) -> list[str]:
        """A line for each of `files`, which Intercom would not take: linked, or withheld."""
        return [self._instead(file, why) for file in files]

    def release(self, files: Sequence[HeldFile]) -> None:
        """Intercom holds `files` now: this worker's copies go (linked ones stay, to be served)."""
        for file in files:
            stored = self._store.get(file.token)
            if stored is not None and not stored.linked:
                self._store.discard(file.token)

    def _instead(self, file: HeldFile, why: str) -> str:
        """Link `file` from the bridge when it has a public URL, else withhold it; the line saying which."""
        public_url = self._settings.public_url
        linked = self._store.link(file.token) if public_url else None
        if public_url is None or linked is None:
            self._store.discard(file.token)
            log.warning("attachment withheld: it %s", why)
            unlinked = "and BRIDGE_PUBLIC_URL is not set to link it"
            return f"(an attachment was withheld: it {why}, {unlinked}; {file.name})"
        until = datetime.fromtimestamp(linked.expires_at, UTC).strftime("%Y-%m-%d")
        log.warning("attachment linked, not handed to Intercom: it %s", why)
        # The link on a line of its own, so that nothing around it is read as part of it.
        url = f"{public_url.rstrip('/')}/media/{file.token}"
        return f"(an attachment {why}; the bridge serves it until {until}; {file.name})\n{url}"

    def _fetch(
        self, provider: str, index: int, media: Media, budget_ends: float
    ) -> tuple[HeldFile | None, str | None]:
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
        name = file_name(media.filename, fetched.content_type, index)
        return HeldFile(token, name, fetched.content_type, fetched.size, index), None


def attachment_client(settings: Settings, adapters: Mapping[str, ProviderAdapter]) -> httpx.Client:
    """The HTTP client a worker fetches media with (`bridge.providers.media.transport.media_client`),
    trusting the origins of every provider's configured API URLs."""
    trusted = [url for adapter in adapters.values() for url in adapter.media_sources(settings).api_urls]
    return media_client(trusted)


def file_name(given: str | None, content_type: str, index: int) -> str:
    """The name Intercom shows for an attachment: the one the customer's file had, without any
    path, control or invisible characters, else `attachment-2.jpg` from its place and type."""
    name = "".join(
        character for character in (given or "") if unicodedata.category(character) not in _UNSHOWN
    )
    name = name.replace("\\", "/").rsplit("/", 1)[-1].strip().strip(".")
    if name:
        return name[-MAX_NAME_CHARACTERS:]
    extension = mimetypes.guess_extension(content_type) or ""
    return f"attachment-{index + 1}{extension}"


def withheld_note(reason: str, media: Media) -> str:
    """The line that replaces an attachment whose link is never fetched: why, and at most the
    link's scheme and host (its query may carry an access signature)."""
    return f"(an attachment was withheld, not fetched: {reason}; {_label(media)})"


def _label(media: Media) -> str:
    return media.filename or media.content_type or "attachment"
