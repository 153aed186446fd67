"""The customer's own time on their message in Intercom, and a line when it arrives late.

Intercom orders a conversation by each part's `created_at`, which is the time of the API call
unless one is given. A message that reaches Intercom late (a provider's retry hours after the
bridge was down, a backlog, `bridge jobs replay`) would sit after the agents' answers it came
before. So the bridge gives Intercom the time the customer sent it: the provider's timestamp
where the webhook carries one (Meta, Vonage, MessageBird, TextMagic, Africa's Talking), else when
the webhook reached the bridge (Twilio sends none). A message placed in the past can go unseen,
so when it reaches Intercom more than `LATE_AFTER_SECONDS` after that time its text says so:
"(sent 14:02, received 16:10 UTC)", received being when it reached Intercom.

A time ahead of the bridge's clock is taken as now; one older than the retention (no ledger
keeps a message that long, so the provider's clock is wrong) is not used at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from bridge.model.messages import InboundMessage

# Past this, a message is late enough to say so in its text.
LATE_AFTER_SECONDS = 300


@dataclass(frozen=True)
class CustomerTime:
    created_at: int | None  # unix seconds for Intercom's `created_at`; None: Intercom's own time
    late_line: str | None  # the line to add to the text; None: not late


def customer_time(message: InboundMessage, *, now: float, oldest: float) -> CustomerTime:
    """When the customer sent `message`, as Intercom takes it, and the lateness line; `oldest`:
    the earliest time believed (older ones are a wrong clock)."""
    sent = message.received_at.timestamp()
    if sent < oldest:
        return CustomerTime(None, None)
    created_at = int(min(sent, now))
    return CustomerTime(created_at, late_line(created_at, now) if now - sent > LATE_AFTER_SECONDS else None)


def late_line(sent: float, received: float) -> str:
    """`(sent 14:02, received 16:10 UTC)`; with the dates when the days differ."""
    sent_at, received_at = datetime.fromtimestamp(sent, UTC), datetime.fromtimestamp(received, UTC)
    shown = "%H:%M" if sent_at.date() == received_at.date() else "%Y-%m-%d %H:%M"
    return f"(sent {sent_at.strftime(shown)}, received {received_at.strftime(shown)} UTC)"
