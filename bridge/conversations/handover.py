"""A message's files into its conversation: as many replies as Intercom's limits need, and
the text whatever Intercom says of the files.

Intercom takes at most 10 files a reply (`bridge.intercom.files`), and the bridge puts at most
`BRIDGE_INTERCOM_FILES_MAX_BYTES` in one request (`bridge.conversations.attachments`), so a
message's files go in batches: the first with the text when the conversation continues, each
further one in a reply of its own whose body names its files (Intercom requires a body).

A reply Intercom refuses (a 4xx other than 404, 409 or 410, which say the conversation or the
contact is gone and are the caller's to handle) is posted again without its files, each one
linked from the bridge or withheld, with a line saying so: refused files never cost the text.

Each post is announced first to the caller's `intend` with the body as sent (that one, not the
caller's, has the lines about lost or refused files), so that a retry can find it in the
conversation instead of posting it again (`bridge.conversations.posting`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from bridge.conversations.attachments import AttachmentResolver, HeldFile
from bridge.core.errors import IntercomConflict, IntercomGone, IntercomNotFound, IntercomRejected
from bridge.intercom.client import IntercomClient
from bridge.intercom.files import MAX_FILES
from bridge.intercom.models import ContactRef
from bridge.model.messages import InboundMessage

log = logging.getLogger(__name__)


def batches(files: Sequence[HeldFile], max_bytes: int) -> list[list[HeldFile]]:
    """`files` in order, as the replies that carry them: at most `MAX_FILES` and `max_bytes` a
    reply (no file is larger: `AttachmentResolver.resolve` links those)."""
    grouped: list[list[HeldFile]] = []
    for file in files:
        current = grouped[-1] if grouped else None
        if (
            current is None
            or len(current) == MAX_FILES
            or sum(f.size for f in current) + file.size > max_bytes
        ):
            grouped.append([file])
        else:
            current.append(file)
    return grouped


def files_line(files: Sequence[HeldFile]) -> str:
    """The body of a reply that carries only files (Intercom requires one)."""
    count = len(files)
    return f"({count} attachment{'s' if count > 1 else ''}: {', '.join(file.name for file in files)})"


class Handover:
    """Replies carrying a message's files, on one job's Intercom client and media store."""

    def __init__(self, intercom: IntercomClient, attachments: AttachmentResolver) -> None:
        self._intercom = intercom
        self._attachments = attachments

    def reply(
        self,
        conversation_id: str,
        contact: ContactRef,
        message: InboundMessage,
        body: str,
        files: Sequence[HeldFile],
        *,
        urls: Sequence[str] = (),
        created_at: int | None = None,
        intend: Callable[[str, str], None] | None = None,
    ) -> object:
        """Reply as `contact` with `files`; refused for them, again without (module docstring).
        Once Intercom holds the files, this worker's copies go. `created_at`: the customer's time
        (`bridge.conversations.customer_time`), so the files sit with the text they came with.
        `intend(contact id, body)` runs before each post."""
        found, lost = self._attachments.on_disk(message, files)
        held, on_disk = [pair[0] for pair in found], [pair[1] for pair in found]
        body = "\n".join([body, *lost])
        if intend is not None:
            intend(contact.id, body)
        try:
            answer = self._intercom.reply_as_contact(
                conversation_id,
                contact_id=contact.id,
                body=body,
                attachment_urls=urls,
                attachment_files=on_disk,
                created_at=created_at,
            )
        except IntercomRejected as refused:
            if not on_disk or isinstance(refused, (IntercomNotFound, IntercomGone, IntercomConflict)):
                raise
            log.warning(
                "Intercom refused %d file(s) in conversation %s: %s", len(on_disk), conversation_id, refused
            )
            why = f"was refused by Intercom ({refused.status} {refused.code}: {refused.message})"
            body = "\n".join([body, *self._attachments.instead_of_files(held, why)])
            if intend is not None:
                intend(contact.id, body)
            return self._intercom.reply_as_contact(
                conversation_id, contact_id=contact.id, body=body, attachment_urls=urls, created_at=created_at
            )
        self._attachments.release(held)
        return answer

    def settled(self, files: Sequence[HeldFile]) -> None:
        """An earlier attempt's reply carried `files` into Intercom: this worker's copies go."""
        self._attachments.release(files)
