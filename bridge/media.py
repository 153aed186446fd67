"""Media Intercom can fetch: provider attachments re-served from the bridge's own URLs.

Providers often announce media Intercom cannot download: Meta sends only a media id that needs
the access token, Twilio can require its account credentials, others expire. The worker fetches
each attachment with the provider's credentials (the adapter knows how), stores it under
`BRIDGE_DATA_DIR/media`, and hands Intercom `{BRIDGE_PUBLIC_URL}/media/{token}`: a 256-bit random
token, so the URL is unguessable, valid for `BRIDGE_RETENTION_DAYS`.

The store is a directory: web and workers on one machine share it; several machines need it on
a shared volume.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bridge.providers.base import FetchedMedia

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")
# Served inline only when a browser cannot run it; anything else is offered as a download, so a
# customer's HTML "attachment" can never execute on the bridge's origin.
_INLINE_PREFIXES = ("image/", "audio/", "video/")
_INLINE_TYPES = {"application/pdf"}


@dataclass(frozen=True)
class StoredMedia:
    path: Path
    content_type: str
    filename: str | None
    expires_at: float

    @property
    def inline(self) -> bool:
        kind = self.content_type.lower()
        return (kind.startswith(_INLINE_PREFIXES) and kind != "image/svg+xml") or kind in _INLINE_TYPES


# A write older than this that never completed was cut short by a crash (writes take seconds).
ABANDONED_WRITE_SECONDS = 3600


class MediaStore:
    def __init__(self, root: Path, *, ttl_seconds: float, clock: Callable[[], float] = time.time) -> None:
        self._root = root
        self._ttl = ttl_seconds
        self._clock = clock

    def put(self, media: FetchedMedia) -> str:
        """Store `media`; its token."""
        self._root.mkdir(parents=True, exist_ok=True)
        token = secrets.token_urlsafe(32)
        meta = {
            "content_type": media.content_type,
            "filename": media.filename,
            "expires_at": self._clock() + self._ttl,
        }
        self._write(self._root / f"{token}.bin", media.content)
        self._write(self._root / f"{token}.json", json.dumps(meta).encode())
        return token

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
            content_type=str(meta["content_type"]),
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

    def _remove(self, token: str) -> None:
        for suffix in (".json", ".bin"):
            (self._root / f"{token}{suffix}").unlink(missing_ok=True)

    @staticmethod
    def _write(path: Path, content: bytes) -> None:
        """Write whole or not at all: a reader never sees half a file."""
        temporary = path.with_suffix(path.suffix + ".tmp")
        with open(temporary, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)


def media_store(data_dir: Path, retention_days: int) -> MediaStore:
    return MediaStore(data_dir / "media", ttl_seconds=retention_days * 86400)
