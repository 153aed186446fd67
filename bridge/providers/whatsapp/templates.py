"""The WhatsApp Business Account's message templates, as Meta's Graph API lists them.

`GET {WHATSAPP_API_URL}/{WHATSAPP_BUSINESS_ACCOUNT_ID}/message_templates?fields=…` with the access
token as Bearer (developers.facebook.com/docs/graph-api/reference/whats-app-business-account/
message_templates): `{"data": [{"name", "language", "status", "category", "components": [...]}],
"paging": {"cursors": {"before", "after"}, "next"}}`, 25 templates a page, `next` absent on the last
one (ws-cloud-api's `Templates` and `Paging` types). A component is
`{"type": "HEADER", "format": "IMAGE" | "VIDEO" | "DOCUMENT" | "TEXT" | "LOCATION", "text"?}`,
`{"type": "BODY", "text": "Hi {{1}}, …"}`, FOOTER or BUTTONS (…/whatsapp/templates/components).

What the bridge reads of each: the body with its placeholders (`variables` counts them, as the
send fills them in order), and the header a send must be given (`TemplateInfo.header`): a media
kind, which every send of such a template needs (Meta refuses one without: 132012), or TEXT when
the text header has a placeholder. A static text header needs nothing, so it lists as none.
Statuses map to `TemplateStatus`; a status Meta adds later reads as unknown, and so is never sent.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from bridge.core.errors import ConfigurationError
from bridge.core.settings import Settings, env_name
from bridge.model.outgoing import HeaderKind, placeholders
from bridge.providers.base import TemplateInfo, TemplateStatus, refused
from bridge.providers.listing import nested, pages
from bridge.providers.whatsapp.send import PROVIDER, read_error

PATH = "/{waba}/message_templates"
FIELDS = "name,language,status,category,components"

# Meta's template statuses (the `status` values of the message_templates reference) -> the
# bridge's. In appeal is still pending; being deleted, deleted, archived or over the account's
# limit can never be sent again without someone acting: disabled.
STATUS_MAP: Mapping[str, TemplateStatus] = {
    "APPROVED": TemplateStatus.APPROVED,
    "PENDING": TemplateStatus.PENDING,
    "IN_APPEAL": TemplateStatus.PENDING,
    "REJECTED": TemplateStatus.REJECTED,
    "PAUSED": TemplateStatus.PAUSED,
    "DISABLED": TemplateStatus.DISABLED,
    "PENDING_DELETION": TemplateStatus.DISABLED,
    "DELETED": TemplateStatus.DISABLED,
    "ARCHIVED": TemplateStatus.DISABLED,
    "LIMIT_EXCEEDED": TemplateStatus.DISABLED,
}

# A HEADER component's `format` -> the header a send gives it (LOCATION: none the bridge sends).
HEADER_KINDS: Mapping[str, HeaderKind] = {
    "IMAGE": HeaderKind.IMAGE,
    "VIDEO": HeaderKind.VIDEO,
    "DOCUMENT": HeaderKind.DOCUMENT,
    "TEXT": HeaderKind.TEXT,
}


def business_account(settings: Settings) -> tuple[str, str]:
    """The WhatsApp Business Account's id, quoted for a path, and the access token: what every
    read of the account's edges needs (its templates, its phone numbers). Raises
    `ConfigurationError` naming the variable that is missing."""
    settings.require("whatsapp_business_account_id")
    token = settings.secret("whatsapp_access_token")
    if not token.strip():
        raise ConfigurationError(f"{env_name('whatsapp_access_token')} is empty")
    return quote(str(settings.whatsapp_business_account_id).strip(), safe=""), token


def list_templates(settings: Settings, http: httpx.Client) -> list[TemplateInfo]:
    """Every template of `WHATSAPP_BUSINESS_ACCOUNT_ID`, all pages, whatever its status."""
    items = edge_items(settings, http, path=PATH, fields=FIELDS, what="template list")
    return [info for item in items if (info := template_info(item))]


def edge_items(
    settings: Settings, http: httpx.Client, *, path: str, fields: str, what: str
) -> Iterator[Mapping[str, Any]]:
    """Every `data[]` object of one of the business account's Graph edges (`/{waba}/…`, `path`
    with `{waba}`), all pages (`paging.next`, bounded by `bridge.providers.listing.pages`)."""
    waba, token = business_account(settings)
    url = f"{settings.whatsapp_api_url.rstrip('/')}{path.format(waba=waba)}?{urlencode({'fields': fields})}"
    for page in pages(
        http,
        url,
        provider=PROVIDER,
        next_page=lambda page: nested(page, "paging", "next"),
        error=read_error,
        what=what,
        headers={"Authorization": f"Bearer {token}"},
    ):
        items = page.get("data")
        if not isinstance(items, list):
            raise refused(PROVIDER, f"Meta's {what} has no data[]")
        yield from (item for item in items if isinstance(item, dict))


def template_info(item: Mapping[str, Any]) -> TemplateInfo | None:
    """One `data[]` entry; None for one without a name or language (nothing could send it)."""
    name, language = item.get("name"), item.get("language")
    if not isinstance(name, str) or not name or not isinstance(language, str) or not language:
        return None
    components = [part for part in item.get("components") or () if isinstance(part, dict)]
    body = _text(_component(components, "BODY"))
    category = item.get("category")
    return TemplateInfo(
        provider=PROVIDER,
        name=name,
        language=language,
        status=STATUS_MAP.get(str(item.get("status") or "").upper(), TemplateStatus.UNKNOWN),
        category=category.lower() if isinstance(category, str) else "",
        body=body,
        variables=len(placeholders(body)),
        header=_header(_component(components, "HEADER")),
        label=name,
    )


def _component(components: list[dict[str, Any]], kind: str) -> dict[str, Any] | None:
    return next((part for part in components if str(part.get("type", "")).upper() == kind), None)


def _text(component: Mapping[str, Any] | None) -> str:
    text = component.get("text") if component else None
    return text if isinstance(text, str) else ""


def _header(component: Mapping[str, Any] | None) -> HeaderKind | None:
    """The header a send must give: a media kind, or TEXT only when the text has a placeholder."""
    if component is None:
        return None
    kind = HEADER_KINDS.get(str(component.get("format") or "").upper())
    if kind is HeaderKind.TEXT and not placeholders(_text(component)):
        return None
    return kind
