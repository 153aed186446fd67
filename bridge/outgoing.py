"""What the bridge sends to customers: the message model, and how a reply becomes messages.

An agent's reply can be longer than a provider takes in one message, and carry attachments a
channel may not (SMS without MMS) or takes one at a time (WhatsApp). `plan` turns one reply into
the messages to send, in order, as a pure function of the provider's limits: text split at word
boundaries, media attached where the channel carries them, linked in the text where it does not.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from bridge.messages import Channel


@dataclass(frozen=True)
class Template:
    """A pre-approved WhatsApp template, sent when free text is not allowed (24-hour window)."""

    name: str
    language: str = "en_US"


@dataclass(frozen=True)
class OutboundMessage:
    """One message to one customer, from the business number they wrote to."""

    channel: Channel
    to: str  # the customer's address exactly as the provider gave it (`whatsapp:+316…`, a BSUID)
    sender: str  # the business number / phone-number id / channel id the customer wrote to
    text: str = ""
    media_urls: tuple[str, ...] = ()
    account: str | None = None  # the provider account that received the customer's message
    reply_reference: str | None = None  # e.g. Africa's Talking's linkId for premium replies
    template: Template | None = None


@dataclass(frozen=True)
class SendLimits:
    """What one message can carry on a provider's channel."""

    max_text: int
    media: bool  # attachments travel as media (MMS, WhatsApp), not as links
    max_media: int = 1  # attachments per message


@dataclass(frozen=True)
class Draft:
    """The reply to plan: text and attachment URLs (Intercom's part)."""

    text: str
    attachment_urls: tuple[str, ...] = field(default=())


def plan(draft: Draft, limits: SendLimits, base: OutboundMessage) -> list[OutboundMessage]:
    """The messages that carry `draft` within `limits`, addressed like `base`, in sending order."""
    text = draft.text.strip()
    media: tuple[str, ...] = ()
    if draft.attachment_urls and limits.media:
        media = draft.attachment_urls
    elif draft.attachment_urls:
        text = "\n".join([text, *draft.attachment_urls]).strip()
    chunks = split_text(text, limits.max_text) if text else []
    messages = [replace(base, text=chunk, media_urls=()) for chunk in chunks]
    batches = [media[i : i + limits.max_media] for i in range(0, len(media), limits.max_media)]
    for index, batch in enumerate(batches):
        if index < len(messages):
            # WhatsApp shows the text as the media's caption: attachments ride on the first messages.
            messages[index] = replace(messages[index], media_urls=batch)
        else:
            messages.append(replace(base, text="", media_urls=batch))
    return messages


def split_text(text: str, limit: int) -> list[str]:
    """`text` in pieces of at most `limit` characters, cut at whitespace where possible."""
    if limit <= 0:
        raise ValueError("limit must be positive")
    pieces = []
    rest = text
    while len(rest) > limit:
        cut = rest.rfind(" ", 0, limit + 1)
        newline = rest.rfind("\n", 0, limit + 1)
        cut = max(cut, newline)
        if cut <= 0:
            cut = limit  # one word longer than the limit: cut it
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces
