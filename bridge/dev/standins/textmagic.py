"""TextMagic's REST API v2, as much of it as the bridge uses: message sends, the current user
`bridge doctor` proves the credentials with (`GET /api/v2/user`, textmagic-rest-python-v2
`docs/User.md`), and the account's dedicated numbers (`GET /api/v2/numbers`, paged by `page` and
`limit`: `numbers`).

`POST /api/v2/messages` with `X-TM-Username` / `X-TM-Key` (textmagic.com/docs/api/send-sms) or HTTP
Basic `username:apiKey` (the v2 SDKs' `BasicAuth`, textmagic-rest-python-v2 `configuration.py`),
JSON or form-encoded like the real API; 201 with `SendMessageResponse` (textmagic-rest-python-v2
`docs/SendMessageResponse.md`). Errors are `{"code": <HTTP status>, "message", "errors"}`
(textmagic.com/docs/api/response-codes).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from bridge.dev.standins import numbers
from bridge.dev.standins.state import Sent, StandInState, basic_ok

PROVIDER = "textmagic"
MAX_PARTS = 6  # "TextMagic allows sending 1 to 6 message parts" (SendMessageInputObject)

# An injected fault's message, by HTTP status (textmagic.com/docs/api/response-codes).
FAULTS: dict[int, str] = {
    400: "Validation Failed",
    401: "Unauthorized",
    404: "Resource does not exist",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


def router(state: StandInState) -> APIRouter:
    api = APIRouter()

    def authorized(request: Request) -> bool:
        """TextMagic's header pair or HTTP Basic, as every v2 endpoint checks them."""
        username, key = request.headers.get("x-tm-username"), request.headers.get("x-tm-key")
        by_headers = bool(state.textmagic_username) and (username, key) == (
            state.textmagic_username,
            state.textmagic_api_key,
        )
        by_basic = basic_ok(request, state.textmagic_username, state.textmagic_api_key)
        return not state.require_auth or by_headers or by_basic

    @api.get("/api/v2/user")
    async def current_user(request: Request) -> Response:
        """The current user: authenticate like a send, answer the `User` object."""
        if not authorized(request):
            return error(401, FAULTS[401])
        return JSONResponse(user(state.textmagic_username))

    @api.get("/api/v2/numbers")
    async def dedicated_numbers(request: Request) -> Response:
        """The account's dedicated numbers: authenticate like a send, answer one page."""
        if not authorized(request):
            return error(401, FAULTS[401])
        page = numbers.positive(request.query_params, "page", 1)
        limit = numbers.positive(request.query_params, "limit", 10)
        if page is None or limit is None:
            wrong = "page" if page is None else "limit"
            return error(400, FAULTS[400], fields={wrong: ["This value should be a positive number."]})
        return JSONResponse(
            numbers.textmagic_page(
                state.textmagic_numbers, page=page, limit=min(limit, max(1, state.page_size))
            )
        )

    @api.post("/api/v2/messages")
    async def send_message(request: Request) -> Response:
        """TextMagic's message send: check like TextMagic, record, answer the new message."""
        if not authorized(request):
            return error(401, FAULTS[401])
        fault = state.take_fault(PROVIDER)
        if fault is not None:
            return error(fault, FAULTS.get(fault, "Fault injected by the stand-in"))
        fields = await _fields(request)
        problems = invalid(fields)
        if problems:
            return error(400, FAULTS[400], fields=problems)
        return sent(state, fields)

    return api


def error(status: int, message: str, *, fields: dict[str, list[str]] | None = None) -> JSONResponse:
    errors = {"common": [], "fields": fields} if fields else None
    return JSONResponse({"code": status, "message": message, "errors": errors}, status_code=status)


def user(username: str) -> dict[str, Any]:
    """The `User` object (docs/User.md), for an active account paying in pounds."""
    return {
        "id": 1001,
        "displayTimeFormat": "24h",
        "username": username,
        "firstName": "Stand",
        "lastName": "In",
        "email": "standin@example.com",
        "status": "A",
        "balance": 12.5,
        "phone": "447700900000",
        "company": "Stand-in Ltd",
        "currency": {"id": "GBP", "htmlSymbol": "&pound;"},
        "country": {"id": "GB", "name": "United Kingdom"},
        "timezone": {"id": 1, "area": "Europe", "dst": 0, "offset": 0, "timezone": "Europe/London"},
        "subaccountType": "P",
        "emailAccepted": True,
        "phoneAccepted": True,
        "avatar": None,
    }


def invalid(fields: dict[str, Any]) -> dict[str, list[str]]:
    """TextMagic's field errors for a request it refuses, empty when it accepts it."""
    problems: dict[str, list[str]] = {}
    text = str(fields.get("text") or "")
    if not text and not fields.get("templateId"):
        problems["text"] = ["This value should not be blank."]
    phones = str(fields.get("phones") or "")
    if not (phones or fields.get("contacts") or fields.get("lists")):
        problems["phones"] = ["This value should not be blank."]
    elif phones and not all(phone.isdigit() for phone in phones.split(",")):
        problems["phones"] = ["Phone numbers must be in international E.164 format without the leading +."]
    # ASCII counted as GSM-7 (153 characters a part), anything else as UCS-2 (67): near enough here.
    per_part = 153 if text.isascii() else 67
    if len(text) > MAX_PARTS * per_part:
        problems["text"] = [f"Too many message parts (at most {MAX_PARTS})."]
    return problems


def sent(state: StandInState, fields: dict[str, Any]) -> Response:
    number = state.next_id()
    message_id, session_id = 1_000_000 + number, 500_000 + number
    state.record(
        Sent(
            provider=PROVIDER,
            message_id=str(message_id),
            to=str(fields["phones"]),
            sender=str(fields.get("from") or ""),
            text=str(fields.get("text") or ""),
            request=fields,
        )
    )
    return JSONResponse(
        {
            "id": message_id,
            "href": f"/api/v2/messages/{message_id}",
            "type": "message",
            "sessionId": session_id,
            "bulkId": None,
            "messageId": message_id,
            "scheduleId": None,
            "chatId": None,
        },
        status_code=201,
    )


async def _fields(request: Request) -> dict[str, Any]:
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            body = json.loads(await request.body())
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}
