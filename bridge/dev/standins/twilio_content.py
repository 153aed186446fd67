"""Twilio's Content API stand-in: the account's Content Templates with their WhatsApp approval,
and a Content Template send checked as the Messages API checks it.

The list is `GET /v1/ContentAndApprovals` on the Content API's host (`TWILIO_CONTENT_API_URL`;
the stand-in serves it beside the Messages API), HTTP Basic `AccountSid:AuthToken`, `PageSize`
and `PageToken` paging, answered as `{"contents": [...], "meta": {"key": "contents",
"next_page_url", …}}` (twilio-python's `ContentAndApprovalsList` and its test data). A send with
`ContentSid` is refused as Twilio refuses it (twilio.com/docs/api/errors): 21655 for a sid the
account does not have, 21654 for `ContentVariables` without a `ContentSid`, 21656 for variables
that are not a JSON object of non-empty strings. A variable left out takes the content's default,
as Twilio sends it, so what the stand-in records is what the customer would read.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from bridge.dev.standins.state import StandInState
from bridge.model.outgoing import placeholders

PATH = "/v1/ContentAndApprovals"
DEFAULT_PAGE_SIZE = 50  # Twilio's default `PageSize`
_PLACEHOLDER = re.compile(r"\{\{\s*(\d+)\s*\}\}")


def paging(query: Mapping[str, str]) -> tuple[int, int] | None:
    """`PageSize` and the offset `PageToken` names, or None when either is invalid."""
    try:
        size = int(query.get("PageSize") or DEFAULT_PAGE_SIZE)
        token = query.get("PageToken")
        start = int(base64.b64decode(token, validate=True)) if token else 0
    except (ValueError, binascii.Error):
        return None
    return (size, start) if size >= 1 and start >= 0 else None


def contents_page(state: StandInState, *, size: int, start: int, base_url: str) -> dict[str, Any]:
    """One page of contents, at most `state.page_size` of them, whatever `size` asked."""
    size = min(size, max(1, state.page_size))
    chosen = state.twilio_contents[start : start + size]
    contents = [item | {"account_sid": state.twilio_account_sid} for item in chosen]
    url = base_url.rstrip("/") + PATH

    def page_url(page: int, offset: int) -> str:
        token = base64.b64encode(str(offset).encode()).decode()
        return f"{url}?{urlencode({'PageSize': size, 'Page': page, 'PageToken': token})}"

    page = start // size
    following = start + len(chosen)
    return {
        "contents": contents,
        "meta": {
            "page": page,
            "page_size": size,
            "first_page_url": f"{url}?{urlencode({'PageSize': size, 'Page': 0})}",
            "previous_page_url": page_url(page - 1, max(0, start - size)) if start else None,
            "url": page_url(page, start),
            "next_page_url": page_url(page + 1, following)
            if following < len(state.twilio_contents)
            else None,
            "key": "contents",
        },
    }


def content_problem(state: StandInState, sid: str, variables: str) -> tuple[int, str] | None:
    """Twilio's code and message for a `ContentSid`/`ContentVariables` pair it refuses, or None."""
    if variables and not sid:
        return 21654, "A ContentSid must be specified if ContentVariables are provided in the request."
    if not sid:
        return None
    if _content(state, sid) is None:
        return 21655, "The ContentSid is Invalid"
    if variables:
        try:
            values = json.loads(variables)
        except ValueError:
            values = None
        if not isinstance(values, dict) or not all(
            isinstance(value, str) and value.strip() for value in values.values()
        ):
            return 21656, "The ContentVariables Parameter is invalid"
    return None


def sent_values(state: StandInState, sid: str, variables: str) -> tuple[list[str], str | None]:
    """The variables the customer gets, in order (a missing one takes the content's default), and
    the media URL they fill in, for a send `content_problem` accepted."""
    content = _content(state, sid) or {}
    given: dict[str, str] = json.loads(variables) if variables else {}
    defaults: dict[str, Any] = content.get("variables") or {}
    kinds: dict[str, Any] = content.get("types") or {}
    body: dict[str, Any] = next(iter(kinds.values()), {})
    values = {name: given.get(name) or str(defaults.get(name, "")) for name in placeholders(json.dumps(body))}
    media = body.get("media")
    header = None
    if isinstance(media, list) and media and isinstance(media[0], str):
        header = _PLACEHOLDER.sub(lambda match: values.get(match.group(1), match.group(0)), media[0])
    return list(values.values()), header


def _content(state: StandInState, sid: str) -> dict[str, Any] | None:
    return next((item for item in state.twilio_contents if item["sid"] == sid), None)
