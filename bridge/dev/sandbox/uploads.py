"""Files handed to the sandbox as `attachment_files`, kept and served as Intercom keeps them.

Intercom 2.16 takes files only in a reply (`POST /conversations/{id}/reply`): `attachment_files`,
each `{content_type, data, name}` with `data` in base64 (`conversation_attachment_files`), at most 10
on an admin's reply; a contact's reply documents no count, and the sandbox holds it to the same 10.
`POST /conversations` documents `attachment_urls` only, so the sandbox refuses files there rather
than drop them unseen. When a reply carries both, the files take precedence and the links are
ignored, as the description says of the admin's reply.

What the sandbox refuses, as `400 parameter_invalid` naming `attachment_files`: a value that is not
a list of objects, more than 10 files, a `name` or `content_type` that is missing or not a
non-empty string, `data` that is not strict base64 (RFC 4648's alphabet and padding, no line
breaks), and a file larger than `max_bytes`: the 100 MB Intercom's Help Center gives for one
attachment by default ("Control how attachments are uploaded and used"; the API reference gives
no byte limit of its own), lower when a test sets `attachment_max_bytes`. A file's size is
judged from its base64 length before anything is decoded.

A kept file is served back at `/_sandbox/uploads/{id}/{name}`, the `url` its part lists, as data
only: the same headers the bridge's own `/media` answers carry, inline only for the types
`bridge.model.media_types` allows. Intercom's own attachment links are unauthenticated too.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from bridge.dev.sandbox.errors import ApiError
from bridge.model.media_types import media_type, shown_inline

MAX_FILES = 10
# Intercom Help Center: "The size limit on individual attachments is 100mb".
DEFAULT_MAX_BYTES = 100 * 1024 * 1024
UPLOADS_PATH = "/_sandbox/uploads"
# On every answer that serves a kept file (the bridge's `/media` carries the same).
DATA_ONLY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "X-Content-Type-Options": "nosniff",
}
_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
FIELD = "attachment_files"


@dataclass(frozen=True)
class Upload:
    """One file a reply carried, as Intercom lists it on the part (`type: upload`)."""

    id: str
    name: str
    content_type: str
    data: bytes
    url: str

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "upload",
            "name": self.name,
            "url": self.url,
            "content_type": self.content_type,
            "filesize": len(self.data),
        }

    @property
    def inline(self) -> bool:
        return shown_inline(self.content_type)


@dataclass(frozen=True)
class FileField:
    """A file as the request described it, checked and decoded."""

    name: str
    content_type: str
    data: bytes


def read_files(fields: dict[str, Any], *, max_bytes: int) -> list[FileField]:
    """The request's `attachment_files`, each checked as the module docstring says; [] without."""
    files = fields.get(FIELD)
    if files is None:
        return []
    if not isinstance(files, list) or not all(isinstance(item, dict) for item in files):
        raise _invalid("attachment_files must be a list of {content_type, data, name} objects")
    if len(files) > MAX_FILES:
        raise _invalid(f"attachment_files accepts at most {MAX_FILES} files")
    return [_read_file(index, item, max_bytes) for index, item in enumerate(files)]


def refuse_files(fields: dict[str, Any], operation: str) -> None:
    """Refuse `attachment_files` where Intercom's description does not take them."""
    if fields.get(FIELD) is not None:
        raise _invalid(f"attachment_files is not a parameter of {operation}: add files in a reply")


def upload_url(base_url: str, upload_id: str, name: str) -> str:
    """Where a kept file is served: under the sandbox's own address, its name last."""
    return f"{base_url.rstrip('/')}{UPLOADS_PATH}/{upload_id}/{quote(name, safe='')}"


def _read_file(index: int, item: dict[str, Any], max_bytes: int) -> FileField:
    where = f"attachment_files[{index}]"
    for name in ("name", "content_type", "data"):
        value = item.get(name)
        if not isinstance(value, str) or not value:
            raise _invalid(f"{where}.{name} is required and must be a non-empty string")
    data = str(item["data"])
    padding = len(data) - len(data.rstrip("="))
    if len(data) // 4 * 3 - padding > max_bytes:
        raise _invalid(f"{where} is larger than {max_bytes} bytes")
    if len(data) % 4 or not _BASE64.fullmatch(data):
        raise _invalid(f"{where}.data is not base64")
    try:
        decoded = base64.b64decode(data, validate=True)
    except binascii.Error:
        raise _invalid(f"{where}.data is not base64") from None
    return FileField(name=str(item["name"]), content_type=media_type(str(item["content_type"])), data=decoded)


def _invalid(message: str) -> ApiError:
    return ApiError(400, "parameter_invalid", message, field=FIELD)
