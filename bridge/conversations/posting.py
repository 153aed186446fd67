"""A customer's message posted into a conversation that exists, at most once: intent, then reconcile.

Intercom has no idempotency key. A reply whose answer never came back (a timeout, a 5xx after
Intercom applied it, a worker killed mid-call or before it recorded the answer) cannot be told
from one that never happened, and posting it again shows the message twice. So:

- intent: before each reply, the inbound entry records which reply it is (`Posting`: the
  conversation, the delivery's step, the contact, the `created_at` given and a digest of the body
  sent; `bridge.intercom.parts.SentReply`), in one write to the entry;
- reconcile: a later attempt at the same step (RQ's retry of a failed or abandoned job, a replay)
  that finds that intent reads the conversation first (`GET /conversations/{id}`) and, when the
  reply is there, carries on as if the post had answered. The reply's own quick retry does the same
  (`IntercomClient.reply_as_contact`).

The intent names the step (`TEXT`, or the n-th batch of files, `files_step`) because the recovery
points written after each reply (`bridge.conversations.attachments.Progress`, `delivered`) move
a retry past it: an intent for another step is one whose reply was recorded, or one never reached.
The body is the one sent then, not the one a retry would build: its lateness line says when it
reached Intercom, and that changes.

Not covered: a new conversation (`POST /conversations`) or a new lead. Neither can be looked for
reliably: Intercom's search shows new ones only after minutes (docs/architecture.md, "The one
window left").
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bridge.core.errors import IntercomGone, IntercomNotFound
from bridge.intake.ledger import InboundEntry, InboundLedger
from bridge.intercom.client import IntercomClient
from bridge.intercom.parts import SentReply, body_digest

log = logging.getLogger(__name__)

# The reply carrying the message's text (and its first files, when the conversation continues).
TEXT = "text"


def files_step(index: int) -> str:
    """The step of the reply carrying batch `index` of the message's files on its own."""
    return f"files:{index}"


@dataclass(frozen=True)
class Posting:
    """A reply about to be posted: where, as which step, and what identifies it there."""

    conversation_id: str
    step: str
    sent: SentReply

    def to_record(self) -> dict[str, Any]:
        return {
            "conversation_id": self.conversation_id,
            "step": self.step,
            "contact_id": self.sent.contact_id,
            "digest": self.sent.digest,
            "created_at": self.sent.created_at,
            "since": self.sent.since,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any] | None) -> Posting | None:
        """The recorded posting; None when there is none, or none this version can read (then the
        reply is posted as before this record existed)."""
        if not record:
            return None
        try:
            created_at = record.get("created_at")
            sent = SentReply(
                contact_id=str(record["contact_id"]),
                digest=str(record["digest"]),
                created_at=None if created_at is None else int(created_at),
                since=float(record["since"]),
            )
            return cls(str(record["conversation_id"]), str(record["step"]), sent)
        except (KeyError, TypeError, ValueError):
            return None


class Postings:
    """The intents on one job's inbound ledger, and the look into Intercom they allow."""

    def __init__(
        self, ledger: InboundLedger, intercom: IntercomClient, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._ledger = ledger
        self._intercom = intercom
        self._clock = clock

    def intend(
        self, carrier_id: str, conversation_id: str, step: str, *, created_at: int | None
    ) -> Callable[[str, str], None]:
        """What records, before each post, the reply a step is about to make (`Handover.reply`
        calls it with the contact and the body as sent)."""

        def record(contact_id: str, body: str) -> None:
            sent = SentReply(contact_id, body_digest(body), created_at, since=self._clock())
            self._ledger.record_posting(carrier_id, Posting(conversation_id, step, sent).to_record())

        return record

    def already_posted(self, carrier: InboundEntry, step: str) -> Posting | None:
        """The reply an earlier attempt at `step` was making when it stopped, when Intercom holds
        it; None when no attempt was, or the reply is not there (then it is posted)."""
        posting = Posting.from_record(carrier.posting)
        if posting is None or posting.step != step:
            return None
        try:
            found = self._intercom.conversation_with_reply(posting.conversation_id, posting.sent)
        except (IntercomNotFound, IntercomGone):
            return None  # the conversation is gone: the step goes on as if nothing had been posted
        if found is None:
            log.info(
                "inbound %s: the %s reply an earlier attempt made is not in Intercom",
                carrier.inbound_id,
                step,
            )
            return None
        return posting
