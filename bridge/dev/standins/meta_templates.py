"""Meta's stand-in for WhatsApp templates: the account's template list, and a template send
checked against the template it names, as the Cloud API checks it.

The list is `GET /{version}/{waba}/message_templates` (Graph's reference for the WhatsApp Business
Account's `message_templates` edge): `{"data": [...], "paging": {"cursors": {"before", "after"},
"next"}}`, `fields` choosing what each entry carries (its `id` always), `limit` and the `after`
cursor paging, `next` only when a page follows; the account's `phone_numbers` edge is paged the
same way (`edge_page`). A send is refused with the codes Meta gives
(…/whatsapp/support/error-codes): 132001 for a template that does not exist in that language (or
is not approved), 132015 paused, 132016 disabled, 132000 when the number of body or header
parameters differs from the template's placeholders, 132012 when the header is missing or of
another format than the template's, 131008 for an empty text parameter.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from bridge.dev.standins.state import StandInState
from bridge.model.outgoing import placeholders

DEFAULT_LIMIT = 25  # Graph's default page
MEDIA_FORMATS = frozenset({"IMAGE", "VIDEO", "DOCUMENT"})
NOT_IN_TRANSLATION = "(#132001) Template name does not exist in the translation"
COUNT_MISMATCH = "(#132000) Number of parameters does not match the expected number of params"
FORMAT_MISMATCH = "(#132012) Parameter format does not match format in the created template"


class GraphRefusal(Exception):
    """A request Graph refuses: its code, message and details (HTTP 400)."""

    def __init__(self, code: int, message: str, details: str = "") -> None:
        super().__init__(message)
        self.code, self.message, self.details = code, message, details


def template_page(
    state: StandInState, *, version: str, waba: str, query: Mapping[str, str], base_url: str
) -> dict[str, Any]:
    """One page of the account's templates, as Graph answers it."""
    return edge_page(
        state,
        state.whatsapp_templates,
        version=version,
        waba=waba,
        edge="message_templates",
        query=query,
        base_url=base_url,
    )


def edge_page(
    state: StandInState,
    items: list[dict[str, Any]],
    *,
    version: str,
    waba: str,
    edge: str,
    query: Mapping[str, str],
    base_url: str,
) -> dict[str, Any]:
    """One page of an edge of the WhatsApp Business Account (its `message_templates`, its
    `phone_numbers`), paged as Graph pages every edge; `GraphRefusal` for another account."""
    if state.whatsapp_business_account_id and waba != state.whatsapp_business_account_id:
        raise GraphRefusal(
            100,
            f"Unsupported get request. Object with ID '{waba}' does not exist, cannot be loaded due to "
            "missing permissions, or does not support this operation",
        )
    after = query.get("after")
    try:
        limit = int(query.get("limit") or DEFAULT_LIMIT)
        start = int(base64.b64decode(after, validate=True)) if after else 0
    except (ValueError, binascii.Error) as exc:
        raise GraphRefusal(100, "(#100) Invalid parameter", "limit or after is invalid") from exc
    if start < 0 or limit < 1:
        raise GraphRefusal(100, "(#100) Invalid parameter", "limit or after is invalid")
    size = min(limit, max(1, state.page_size))
    fields = [name for name in (query.get("fields") or "").split(",") if name]
    chosen = items[start : start + size]
    data = [{k: v for k, v in item.items() if not fields or k in fields or k == "id"} for item in chosen]
    end = start + len(chosen)
    paging: dict[str, Any] = {"cursors": {"before": _cursor(start), "after": _cursor(end)}}
    if end < len(items):
        following = {**query, "limit": str(size), "after": _cursor(end)}
        paging["next"] = f"{base_url.rstrip('/')}/{version}/{waba}/{edge}?{urlencode(following)}"
    return {"data": data, "paging": paging}


def check_send(templates: list[dict[str, Any]], content: Mapping[str, Any]) -> tuple[list[str], str | None]:
    """The body values and the header value (a media link or a text) of a template send, checked
    against the approved template it names; `GraphRefusal` as Meta refuses it."""
    name, language = content.get("name"), (content.get("language") or {}).get("code")
    found = next((t for t in templates if t["name"] == name and t["language"] == language), None)
    if found is None:
        raise GraphRefusal(132001, NOT_IN_TRANSLATION, f"template name ({name}) does not exist in {language}")
    status = found["status"]
    if status == "PAUSED":
        raise GraphRefusal(
            132015,
            "(#132015) Template is Paused",
            "Template is paused due to low quality so it cannot be sent in a template message.",
        )
    if status == "DISABLED":
        raise GraphRefusal(
            132016,
            "(#132016) Template is disabled",
            "Template has been paused too many times due to low quality and is now permanently disabled.",
        )
    if status != "APPROVED":
        raise GraphRefusal(132001, NOT_IN_TRANSLATION, f"template name ({name}) is not approved ({status})")
    given = _parameters(content)
    template_parts = {str(part["type"]).upper(): part for part in found["components"]}
    body = template_parts.get("BODY", {}).get("text", "")
    variables = [_text(parameter, "body") for parameter in given.get("body", [])]
    _count("body", len(variables), len(placeholders(body)))
    if found.get("parameter_format") == "NAMED":
        _check_names(given.get("body", []), placeholders(body))
    header = _header(template_parts.get("HEADER"), given.get("header", []))
    return variables, header


def _parameters(content: Mapping[str, Any]) -> dict[str, list[Any]]:
    components = content.get("components") or []
    if not isinstance(components, list) or not all(isinstance(part, dict) for part in components):
        raise GraphRefusal(100, "(#100) Invalid parameter", "components must be a list of objects")
    found: dict[str, list[Any]] = {}
    for part in components:
        parameters = part.get("parameters") or []
        if not isinstance(parameters, list):
            raise GraphRefusal(100, "(#100) Invalid parameter", "parameters must be a list")
        found[str(part.get("type", "")).lower()] = parameters
    return found


def _header(template_header: Mapping[str, Any] | None, given: list[Any]) -> str | None:
    """The header value sent, checked against the template's header format."""
    expected = str(template_header.get("format", "")).upper() if template_header else ""
    text = str(template_header.get("text", "")) if template_header else ""
    if not (expected in MEDIA_FORMATS or (expected == "TEXT" and placeholders(text))):
        _count("header", len(given), 0)
        return None
    if not given:
        raise GraphRefusal(
            132012, FORMAT_MISMATCH, f"header: Format mismatch, expected {expected}, received UNKNOWN"
        )
    _count("header", len(given), 1)
    parameter = given[0] if isinstance(given[0], dict) else {}
    kind = str(parameter.get("type", "")).upper()
    if kind != expected:
        raise GraphRefusal(
            132012,
            FORMAT_MISMATCH,
            f"header: Format mismatch, expected {expected}, received {kind or 'UNKNOWN'}",
        )
    if kind == "TEXT":
        return _text(parameter, "header")
    media = parameter.get(kind.lower())
    link = media.get("link") if isinstance(media, dict) else None
    if not isinstance(link, str) or not link.startswith(("http://", "https://")):
        raise GraphRefusal(100, "(#100) Invalid parameter", f"header: {kind.lower()}.link must be a URL")
    return link


def _text(parameter: object, where: str) -> str:
    text = parameter.get("text") if isinstance(parameter, dict) and parameter.get("type") == "text" else None
    if not isinstance(text, str) or not text.strip():
        raise GraphRefusal(
            131008, "(#131008) Required parameter is missing", f"{where}: a text parameter is empty"
        )
    return text


def _check_names(parameters: list[Any], names: list[str]) -> None:
    """A named template's values each name their placeholder (`parameter_name`), as Graph requires."""
    given = [
        parameter.get("parameter_name") if isinstance(parameter, dict) else None for parameter in parameters
    ]
    if sorted(str(name) for name in given) != sorted(names):
        raise GraphRefusal(
            100, "(#100) Invalid parameter", f"body: parameter_name must name each of {', '.join(names)}"
        )


def _count(where: str, given: int, expected: int) -> None:
    if given != expected:
        raise GraphRefusal(
            132000,
            COUNT_MISMATCH,
            f"{where}: number of localizable_params ({given}) does not match the expected number of params "
            f"({expected})",
        )


def _cursor(index: int) -> str:
    return base64.b64encode(str(index).encode()).decode()
