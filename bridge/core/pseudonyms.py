"""Keyed hashes of customers' ids: what the bridge keeps of a person it was asked to forget.

Forgetting a customer (`bridge.ops.forget`) removes their number from everything but one thing
the law asks to keep: that they opted out. Such an opt-out stays under a keyed hash of the
customer's identity key (HMAC-SHA-256) instead of the number, so a later message to the number
hashes to the same record and is still blocked, while the record alone names nobody.

Why keyed: a phone number has about 10^10 values, so a plain hash of one is reversed by trying
them all in minutes. The key is kept apart from Redis: `BRIDGE_FORGET_SECRET`, else a random key
the first forget writes to `BRIDGE_DATA_DIR/forget.key` (0600). A Redis dump alone then reveals
nothing. Every process that checks consent must hold the same key, so a deployment on several
machines sets `BRIDGE_FORGET_SECRET` (the same everywhere); a process with another key is told
so (`key_id`, checked by `bridge.consent.store`) instead of silently missing an opt-out.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from bridge.core.files import FILE_MODE, private_dir
from bridge.core.settings import Settings

KEY_FILE = "forget.key"
# What a hashed customer looks like where an identity key would be (`phone:+1…`).
PREFIX = "forgotten:"


class Pseudonyms:
    """The keyed hash of identity keys under one key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("a pseudonym key needs at least 16 bytes")
        self._key = key

    def of(self, identity_key: str) -> str:
        """`forgotten:<64 hex>` for `phone:+14155550123`: the same input, the same pseudonym."""
        digest = hmac.new(self._key, identity_key.encode(), hashlib.sha256).hexdigest()
        return f"{PREFIX}{digest}"

    @property
    def key_id(self) -> str:
        """Names the key without revealing it: stored beside the hashes, so a process holding
        another key knows it cannot read them."""
        return hmac.new(self._key, b"bridge pseudonym key id", hashlib.sha256).hexdigest()[:16]

    @classmethod
    def configured(cls, settings: Settings, *, create: bool = False) -> Pseudonyms | None:
        """The deployment's key: `BRIDGE_FORGET_SECRET`, else `BRIDGE_DATA_DIR/forget.key`,
        written now if `create` and absent; None when there is none (nobody was forgotten here)."""
        if settings.forget_secret is not None:
            return cls(settings.forget_secret.get_secret_value().encode())
        path = settings.data_dir / KEY_FILE
        stored = _read(path)
        if stored is None and create:
            stored = _create(path)
        return cls(bytes.fromhex(stored)) if stored else None


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except FileNotFoundError:
        return None


def _create(path: Path) -> str:
    """A new random key in a 0600 file; the one another process wrote first if it won the race."""
    private_dir(path.parent)
    key = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return _read(path) or key
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return key
