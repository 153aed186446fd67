"""Media Intercom can fetch: provider attachments re-served from the bridge's own URLs.

Providers often announce media Intercom cannot download: Meta sends only a media id that needs
the access token, Twilio can require its account credentials, others expire. The worker fetches
each attachment with the provider's credentials (the adapter knows how), stores it under
`BRIDGE_DATA_DIR/media`, and hands Intercom `{BRIDGE_PUBLIC_URL}/media/{token}`: a 256-bit random
token, so the URL is unguessable, valid for `BRIDGE_RETENTION_DAYS`.

An attachment is written to a private temporary file in the store as it downloads, and renamed
under its token only once complete (`MediaStore.receiving`): no process holds a whole attachment
in memory, and a reader never sees half of one. Its type is stored as a bare, valid
`type/subtype` (`bridge.model.media_types`), so what a payload announced never reaches a header as is.

The store is a directory: web and workers on one machine share it; several machines need it on
a shared volume. Only its owner may read it (directory 0700, files 0600): these are customers'
pictures and documents, which the web side hands out only for their token.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from bridge.core.files import FILE_MODE, private_dir
from bridge.model.media_types import media_type, shown_inline
from bridge.providers.media.fetch import FetchedMedia

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")


@dataclass(frozen=True)
class StoredMedia:
    path: Path
    content_type: str
    filename: str | None
    expires_at: float

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

    def __init__(self, token: str, file: BinaryIO, publish: Callable[[str, FetchedMedia], None]) -> None:
        self._publish = publish
        self.token = token
        self.file = file
        self.kept = False

    def keep(self, media: FetchedMedia) -> str:
        """Keep what was written as `media` describes it; its token."""
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        self._publish(self.token, media)
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

    def put(self, content: bytes, content_type: str, filename: str | None = None) -> str:
        """Store `content`, already in memory (small media, tests); its token."""
        with self.receiving() as incoming:
            incoming.file.write(content)
            return incoming.keep(
                FetchedMedia(content_type=content_type, filename=filename, size=len(content))
            )

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
        )

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

    def _publish(self, token: str, media: FetchedMedia) -> None:
        """The complete file under its token, then its description: `get` finds both or neither."""
        os.replace(self._temporary(token), self._root / f"{token}.bin")
        meta = {
            "content_type": media_type(media.content_type),
            "filename": media.filename,
            "expires_at": self._clock() + self._ttl,
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
