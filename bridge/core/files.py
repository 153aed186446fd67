"""Files and directories only their owner can read: the data dir, its secrets, its media.

`BRIDGE_DATA_DIR` holds the embedded Valkey's password and append-only file (every queued
message), the sandbox's generated credentials and customers' media. On a shared machine, the
default umask (022) would leave all of it readable by every local user.
"""

from __future__ import annotations

import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """`path` as a directory only its owner can enter: every missing component created 0700
    (`mkdir(parents=True)` would create the parents with the umask's mode), and `path` itself
    narrowed to 0700 if this user owns it and others could enter (one left by an older bridge)."""
    for directory in reversed([p for p in (path, *path.parents) if not p.exists()]):
        directory.mkdir(mode=DIR_MODE, exist_ok=True)
    status = path.stat()
    if status.st_mode & 0o077 and status.st_uid == os.getuid():
        path.chmod(DIR_MODE)
    return path


def write_private(path: Path, content: str) -> None:
    """Write `content` to a 0600 file; an existing file is narrowed to 0600 too (`os.open`'s mode
    applies only to a file it creates)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "w") as handle:
        os.fchmod(handle.fileno(), FILE_MODE)
        handle.write(content)
