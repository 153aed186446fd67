"""Files handed to Intercom in a reply (`attachment_files`), streamed from disk.

Intercom 2.16 takes a file in a conversation reply as `{content_type, data, name}`, `data` being
the file in base64 (`conversation_attachment_files`), at most 10 a reply (the admin's reply says
so; a contact's reply documents no count and gets the same). `POST /conversations` takes no files
(it documents `attachment_urls` only), so files always go in a reply. When a reply carries both,
the files take precedence and the links are dropped (the admin's reply documents it): a request
of the bridge carries one or the other, never both.

A file's base64 is a third larger than the file. The request body is therefore written as it is
sent: the JSON around the files, then each file read from disk in pieces of `READ_BYTES` and
encoded piece by piece (a multiple of 3 bytes, so the pieces' base64 joins into the file's). Its
length is known before the first byte goes (4 characters per 3 bytes, rounded up), so the request
carries an exact `Content-Length`, not chunked encoding. No process holds a file in memory, let
alone its base64: the most held at once is one piece.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Intercom's count per reply (admin reply: "You can include up to 10 files").
MAX_FILES = 10
# What one step reads from disk: a multiple of 3, so each step's base64 needs no padding.
READ_BYTES = 3 * 16 * 1024
_COMPACT = (",", ":")


@dataclass(frozen=True)
class AttachmentFile:
    """A file on disk to hand Intercom: where it is, the name and type Intercom shows, its size."""

    path: Path
    name: str
    content_type: str
    size: int


class FileBody:
    """A JSON request body whose `attachment_files` are read from disk as it is sent."""

    def __init__(self, payload: dict[str, Any], files: Sequence[AttachmentFile]) -> None:
        if len(files) > MAX_FILES:
            raise ValueError(f"Intercom takes at most {MAX_FILES} files in a reply, not {len(files)}")
        if "attachment_urls" in payload:
            raise ValueError("a reply with files carries no attachment_urls: Intercom would drop them")
        opening = json.dumps(payload, separators=_COMPACT)[:-1]
        self._head = (opening + ("," if payload else "") + '"attachment_files":[').encode()
        self._files = list(files)
        self._openings = [
            (("," if index else "") + _described(file) + ',"data":"').encode()
            for index, file in enumerate(self._files)
        ]
        each = (len(start) + _base64_length(file.size) + len(b'"}') for start, file in self._each())
        self.length = len(self._head) + sum(each) + len(b"]}")

    def chunks(self) -> Iterator[bytes]:
        """The body, from the start: every attempt of a request reads the files afresh."""
        yield self._head
        for opening, file in self._each():
            yield opening
            yield from _encoded(file)
            yield b'"}'
        yield b"]}"

    def _each(self) -> Iterator[tuple[bytes, AttachmentFile]]:
        return zip(self._openings, self._files, strict=True)


def _described(file: AttachmentFile) -> str:
    """The file's object in JSON without its closing brace: `{"content_type":…,"name":…`."""
    return json.dumps({"content_type": file.content_type, "name": file.name}, separators=_COMPACT)[:-1]


def _encoded(file: AttachmentFile) -> Iterator[bytes]:
    """The file's base64, a piece at a time; it must still be the size it was announced as,
    or the request's `Content-Length` would be a lie."""
    read = 0
    with file.path.open("rb") as handle:
        while piece := handle.read(READ_BYTES):
            read += len(piece)
            if read > file.size:
                break
            yield base64.b64encode(piece)
    if read != file.size:
        raise OSError(f"{file.path.name} changed while it was sent ({read} bytes, not {file.size})")


def _base64_length(size: int) -> int:
    return 4 * ((size + 2) // 3)
