"""Provider attachments on the worker's disk, on their way into Intercom; a few served by link.

Providers often announce media Intercom cannot download: Meta sends only a media id that needs
the access token, Twilio can require its account credentials, others expire. The worker fetches
each attachment with the provider's credentials (the adapter knows how) and stores it under
`BRIDGE_DATA_DIR/media`, under a 256-bit random token, for `BRIDGE_RETENTION_DAYS` at most. From
there it goes to Intercom as a file (`bridge.conversations.attachments`), and once Intercom holds
it the worker discards its copy (`discard`). Nothing serves such a file: the store holds it only
until it is handed over, and a retry on the same machine finds it instead of downloading it again.

An attachment Intercom cannot take as a file (too large, refused) is *linked* instead (`link`):
only linked media are served, at `{BRIDGE_PUBLIC_URL}/media/{token}` (`bridge.web.routes.media`),
unguessable, until they expire. Media stored before the bridge handed files over carry no mark
and were all handed out as links, so they are served as linked.

An attachment is written to a private temporary file in the store as it downloads, and renamed
under its token only once complete (`MediaStore.receiving`): no process holds a whole attachment
in memory, and a reader never sees half of one. Its type is stored as a bare, valid
`type/subtype` (`bridge.model.media_types`), so what a payload announced never reaches a header as is.

The store is a directory. Files handed to Intercom need nothing shared: the worker that fetched
one sends it. A linked one is served by whichever web process Intercom asks, so a deployment on
several machines that links media needs this directory on a shared volume (docs/operations.md).
Only its owner may read it (directory 0700, files 0600): these are customers' pictures and
documents, which the web side hands out only for their token, and only once linked.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO, Protocol

from bridge.core.files import FILE_MODE, private_dir
from bridge.model.media_types import media_type, shown_inline
from bridge.providers.media.fetch import FetchedMedia

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")


class Publish(Protocol):
    def __call__(self, token: str, media: FetchedMedia, *, linked: bool) -> None: ...


@dataclass(frozen=True)
class StoredMedia:
    path: Path
    content_type: str
    filename: str | None
    expires_at: float
    linked: bool  # handed out as a link, so served; otherwise only on its way into Intercom

    @property
    def inline(self) -> bool:
        """Whether a browser may show it in place; anything else is offered as a download, so a
        customer's HTML or SVG "attachment" never runs on the bridge's origin."""
        return shown_inline(self.content_type)


# A write older than this that never completed was cut short by a crash (writes take seconds).
ABANDONED_WRITE_SECONDS = 3600


class Incoming:
    """An attachment being written: `file`, a private temporary file in the store, kept under a
    token by `keep` once complete, removed otherwise (`MediaStore.receiving`)."""

    def __init__(self, token: str, file: BinaryIO, publish: Publish) -> None:
        self._publish = publish
        self.token = token
        self.file = file
        self.kept = False

    def keep(self, media: FetchedMedia, *, linked: bool = False) -> str:
        """Keep what was written as `media` describes it, served only if `linked`; its token."""
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        self._publish(self.token, media, linked=linked)
        self.kept = True
        return self.token


class MediaStore:
    def __init__(self, root: Path, *, ttl_seconds: float, clock: Callable[[], float] = time.time) -> None:
        self._root = root
        self._ttl = ttl_seconds
        self._clock = clock

    @contextmanager
    def receiving(self) -> Iterator[Incoming]:
        """A new attachment to write to; unless it is kept, nothing of it remains afterwards."""
        private_dir(self._root)
        token = secrets.token_urlsafe(32)
        temporary = self._temporary(token)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        incoming = Incoming(token, os.fdopen(fd, "wb"), self._publish)
        try:
            yield incoming
        finally:
            if not incoming.kept:
                incoming.file.close()
                temporary.unlink(missing_ok=True)

    def put(
        self, content: bytes, content_type: str, filename: str | None = None, *, linked: bool = True
    ) -> str:
        """Store `content`, already in memory (small media, tests), served unless not `linked`;
        its token."""
        with self.receiving() as incoming:
            incoming.file.write(content)
            fetched = FetchedMedia(content_type=content_type, filename=filename, size=len(content))
            return incoming.keep(fetched, linked=linked)

    def get(self, token: str) -> StoredMedia | None:
        """The stored media for `token`, or None when unknown or expired (then it is removed)."""
        if not _TOKEN.match(token):
            return None
        meta_path, data_path = self._root / f"{token}.json", self._root / f"{token}.bin"
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            return None
        if float(meta["expires_at"]) <= self._clock() or not data_path.exists():
            self._remove(token)
            return None
        return StoredMedia(
            path=data_path,
            # Normalized again: media stored before types were normalized may carry anything.
            content_type=media_type(str(meta.get("content_type") or "")),
            filename=meta.get("filename"),
            expires_at=float(meta["expires_at"]),
            linked=bool(meta.get("linked", True)),  # unmarked: stored when every item was a link
        )

    def served(self, token: str) -> StoredMedia | None:
        """The media for `token` if it may be served (linked, not expired), else None."""
        stored = self.get(token)
        return stored if stored is not None and stored.linked else None

    def link(self, token: str) -> StoredMedia | None:
        """Mark `token`'s media as handed out by link, so it is served until it expires; None
        when it is gone."""
        stored = self.get(token)
        if stored is None:
            return None
        if not stored.linked:
            meta = json.loads((self._root / f"{token}.json").read_text()) | {"linked": True}
            self._write(self._root / f"{token}.json", json.dumps(meta).encode())
        return replace(stored, linked=True)

    def discard(self, token: str) -> None:
        """Forget `token`'s media now (Intercom holds it); gone already is fine."""
        if _TOKEN.match(token):
            self._remove(token)

    def names(self) -> Iterator[tuple[str, str | None]]:
        """Each stored item's token and the file name it came with (a shared contact card is
        often named after the number it holds: `bridge.ops.forget` looks there)."""
        if not self._root.exists():
            return
        for meta_path in self._root.glob("*.json"):
            try:
                filename = json.loads(meta_path.read_text()).get("filename")
            except (OSError, ValueError, AttributeError):
                continue
            yield meta_path.stem, filename if isinstance(filename, str) else None

    def purge_expired(self) -> int:
        """Remove every expired item, and the leftovers of writes a crash cut short (a `.bin`
        whose `.json` never came, a `.tmp`) once they are an hour old; how many items."""
        if not self._root.exists():
            return 0
        removed = 0
        for meta_path in self._root.glob("*.json"):
            token = meta_path.stem
            try:
                expired = float(json.loads(meta_path.read_text())["expires_at"]) <= self._clock()
            except (OSError, ValueError, KeyError):
                expired = True
            if expired:
                self._remove(token)
                removed += 1
        stale_before = self._clock() - ABANDONED_WRITE_SECONDS
        for path in [*self._root.glob("*.tmp"), *self._root.glob("*.bin")]:
            orphan = path.suffix == ".tmp" or not path.with_suffix(".json").exists()
            try:
                if orphan and path.stat().st_mtime < stale_before:
                    path.unlink(missing_ok=True)
                    removed += 1
            except OSError:
                continue  # removed by another process meanwhile
        return removed

    def _publish(self, token: str, media: FetchedMedia, *, linked: bool) -> None:
        """The complete file under its token, then its description: `get` finds both or neither."""
        os.replace(self._temporary(token), self._root / f"{token}.bin")
        meta = {
            "content_type": media_type(media.content_type),
            "filename": media.filename,
            "expires_at": self._clock() + self._ttl,
            "linked": linked,
        }
        self._write(self._root / f"{token}.json", json.dumps(meta).encode())

    def _temporary(self, token: str) -> Path:
        return self._root / f"{token}.bin.tmp"

    def _remove(self, token: str) -> None:
        for suffix in (".json", ".bin"):
            (self._root / f"{token}{suffix}").unlink(missing_ok=True)

    @staticmethod
    def _write(path: Path, content: bytes) -> None:
        """Write whole or not at all: a reader never sees half a file."""
        temporary = path.with_suffix(path.suffix + ".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)


def media_store(data_dir: Path, retention_days: int) -> MediaStore:
    return MediaStore(data_dir / "media", ttl_seconds=retention_days * 86400)
