"""Twilio's REST API, as much of it as the bridge uses: media downloads, message sends, and the
account fetch `bridge doctor` proves the credentials with.

Sends follow Twilio's Messages resource (twilio.com/docs/messaging/api/message-resource):
`POST /2010-04-01/Accounts/{AccountSid}/Messages.json`, form-encoded, HTTP Basic
`AccountSid:AuthToken`; 201 with the Message resource, errors as
`{"code", "message", "more_info", "status"}` (what twilio-python's `TwilioRestException` reads).
The account fetch is `GET /2010-04-01/Accounts/{AccountSid}.json` with the same Basic auth,
answering the Account resource (twilio.com/docs/iam/api/account), auth token included as Twilio's is.
The account's phone numbers and short codes (`…/IncomingPhoneNumbers.json`, `…/SMS/ShortCodes.json`)
are listed a page at a time from the state (`numbers`).
The Content API's template list, and the checks of a Content Template send, are `twilio_content`'s.
The Messaging API's typing indicator (`POST /v2/Indicators/Typing.json`, twilio.com/docs/whatsapp/
api/typing-indicators-resource), which marks the customer's WhatsApp message read, takes the same
Basic auth and a form `messageId` (a Message or Media SID) and `channel=whatsapp`, answers
`{"success": true}`, and is recorded as a read; its faults are queued apart
(`/_standin/faults/twilio:read`).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from bridge.dev.standins import numbers, twilio_content
from bridge.dev.standins.state import READ_FAULTS, Read, Sent, StandInState, basic_ok

API_VERSION = "2010-04-01"
MAX_BODY = 1600  # twilio.com/docs/api/errors/21617
WHATSAPP_PREFIX = "whatsapp:"
TYPING_PATH = "/v2/Indicators/Typing.json"
# A Message or Media SID, as the typing indicator takes it (the SDK's `messaging.v2.typing_indicator`).
MESSAGE_SID = re.compile(r"^(SM|MM)[0-9a-fA-F]{32}$")

# What an injected fault answers: Twilio's code and message for that HTTP status. 400 is the
# opt-out error (twilio.com/docs/api/errors/21610), the one a send most often meets.
FAULTS: dict[int, tuple[int, str]] = {
    400: (21610, "Attempt to send to unsubscribed recipient"),
    401: (20003, "Authenticate"),
    403: (20003, "Authenticate"),
    404: (20404, "The requested resource was not found"),
    429: (20429, "Too Many Requests"),
    500: (20500, "Internal Server Error"),
    503: (20503, "Service Unavailable"),
}


def router(state: StandInState) -> APIRouter:
    api = APIRouter()

    @api.get(f"/{API_VERSION}/Accounts/{{account}}/Messages/{{message}}/Media/{{media_id}}")
    async def media(account: str, message: str, media_id: str, request: Request) -> Response:
        # Twilio's "HTTP Basic Authentication for media access" setting: account SID + auth token.
        if state.require_auth and not basic_ok(request, state.twilio_account_sid, state.twilio_auth_token):
            return error(401, 20003, "Authenticate")
        return serve_media(state, media_id)

    def refusal(request: Request, account: str) -> Response | None:
        """Twilio's answer to a request under /Accounts/{account} with the wrong credentials or
        another account's SID; None when it may go on."""
        if state.require_auth and not basic_ok(request, state.twilio_account_sid, state.twilio_auth_token):
            return error(401, 20003, "Authenticate")
        if account != state.twilio_account_sid:
            return error(404, 20404, f"The requested resource {request.url.path} was not found")
        return None

    @api.get(f"/{API_VERSION}/Accounts/{{account}}.json")
    async def fetch_account(account: str, request: Request) -> Response:
        """Twilio's Account fetch: authenticate like a send, answer the Account resource."""
        refused = refusal(request, account)
        if refused is not None:
            return refused
        return JSONResponse(account_resource(state, account))

    def number_list(request: Request, account: str, key: str, items: list[dict[str, Any]]) -> Response:
        """A v2010 list of the account's numbers: authenticate like a send, answer one page."""
        refused = refusal(request, account)
        if refused is not None:
            return refused
        paging = twilio_content.paging(request.query_params)
        if paging is None:
            return error(400, 20001, "Invalid PageSize or PageToken")
        size, start = paging
        page = numbers.twilio_page(
            items,
            key=key,
            account=account,
            path=request.url.path,
            size=min(size, max(1, state.page_size)),
            start=start,
        )
        return JSONResponse(page)

    @api.get(f"/{API_VERSION}/Accounts/{{account}}/IncomingPhoneNumbers.json")
    async def incoming_phone_numbers(account: str, request: Request) -> Response:
        """The account's phone numbers, with their capabilities."""
        return number_list(request, account, "incoming_phone_numbers", state.twilio_numbers)

    @api.get(f"/{API_VERSION}/Accounts/{{account}}/SMS/ShortCodes.json")
    async def short_codes(account: str, request: Request) -> Response:
        """The account's short codes."""
        return number_list(request, account, "short_codes", state.twilio_short_codes)

    @api.post(f"/{API_VERSION}/Accounts/{{account}}/Messages.json")
    async def create_message(account: str, request: Request) -> Response:
        """Twilio's Message create: validate like Twilio, record the send, answer the resource."""
        refused = refusal(request, account)
        if refused is not None:
            return refused
        fault, chosen = state.take_refusal("twilio")
        if fault is not None:
            code, message = FAULTS.get(fault, (fault, "Fault injected by the stand-in"))
            if chosen is not None and chosen != code:
                code, message = chosen, f"Error {chosen} injected by the stand-in"
            return error(fault, code, message)
        form = await request.form()
        fields: dict[str, list[str]] = {}
        for key, value in form.multi_items():
            if isinstance(value, str):
                fields.setdefault(key, []).append(value)
        problem = invalid(fields) or twilio_content.content_problem(
            state, first(fields, "ContentSid"), first(fields, "ContentVariables")
        )
        if problem is not None:
            return error(400, *problem)
        return created(state, account, fields)

    @api.post(TYPING_PATH)
    async def typing_indicator(request: Request) -> Response:
        """A typing indicator on the customer's WhatsApp message, which marks it read."""
        if state.require_auth and not basic_ok(request, state.twilio_account_sid, state.twilio_auth_token):
            return error(401, 20003, "Authenticate")
        fault = state.take_fault("twilio" + READ_FAULTS)
        if fault is not None:
            code, message = FAULTS.get(fault, (fault, "Fault injected by the stand-in"))
            return error(fault, code, message)
        form = await request.form()
        message_id, channel = str(form.get("messageId") or ""), str(form.get("channel") or "")
        if channel != "whatsapp" or not MESSAGE_SID.match(message_id):
            return error(400, 20001, "messageId must be a Message or Media SID and channel whatsapp")
        fields = {"messageId": message_id, "channel": channel}
        state.record_read(Read(provider="twilio", message_id=message_id, request=fields))
        return JSONResponse({"success": True})

    @api.get(twilio_content.PATH)
    async def contents_and_approvals(request: Request) -> Response:
        """The Content API's list of contents with their WhatsApp approval, a page at a time."""
        if state.require_auth and not basic_ok(request, state.twilio_account_sid, state.twilio_auth_token):
            return error(401, 20003, "Authenticate")
        paging = twilio_content.paging(request.query_params)
        if paging is None:
            return error(400, 20001, "Invalid PageSize or PageToken")
        size, start = paging
        return JSONResponse(
            twilio_content.contents_page(state, size=size, start=start, base_url=str(request.base_url))
        )

    return api


def invalid(fields: dict[str, list[str]]) -> tuple[int, str] | None:
    """Twilio's code and message for a request it refuses before queueing, or None."""
    to = first(fields, "To")
    sender = first(fields, "From")
    if not to:
        return 21604, "A 'To' phone number is required."
    if not sender and not first(fields, "MessagingServiceSid"):
        return 21603, "A 'From' phone number is required."
    if not (first(fields, "Body") or fields.get("MediaUrl") or first(fields, "ContentSid")):
        return 21619, "A Message Body, Media URL or Content SID is required."
    if len(first(fields, "Body")) > MAX_BODY:
        return 21617, "The concatenated message body exceeds the 1600 character limit."
    if sender and to.startswith(WHATSAPP_PREFIX) != sender.startswith(WHATSAPP_PREFIX):
        return 21910, "Invalid 'From' and 'To' pair. 'From' and 'To' should be of the same channel"
    return None


def created(state: StandInState, account: str, fields: dict[str, list[str]]) -> Response:
    media = fields.get("MediaUrl", [])
    # Twilio's sids: `SM` for messages, `MM` for those with media, then 32 hex digits.
    sid = f"{'MM' if media else 'SM'}{state.next_id():032x}"
    body = first(fields, "Body")
    content_sid = first(fields, "ContentSid")
    variables, header = (
        twilio_content.sent_values(state, content_sid, first(fields, "ContentVariables"))
        if content_sid
        else ([], None)
    )
    state.record(
        Sent(
            provider="twilio",
            message_id=sid,
            to=first(fields, "To"),
            sender=first(fields, "From"),
            text=body,
            media=list(media),
            template=content_sid or None,
            variables=variables,
            header=header,
            request={
                key: values if len(values) > 1 or key == "MediaUrl" else values[0]
                for key, values in fields.items()
            },
        )
    )
    now = format_datetime(datetime.now(UTC), usegmt=True)
    uri = f"/{API_VERSION}/Accounts/{account}/Messages/{sid}.json"
    resource: dict[str, Any] = {
        "account_sid": account,
        "api_version": API_VERSION,
        "body": body,
        "date_created": now,
        "date_sent": None,
        "date_updated": now,
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": first(fields, "From") or None,
        "messaging_service_sid": first(fields, "MessagingServiceSid") or None,
        "num_media": str(len(media)),
        "num_segments": "1",
        "price": None,
        "price_unit": "USD",
        "sid": sid,
        "status": "queued",
        "subresource_uris": {"media": uri.replace(".json", "/Media.json")},
        "to": first(fields, "To"),
        "uri": uri,
    }
    return JSONResponse(resource, status_code=201)


def account_resource(state: StandInState, account: str) -> dict[str, Any]:
    """The Account resource as Twilio documents its properties."""
    created = format_datetime(datetime(2024, 1, 1, tzinfo=UTC), usegmt=True)
    uri = f"/{API_VERSION}/Accounts/{account}"
    return {
        "auth_token": state.twilio_auth_token,
        "date_created": created,
        "date_updated": created,
        "friendly_name": "Stand-in account",
        "owner_account_sid": account,
        "sid": account,
        "status": "active",
        "subresource_uris": {"messages": f"{uri}/Messages.json", "balance": f"{uri}/Balance.json"},
        "type": "Full",
        "uri": f"{uri}.json",
    }


def error(status: int, code: int, message: str) -> JSONResponse:
    """Twilio's error body (twilio-python's `TwilioRestException` reads `code` and `message`)."""
    return JSONResponse(
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        status_code=status,
    )


def first(fields: dict[str, list[str]], name: str) -> str:
    values = fields.get(name)
    return values[0] if values else ""


def serve_media(state: StandInState, media_id: str) -> Response:
    stored = state.media.get(media_id)
    if stored is None:
        return JSONResponse({"message": "not found"}, status_code=404)
    if stored.status != 200:
        return JSONResponse({"message": "failing on purpose"}, status_code=stored.status)
    return Response(stored.content, media_type=stored.content_type)
