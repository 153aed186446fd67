"""WhatsApp's template components: the values a template is sent with, in Meta's own shape.

Meta's Cloud API takes a template as `{"name", "language": {"code"}, "components": [...]}`, where
a `header` component carries the header's one parameter (a media object with a `link`, or a text)
and a `body` component one `{"type": "text", "text": …}` per body variable, in order
(developers.facebook.com/documentation/business-messaging/whatsapp/templates/template-media, "Send
media-based message template"; …/whatsapp/messages/template-messages). Vonage passes the same
object through its `custom` message to WhatsApp unchanged (developer.vonage.com/messages/concepts/
custom-objects, …/code-snippets/whatsapp/send-media-mtm), and MessageBird's `hsm.components` are
the same components with a media `url` instead of a `link` (java-rest-api `ConversationContentHsm`,
`MessageComponent`, `MessageParam`, `Media {url, caption}`). One builder serves the three.

Components are sent only for what the template needs: none for a template without variables or
header (what the bridge has always sent), a header only when one is given. A header whose value is
missing (a media kind without a URL, a text header without text) is the caller's mistake, refused
before any request: WhatsApp would refuse it (Graph 132012, "Parameter format does not match").
"""

from __future__ import annotations

from typing import Any

from bridge.model.outgoing import HeaderKind, Template, TemplateHeader, attachment_name
from bridge.providers.base import refused

MEDIA_HEADERS = frozenset({HeaderKind.IMAGE, HeaderKind.VIDEO, HeaderKind.DOCUMENT})


def template_object(template: Template, *, provider: str, policy: bool = False) -> dict[str, Any]:
    """Meta's template object for `template`. `policy`: add `"policy": "deterministic"` to the
    language, as Vonage's custom template shows it (Meta's Cloud API no longer needs it)."""
    language: dict[str, str] = {"code": template.language}
    if policy:
        language = {"policy": "deterministic"} | language
    found = components(template, provider=provider)
    return {"name": template.name, "language": language} | ({"components": found} if found else {})


def components(template: Template, *, provider: str, media_field: str = "link") -> list[dict[str, Any]]:
    """The header and body components that carry `template`'s header and variables (none when it
    has neither). `media_field` names a media object's URL: Meta's `link`, MessageBird's `url`."""
    found: list[dict[str, Any]] = []
    if template.header is not None:
        parameter = header_parameter(template.header, provider=provider, media_field=media_field)
        found.append({"type": "header", "parameters": [parameter]})
    if template.variables:
        values = [{"type": "text", "text": value} for value in template.variables]
        if len(template.parameter_names) == len(values):
            # A named template: each value says which placeholder it fills (Meta's `parameter_name`).
            values = [
                value | {"parameter_name": name}
                for value, name in zip(values, template.parameter_names, strict=True)
            ]
        found.append({"type": "body", "parameters": values})
    return found


def header_parameter(header: TemplateHeader, *, provider: str, media_field: str = "link") -> dict[str, Any]:
    """The header component's one parameter: `{"type": "image", "image": {"link": …}}` (a document
    keeps its file name, which WhatsApp shows), or `{"type": "text", "text": …}`."""
    reason = header_problem(header)
    if reason is not None:
        raise refused(provider, reason)
    if header.kind is HeaderKind.TEXT:
        return {"type": "text", "text": header.text}
    url = str(header.url)
    media: dict[str, str] = {media_field: url}
    name = attachment_name(url)
    if header.kind is HeaderKind.DOCUMENT and name:
        media["filename"] = name
    return {"type": header.kind.value, header.kind.value: media}


def header_problem(header: TemplateHeader) -> str | None:
    """Why `header` cannot be sent as it is, or None."""
    if header.kind in MEDIA_HEADERS:
        url = (header.url or "").strip()
        if not url.startswith(("https://", "http://")):
            return f"the {header.kind.value} header needs the URL of its media (http or https)"
        return None
    if not (header.text or "").strip():
        return "the text header needs its text"
    return None
