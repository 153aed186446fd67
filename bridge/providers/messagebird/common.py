"""What MessageBird's payload generations share: the provider's name, the sender, and reading a
JSON message's content."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from bridge.core.errors import MalformedPayload
from bridge.core.json_payloads import JsonNode
from bridge.core.settings import Settings
from bridge.model.messages import Media
from bridge.model.senders import SenderIdentity, classify_sender

NAME = "messagebird"

#: A message's text and attachments.
Content = tuple[str, tuple[Media, ...]]
#: Reads one content type; raises `MalformedPayload` with the reason when it cannot.
ContentReader = Callable[[JsonNode], Content]


def sender(raw: str, settings: Settings) -> SenderIdentity:
    """The sender as MessageBird names it."""
    # MessageBird sends international digits without `+`: no default region may apply to them.
    return classify_sender(raw, country_code_included=True, default_region=settings.default_region)


def read_content(
    readers: Mapping[str, ContentReader], kind: str, content: JsonNode | None, provider: str
) -> tuple[str, tuple[Media, ...], str | None]:
    """Text, media and, when the content cannot be delivered, the reason.

    A type missing from `readers`, or content a reader cannot read (a missing URL, a field of the
    wrong JSON type), keeps the message with the reason as its problem: it is never dropped.
    """
    reader = readers.get(kind)
    if reader is None:
        return "", (), f"{provider} message type {kind!r} is not supported"
    try:
        text, media = reader(content or JsonNode({}))
    except MalformedPayload as exc:
        return "", (), f"{provider} {kind} message: {exc.reason}"
    return text.replace("\x00", ""), media, None
