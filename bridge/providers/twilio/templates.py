"""Twilio's Content Templates with their WhatsApp approval, as the Content API lists them.

`GET {TWILIO_CONTENT_API_URL}/v1/ContentAndApprovals?PageSize=100`, HTTP Basic `AccountSid:AuthToken`
(twilio-python `ContentAndApprovalsList`, its `_uri` and `page(page_size=…)`; twilio-oai
`twilio_content_v1.json`, `ListContentAndApprovals`). The answer is
`{"contents": [...], "meta": {"key": "contents", "next_page_url", …}}` (the SDK's `Page.load_page`
reads the list named by `meta.key`, `next_page_url` the next page); each content has `sid` (`HX…`,
what a send names: `Template.name`), `friendly_name`, `language`, `variables` (the defaults Twilio
fills in for a variable a send leaves out), `types` (`{"twilio/media": {"body", "media": [...]}}`,
`twilio/text`, `twilio/card`, `whatsapp/card`…) and `approval_requests`: in twilio-python's own
test data a flat `{"name", "category", "content_type", "status", "rejection_reason"}`, in Twilio's
August 2024 changelog nested under `whatsapp`; both are read. Statuses are `received`, `pending`,
`approved`, `rejected`, `paused`, `disabled`, or `unsubmitted` (never sent to WhatsApp: not a
template WhatsApp knows, listed as unknown).

What a content's send needs differs from Meta's templates: every `{{n}}` anywhere in it (body,
card title, a button's URL, the path after a media URL's fixed host, "https://…/{{3}}") is one of
its numbered variables, sent together as `ContentVariables`. So `variables` counts them all, and
no header is listed: the media is fixed in the template, and its variable part is a variable like
any other (`send`: a `Template.header` is refused on Twilio).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from bridge.core.settings import Settings
from bridge.model.outgoing import placeholders
from bridge.providers.base import TemplateInfo, TemplateStatus, refused
from bridge.providers.listing import nested, pages
from bridge.providers.twilio.check import read_error

PROVIDER = "twilio"
PATH = "/v1/ContentAndApprovals"
# Twilio's default is 50 a page, its maximum 1000 (the OpenAPI's `PageSize`).
PAGE_SIZE = 100

# The WhatsApp approval `status` -> the bridge's; `received` is submitted, not yet reviewed.
STATUS_MAP: Mapping[str, TemplateStatus] = {
    "approved": TemplateStatus.APPROVED,
    "received": TemplateStatus.PENDING,
    "pending": TemplateStatus.PENDING,
    "rejected": TemplateStatus.REJECTED,
    "paused": TemplateStatus.PAUSED,
    "disabled": TemplateStatus.DISABLED,
}


def list_templates(settings: Settings, http: httpx.Client) -> list[TemplateInfo]:
    """Every Content Template of `TWILIO_ACCOUNT_SID`, all pages, whatever its approval."""
    settings.require("twilio_account_sid")
    sid = str(settings.twilio_account_sid)
    token = settings.secret("twilio_auth_token")
    url = f"{settings.twilio_content_api_url.rstrip('/')}{PATH}?PageSize={PAGE_SIZE}"
    found: list[TemplateInfo] = []
    for page in pages(
        http,
        url,
        provider=PROVIDER,
        next_page=lambda page: nested(page, "meta", "next_page_url"),
        error=read_error,
        auth=(sid, token),
    ):
        key = nested(page, "meta", "key")
        items = page.get(key if isinstance(key, str) and key else "contents")
        if not isinstance(items, list):
            raise refused(PROVIDER, "the Content API's answer lists no contents")
        found += [info for item in items if isinstance(item, dict) and (info := content_info(item))]
    return found


def content_info(item: Mapping[str, Any]) -> TemplateInfo | None:
    """One content; None for one without a sid or any content type (nothing could send it)."""
    sid, types = item.get("sid"), item.get("types")
    if not isinstance(sid, str) or not sid or not isinstance(types, dict) or not types:
        return None
    approval = _approval(item.get("approval_requests"))
    kind = approval.get("content_type")
    content = types.get(kind) if isinstance(kind, str) and kind in types else next(iter(types.values()))
    content = content if isinstance(content, dict) else {}
    body = content.get("body") or content.get("title") or ""
    category, language, label = approval.get("category"), item.get("language"), item.get("friendly_name")
    return TemplateInfo(
        provider=PROVIDER,
        name=sid,
        language=language if isinstance(language, str) else "",
        status=STATUS_MAP.get(str(approval.get("status") or "").lower(), TemplateStatus.UNKNOWN),
        category=category.lower() if isinstance(category, str) else "",
        body=body if isinstance(body, str) else "",
        # Every placeholder of the content, wherever it sits: each is one of ContentVariables.
        variables=len(placeholders(json.dumps(content, ensure_ascii=False))),
        label=label if isinstance(label, str) else "",
    )


def _approval(value: object) -> dict[str, Any]:
    """The WhatsApp approval of a content: `approval_requests` itself, or its `whatsapp`."""
    if not isinstance(value, dict):
        return {}
    nested_whatsapp = value.get("whatsapp")
    return nested_whatsapp if isinstance(nested_whatsapp, dict) else value
