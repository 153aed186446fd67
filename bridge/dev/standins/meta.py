"""Meta's Graph API for WhatsApp: media lookups and downloads, sends, templates, and `/me`.

Its paths start with a version (`/v23.0/…`) and end in ids, so its catch-all routes are mounted
last: other providers' paths must be matched first.

The send endpoint checks what the real one documents and the bridge could get wrong: the Bearer
token, `messaging_product`, a recipient in `to` (digits) or `recipient` (a BSUID), one media
object per message with a `link`, a caption only where Meta takes one (not on audio) and within
1024 characters, text within 4096. Errors come in Graph's envelope (`error.code` is Meta's code).
`/me` (what `bridge doctor` proves the token with) answers the token's system user, `{"id", "name"}`.
A template send is checked against the account's templates, and the account's template list and
phone numbers are served page by page (`meta_templates`, `numbers`). A read receipt comes to the
send endpoint (`{"messaging_product": "whatsapp", "status": "read", "message_id": <wamid>}`): a
message id that is no wamid is refused with 131009 as Meta refuses one it does not know, and the
answer is `{"success": true}`; its faults are queued apart (`/_standin/faults/whatsapp:read`).
"""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from bridge.dev.standins.meta_templates import GraphRefusal, check_send, edge_page, template_page
from bridge.dev.standins.state import READ_FAULTS, Read, Sent, StandInState, bearer_ok
from bridge.dev.standins.twilio import serve_media

PROVIDER = "whatsapp"
MAX_TEXT = 4096
MAX_CAPTION = 1024
MEDIA_TYPES = frozenset({"image", "video", "audio", "document"})
CAPTIONED_TYPES = frozenset({"image", "video", "document"})
_PHONE = re.compile(r"^\+?\d{5,15}$")
_BSUID = re.compile(r"^[A-Z]{2}\.(ENT\.)?[A-Za-z0-9]+$")

# An injected fault's status -> the Graph error Meta answers with it (code, message, details).
FAULTS: dict[int, tuple[int, str, str]] = {
    400: (
        131047,
        "(#131047) Re-engagement message",
        "Message failed to send because more than 24 hours have passed since the customer last replied "
        "to this number.",
    ),
    401: (190, "Invalid OAuth access token - Cannot parse access token", ""),
    403: (368, "(#368) Temporarily blocked for policies violations", ""),
    429: (130429, "(#130429) Rate limit hit", "Cloud API message throughput has been reached."),
    500: (131000, "(#131000) Something went wrong", "Message failed to send due to an unknown error."),
    503: (2, "(#2) Service temporarily unavailable", ""),
}


class InvalidParameter(Exception):
    """A request the real API refuses with code 100 ("Invalid parameter")."""


def error(status: int, message: str, code: int | None = None, details: str = "") -> JSONResponse:
    body: dict[str, Any] = {
        "message": message,
        "type": "OAuthException",
        "code": code if code is not None else (190 if status == 401 else 100),
        "fbtrace_id": "standin",
    }
    if details:
        body["error_data"] = {"messaging_product": "whatsapp", "details": details}
    return JSONResponse({"error": body}, status_code=status)


def fault(status: int) -> JSONResponse:
    code, message, details = FAULTS.get(status, (131000 if status >= 500 else 100, f"HTTP {status}", ""))
    return error(status, message, code, details)


def router(state: StandInState) -> APIRouter:
    api = APIRouter()

    @api.get("/lookaside/{media_id}")
    async def media_bytes(media_id: str, request: Request) -> Response:
        if not bearer_ok(request, state.whatsapp_access_token):
            return error(401, "Invalid OAuth access token")
        return serve_media(state, media_id)

    @api.post("/{version}/{phone_number_id}/messages")
    async def send_message(version: str, phone_number_id: str, request: Request) -> Response:
        if not bearer_ok(request, state.whatsapp_access_token):
            return error(401, "Invalid OAuth access token - Cannot parse access token", 190)
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        if isinstance(body, dict) and "status" in body:
            return mark_read(state, body, phone_number_id)
        status = state.take_fault(PROVIDER)
        if status is not None:
            return fault(status)
        try:
            sent = read_send(body, sender=phone_number_id)
            if sent.template is not None:
                sent.variables, sent.header = check_send(state.whatsapp_templates, body["template"])
        except (ValueError, InvalidParameter) as exc:
            return error(400, "(#100) Invalid parameter", 100, str(exc))
        except GraphRefusal as refusal:
            return error(400, refusal.message, refusal.code, refusal.details)
        sent.message_id = f"wamid.standin{state.next_id():012d}"
        state.record(sent)
        # Meta answers `wa_id` for a phone recipient and `user_id` for a BSUID one.
        contact = {"input": sent.to, "wa_id" if body.get("to") else "user_id": sent.to.lstrip("+")}
        return JSONResponse(
            {"messaging_product": "whatsapp", "contacts": [contact], "messages": [{"id": sent.message_id}]}
        )

    @api.get("/{version}/{waba}/message_templates")
    async def message_templates(version: str, waba: str, request: Request) -> Response:
        """The WhatsApp Business Account's templates, a page at a time."""
        if not bearer_ok(request, state.whatsapp_access_token):
            return error(401, "Invalid OAuth access token - Cannot parse access token", 190)
        query = dict(request.query_params)
        base = str(request.base_url)
        try:
            return JSONResponse(template_page(state, version=version, waba=waba, query=query, base_url=base))
        except GraphRefusal as refusal:
            return error(400, refusal.message, refusal.code, refusal.details)

    @api.get("/{version}/{waba}/phone_numbers")
    async def phone_numbers(version: str, waba: str, request: Request) -> Response:
        """The WhatsApp Business Account's phone numbers, a page at a time."""
        if not bearer_ok(request, state.whatsapp_access_token):
            return error(401, "Invalid OAuth access token - Cannot parse access token", 190)
        query, base = dict(request.query_params), str(request.base_url)
        try:
            page = edge_page(
                state,
                state.whatsapp_phone_numbers,
                version=version,
                waba=waba,
                edge="phone_numbers",
                query=query,
                base_url=base,
            )
        except GraphRefusal as refusal:
            return error(400, refusal.message, refusal.code, refusal.details)
        return JSONResponse(page)

    # Before the media lookup below: `/{version}/{media_id}` would take `me` for a media id.
    @api.get("/{version}/me")
    async def me(version: str, request: Request) -> Response:
        """The node the token belongs to: a system user, as Cloud API tokens are."""
        if not bearer_ok(request, state.whatsapp_access_token):
            return error(401, "Invalid OAuth access token - Cannot parse access token", 190)
        return JSONResponse({"name": "Stand-in System User", "id": "122100000000000001"})

    @api.get("/{version}/{media_id}")
    async def media_lookup(version: str, media_id: str, request: Request) -> Response:
        if not bearer_ok(request, state.whatsapp_access_token):
            return error(401, "Invalid OAuth access token")
        stored = state.media.get(media_id)
        if stored is None:
            return error(404, f"Unsupported get request. Object with ID '{media_id}' does not exist")
        base = str(request.base_url).rstrip("/")
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "url": f"{base}/lookaside/{media_id}",
                "mime_type": stored.content_type,
                "sha256": "",
                "file_size": len(stored.content),
                "id": media_id,
            }
        )

    return api


def mark_read(state: StandInState, body: dict[str, Any], phone_number_id: str) -> Response:
    """A read receipt (developers.facebook.com/…/whatsapp/messages/mark-message-as-read)."""
    status = state.take_fault(PROVIDER + READ_FAULTS)
    if status is not None:
        return fault(status)
    message_id = body.get("message_id")
    if body.get("messaging_product") != "whatsapp" or body.get("status") != "read":
        return error(400, "(#100) Invalid parameter", 100, "messaging_product whatsapp and status read")
    if not isinstance(message_id, str) or not message_id.startswith("wamid."):
        return error(400, "(#131009) Parameter value is not valid", 131009, "message_id is not a valid wamid")
    state.record_read(
        Read(provider=PROVIDER, message_id=message_id, business_number=phone_number_id, request=body)
    )
    return JSONResponse({"success": True})


def read_send(body: Any, *, sender: str) -> Sent:
    """A Cloud API message object as `Sent` (message id filled in by the caller)."""
    if not isinstance(body, dict):
        raise InvalidParameter("the body must be a JSON object")
    if body.get("messaging_product") != "whatsapp":
        raise InvalidParameter("messaging_product must be whatsapp")
    to, recipient = body.get("to"), body.get("recipient")
    if isinstance(to, str) and _PHONE.match(to):
        address = to
    elif to is None and isinstance(recipient, str) and _BSUID.match(recipient):
        address = recipient
    else:
        raise InvalidParameter("to must be a phone number, or recipient a business-scoped user id")
    kind = body.get("type")
    content = body.get(kind) if isinstance(kind, str) else None
    if not isinstance(content, dict):
        raise InvalidParameter(f"type {kind!r} needs a {kind!r} object")
    sent = Sent(provider=PROVIDER, message_id="", to=address, sender=sender, request=body)
    if kind == "text":
        sent.text = _text(content, "body", MAX_TEXT, required=True)
    elif kind == "template":
        name, language = content.get("name"), content.get("language")
        if (
            not isinstance(name, str)
            or not name
            or not isinstance(language, dict)
            or not language.get("code")
        ):
            raise InvalidParameter("template needs a name and language.code")
        sent.template = name
    elif kind in MEDIA_TYPES:
        link = content.get("link")
        if not isinstance(link, str) or not link.startswith(("http://", "https://")):
            raise InvalidParameter(f"{kind}.link must be a URL")
        if "caption" in content and kind not in CAPTIONED_TYPES:
            raise InvalidParameter(f"{kind} takes no caption")
        sent.media = [link]
        sent.text = _text(content, "caption", MAX_CAPTION, required=False)
    else:
        raise InvalidParameter(f"type {kind!r} is not supported by this stand-in")
    return sent


def _text(content: dict[str, Any], field: str, limit: int, *, required: bool) -> str:
    value = content.get(field, None if required else "")
    if not isinstance(value, str) or (required and not value):
        raise InvalidParameter(f"{field} must be text")
    if len(value) > limit:
        raise InvalidParameter(f"{field} must be at most {limit} characters")
    return value
