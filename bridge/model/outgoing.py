"""What the bridge sends to customers: the message model, and how a reply becomes messages.

An agent's reply can be longer than a provider takes in one message, and carry attachments a
channel may not (SMS without MMS), takes one at a time (WhatsApp), or takes with a short caption
or none (WhatsApp audio). `plan` turns one reply into the messages to send, in order, as a pure
function of the provider's limits: text split at word boundaries, media attached where the
channel carries them, linked in the text where it does not. Each planned message is one provider
API call: adapters send it as it is, and refuse (`check_planned`) one that would need two.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from urllib.parse import unquote, urlsplit

from bridge.model.messages import Channel


class MediaKind(StrEnum):
    """How an attachment travels: the message types every media channel the bridge uses has."""

    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"
    DOCUMENT = "document"  # a file the customer downloads (Vonage and MessageBird call it `file`)


# The kind an attachment travels as, by its URL's extension: the URL is all a reply carries, and
# the provider fetches the link and checks the bytes itself. One table for every provider, so the
# planner and the adapters agree on it; the three it merges:
# - Meta Cloud API (…/whatsapp/messages/image-messages, …/audio-messages; AWS End User Messaging
#   "supported media types", a copy of Meta's table): image JPEG/PNG (5 MB), video MP4/3GPP
#   (16 MB), audio AAC/AMR/MP3/M4A/OGG-Opus (16 MB);
# - Vonage Java SDK: WhatsappImageRequest jpg/jpeg/png, WhatsappAudioRequest aac/m4a/amr/mp3/opus
#   (ogg: WhatsApp's own voice notes), MmsImageRequest jpg/jpeg/png/gif;
# - MessageBird Conversations WhatsApp: Meta's types, opus included.
# Anything else (PDF, Office, vCard, WebP, HEIC…) goes as a document, so it still arrives. GIF too:
# WhatsApp images are JPEG or PNG only (Vonage's MMS, which shows GIFs, maps them itself).
MEDIA_KIND_BY_EXTENSION: Mapping[str, MediaKind] = {
    **dict.fromkeys(("jpg", "jpeg", "png"), MediaKind.IMAGE),
    **dict.fromkeys(("mp4", "3gp", "3gpp"), MediaKind.VIDEO),
    **dict.fromkeys(("aac", "amr", "mp3", "m4a", "ogg", "opus"), MediaKind.AUDIO),
}

# WhatsApp's captions: image, video and document objects take one, audio does not (Meta's audio
# request has only id/link/voice; Vonage `WhatsappAudioRequest`).
WHATSAPP_CAPTIONED = frozenset({MediaKind.IMAGE, MediaKind.VIDEO, MediaKind.DOCUMENT})


class HeaderKind(StrEnum):
    """What a template's header holds (Meta's header formats; Twilio's Content types carry the
    same media kinds)."""

    IMAGE = "image"
    VIDEO = "video"
    DOCUMENT = "document"
    TEXT = "text"


@dataclass(frozen=True)
class TemplateHeader:
    """The header a template is sent with: a media URL (image, video, document) or a text value."""

    kind: HeaderKind
    url: str | None = None
    text: str | None = None


@dataclass(frozen=True)
class Template:
    """A pre-approved WhatsApp template: what may open a conversation, or continue one outside
    the 24-hour window. `name` is what the provider sends it by (Meta: the template's name;
    Twilio: the Content SID, `HX…`); `variables` fill the body's placeholders in order."""

    name: str
    language: str = "en_US"
    variables: tuple[str, ...] = ()
    header: TemplateHeader | None = None
    # The body placeholders' names, for a template that names them (`{{first_name}}`, Meta's
    # `parameter_format: NAMED`): WhatsApp takes each value with its name. Empty: positional.
    parameter_names: tuple[str, ...] = ()


# A body placeholder: positional `{{1}}` or named `{{first_name}}` (Meta's `parameter_format`).
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]{1,64})\s*\}\}")


def placeholders(body: str) -> list[str]:
    """The distinct placeholders of a template body, in the order their values are sent:
    positional ones by number, named ones as they first appear."""
    seen = list(dict.fromkeys(match.group(1) for match in _PLACEHOLDER.finditer(body)))
    if all(name.isdigit() for name in seen):
        return sorted(seen, key=int)
    return seen


def render(body: str, variables: Sequence[str]) -> str:
    """The text a template shows with `variables` filled in (what the agent sees in Intercom).
    A placeholder without a value stays as written."""
    values = dict(zip(placeholders(body), variables, strict=False))
    return _PLACEHOLDER.sub(lambda match: values.get(match.group(1), match.group(0)), body)


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
    # Text beside media is a caption of at most this many characters; None: the channel carries
    # text and media together without a caption limit (an MMS body beside its media).
    max_caption: int | None = None
    # The kinds whose message can carry the text (the first attachment's kind decides).
    captioned: frozenset[MediaKind] = WHATSAPP_CAPTIONED


@dataclass(frozen=True)
class Draft:
    """The reply to plan: text and attachment URLs (Intercom's part)."""

    text: str
    attachment_urls: tuple[str, ...] = field(default=())


def plan(draft: Draft, limits: SendLimits, base: OutboundMessage) -> list[OutboundMessage]:
    """The messages that carry `draft` within `limits`, addressed like `base`, in sending order.

    One planned message is one provider API call, so one id to track: delivery reports of every
    message tie back to the conversation, and a retry resends only the message that failed, never
    a part of one that went out. So text rides with media only where the provider sends both in
    one call: the first media message carries the whole text when it fits `max_text` and, if the
    channel has captions, `max_caption` on a `captioned` kind. Otherwise the text goes first, as
    its own message(s) split at `max_text`, and the media follow without text."""
    text = draft.text.strip()
    media: tuple[str, ...] = ()
    if draft.attachment_urls and limits.media:
        media = draft.attachment_urls
    elif draft.attachment_urls:
        text = "\n".join([text, *draft.attachment_urls]).strip()
    batches = [media[i : i + limits.max_media] for i in range(0, len(media), limits.max_media)]
    media_messages = [replace(base, text="", media_urls=batch) for batch in batches]
    if text and batches and takes_text_with(limits, text, batches[0]):
        return [replace(media_messages[0], text=text), *media_messages[1:]]
    chunks = split_text(text, limits.max_text) if text else []
    return [replace(base, text=chunk, media_urls=()) for chunk in chunks] + media_messages


def takes_text_with(limits: SendLimits, text: str, media_urls: Sequence[str]) -> bool:
    """Whether one message on this channel carries `text` beside `media_urls` (one API call)."""
    if len(text) > limits.max_text:
        return False
    if limits.max_caption is None or not media_urls:
        return True
    return len(text) <= limits.max_caption and media_kind(media_urls[0]) in limits.captioned


def check_planned(message: OutboundMessage, limits: SendLimits) -> None:
    """Raise ValueError if `message` is not one API call within `limits`, as `plan` makes them:
    too many attachments, or text that cannot ride with its attachment. A caller's bug: the
    adapter refuses it rather than split it into calls whose ids and retries nobody tracks."""
    count = len(message.media_urls)
    if count > limits.max_media:
        raise ValueError(
            f"{count} attachments in one message, where the channel takes {limits.max_media}: "
            "plan the reply with bridge.model.outgoing.plan"
        )
    if message.text.strip() and count and not takes_text_with(limits, message.text, message.media_urls):
        kind = media_kind(message.media_urls[0])
        if len(message.text) > limits.max_text:
            why = f"a message holds {limits.max_text}"
        elif kind not in limits.captioned:
            why = f"{kind} takes no caption here"
        else:
            why = f"captions hold {limits.max_caption}"
        raise ValueError(
            f"a {len(message.text)}-character text cannot ride with its {kind} attachment ({why}): "
            "send the text as its own message, as bridge.model.outgoing.plan does"
        )


def attachment_name(url: str) -> str:
    """The file name an attachment URL's path ends in, unquoted ("" when there is none)."""
    try:
        path = urlsplit(url).path
    except ValueError:  # urlsplit refuses e.g. an unclosed `[` IPv6 host
        return ""
    return unquote(path.rstrip("/").rsplit("/", 1)[-1])


def media_kind(url: str) -> MediaKind:
    """How the attachment at `url` travels, by its path's extension (`MEDIA_KIND_BY_EXTENSION`)."""
    return MEDIA_KIND_BY_EXTENSION.get(media_extension(url), MediaKind.DOCUMENT)


def media_extension(url: str) -> str:
    """The lower-case extension of the URL path's file name, without the dot ("" when none)."""
    name = attachment_name(url)
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


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
