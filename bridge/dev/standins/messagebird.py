"""MessageBird's APIs, as much of them as the bridge uses: SMS, MMS and Conversations sends, and
the balance `bridge doctor` proves the access key with.

- SMS API: `POST /messages` and `POST /mms`, JSON, `Authorization: AccessKey <key>`; 201 with the
  message (MMS) object (messagebird-async `examples/example.json`, python SDK `mms.py`). Recipients
  come as a JSON array (nodejs and go `/messages`) or a comma-separated string (what both the python
  and go SDKs send to `/mms`, and the python SDK to `/messages`): the stand-in takes either.
- Conversations API: `POST /v1/send`, same header; 202 with `{"id", "status": "accepted"}`
  (go-rest-api `testdata/messageSendResponse.json`).
- Balance API: `GET /balance`, same header; 200 `{"payment", "type", "amount"}`
  (developers.messagebird.com/api/balance).

Both APIs put errors in `{"errors": [{"code", "description", "parameter"}]}`
(developers.messagebird.com/api/conversations); the stand-in serves both under one base URL, as
the test fixtures point MESSAGEBIRD_API_URL and MESSAGEBIRD_CONVERSATIONS_API_URL at it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from bridge.dev.standins.state import Sent, StandInState

PROVIDER = "messagebird"
MAX_MMS_MEDIA = 10  # docs.bird.com "MMS sizes and limitations"

# An injected fault's errors[].code and description, by HTTP status: the REST API's codes
# (messagebird-async `ServiceErrorCode`). 422 is the one a send meets most: no balance left.
FAULTS: dict[int, tuple[int, str]] = {
    400: (21, "Bad request"),
    401: (2, "Request not allowed (incorrect access_key)"),
    404: (20, "Not found"),
    422: (25, "Not enough balance"),
    500: (99, "Internal error"),
}
# The Conversations API's own answer to a wrong key (its "Error Object Example").
CONVERSATIONS_UNAUTHORIZED = (1001, "You are requesting with an invalid credential.", None)
SMS_UNAUTHORIZED = (*FAULTS[401], "access_key")


def router(state: StandInState) -> APIRouter:
    api = APIRouter()

    @api.post("/messages")
    async def create_message(request: Request) -> Response:
        """The SMS API's message create: check like MessageBird, record, answer the message."""
        refused, body = await _accept(state, request)
        if refused is not None:
            return refused
        missing = _missing(body, "originator", "body", "recipients")
        if missing:
            return error(422, 9, f"{missing} is required", missing)
        recipients = _recipients(body["recipients"])
        if not recipients:
            return error(422, 9, "no (correct) recipients found", "recipients")
        return _sms_created(state, body, recipients, media=[])

    @api.post("/mms")
    async def create_mms(request: Request) -> Response:
        refused, body = await _accept(state, request)
        if refused is not None:
            return refused
        missing = _missing(body, "originator", "recipients")
        if missing:
            return error(422, 9, f"{missing} is required", missing)
        media = body.get("mediaUrls") or []
        if not (isinstance(media, list) and all(isinstance(url, str) for url in media)):
            return error(422, 10, "mediaUrls must be a list of URLs", "mediaUrls")
        if not (media or body.get("body")):
            return error(422, 9, "body or mediaUrls is required", "body")
        if len(media) > MAX_MMS_MEDIA:
            return error(422, 10, f"at most {MAX_MMS_MEDIA} mediaUrls", "mediaUrls")
        recipients = _recipients(body["recipients"])
        if not recipients:
            return error(422, 9, "no (correct) recipients found", "recipients")
        return _sms_created(state, body, recipients, media=media)

    @api.get("/balance")
    async def balance(request: Request) -> Response:
        """The Balance API: authenticate like a send, answer a prepaid balance in credits."""
        if not _authenticated(state, request):
            return error(401, *SMS_UNAUTHORIZED)
        return JSONResponse({"payment": "prepaid", "type": "credits", "amount": 9.2})

    @api.post("/v1/send")
    async def conversations_send(request: Request) -> Response:
        """The Conversations API's send: record, answer `accepted`."""
        refused, body = await _accept(state, request, unauthorized=CONVERSATIONS_UNAUTHORIZED)
        if refused is not None:
            return refused
        missing = _missing(body, "to", "from", "type", "content")
        if missing:
            return error(400, 21, f"{missing} is required", missing)
        kind, content = body["type"], body["content"]
        part = content.get(kind) if isinstance(content, dict) else None
        if kind == "text" and not isinstance(part, str):
            return error(400, 21, "content.text is required for type text", "content")
        if kind != "text" and not isinstance(part, dict):
            return error(400, 21, f"content.{kind} is required for type {kind}", "content")
        hsm = part if kind == "hsm" and isinstance(part, dict) else None
        problem = _hsm_problem(hsm) if hsm is not None else None
        if problem:
            return error(400, 21, f"content.hsm: {problem}", "content")
        message_id = f"{state.next_id():032x}"
        media = [part["url"]] if isinstance(part, dict) and isinstance(part.get("url"), str) else []
        text = part if isinstance(part, str) else str((part or {}).get("caption", ""))
        variables, header = _hsm_values(hsm) if hsm is not None else ([], None)
        state.record(
            Sent(
                provider=PROVIDER,
                message_id=message_id,
                to=str(body["to"]),
                sender=str(body["from"]),
                text=text,
                media=media,
                template=str(hsm.get("templateName")) if hsm is not None else None,
                variables=variables,
                header=header,
                request=body,
            )
        )
        return JSONResponse({"id": message_id, "status": "accepted"}, status_code=202)

    return api


def _hsm_problem(hsm: dict[str, Any]) -> str | None:
    """Why an `hsm` is not one MessageBird's SDKs would send: `params` of `{"default": text}`
    (go-rest-api `HSMLocalizableParameter`: "Default is required"), `components` of objects."""
    if not hsm.get("templateName") or not isinstance(hsm.get("language"), dict):
        return "templateName and language are required"
    params = hsm.get("params", [])
    if not isinstance(params, list) or not all(
        isinstance(item, dict) and isinstance(item.get("default"), str) for item in params
    ):
        return "params must be objects with a default text"
    components = hsm.get("components", [])
    if not isinstance(components, list) or not all(isinstance(item, dict) for item in components):
        return "components must be a list of objects"
    return None


def _hsm_values(hsm: dict[str, Any]) -> tuple[list[str], str | None]:
    """The variables of an hsm (its `params`, or its body component) and its header (a media
    `url` or a text), as the stand-ins page shows them."""
    parts = {str(item.get("type")): item.get("parameters") or [] for item in hsm.get("components", [])}
    if "body" in parts:
        variables = [str(parameter.get("text", "")) for parameter in parts["body"]]
    else:
        variables = [str(item["default"]) for item in hsm.get("params", [])]
    first = next(iter(parts.get("header", [])), None)
    if not isinstance(first, dict):
        return variables, None
    kind = str(first.get("type"))
    return variables, str(first.get("text") if kind == "text" else (first.get(kind) or {}).get("url"))


def error(status: int, code: int, description: str, parameter: str | None = None) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"code": code, "description": description, "parameter": parameter}]}, status_code=status
    )


async def _accept(
    state: StandInState, request: Request, *, unauthorized: tuple[int, str, str | None] = SMS_UNAUTHORIZED
) -> tuple[Response | None, dict[str, Any]]:
    """Authenticate, apply an injected fault, read the JSON body: a refusal, or the body."""
    expected = f"AccessKey {state.messagebird_access_key}"
    if state.require_auth and not (
        state.messagebird_access_key and request.headers.get("authorization") == expected
    ):
        return error(401, *unauthorized), {}
    fault = state.take_fault(PROVIDER)
    if fault is not None:
        code, description = FAULTS.get(fault, (fault, "Fault injected by the stand-in"))
        return error(fault, code, description), {}
    try:
        body = json.loads(await request.body())
    except ValueError:
        return error(400, 21, "the body is not JSON"), {}
    if not isinstance(body, dict):
        return error(400, 21, "the body is not a JSON object"), {}
    return None, body


def _authenticated(state: StandInState, request: Request) -> bool:
    """The check `_accept` makes, for endpoints that read no body."""
    expected = f"AccessKey {state.messagebird_access_key}"
    return not state.require_auth or bool(
        state.messagebird_access_key and request.headers.get("authorization") == expected
    )


def _missing(body: dict[str, Any], *names: str) -> str | None:
    return next((name for name in names if body.get(name) in (None, "", [])), None)


def _recipients(value: object) -> list[str]:
    """The numbers in `recipients`, a JSON array or a comma-separated string; empty when any entry
    is not a number (MessageBird then answers "no (correct) recipients found")."""
    entries = value.split(",") if isinstance(value, str) else value
    if not isinstance(entries, list):
        return []
    numbers = [str(entry).strip() for entry in entries if isinstance(entry, str | int)]
    if len(numbers) != len(entries) or not all(number.isdigit() for number in numbers):
        return []
    return numbers


def _sms_created(
    state: StandInState, body: dict[str, Any], recipients: list[str], *, media: list[str]
) -> Response:
    message_id = f"{state.next_id():032x}"
    now = datetime.now(UTC).isoformat(timespec="seconds")
    state.record(
        Sent(
            provider=PROVIDER,
            message_id=message_id,
            to=",".join(recipients),
            sender=str(body["originator"]),
            text=str(body.get("body") or ""),
            media=media,
            request=body,
        )
    )
    resource: dict[str, Any] = {
        "id": message_id,
        "href": f"https://rest.messagebird.com/{'mms' if media else 'messages'}/{message_id}",
        "direction": "mt",
        "originator": body["originator"],
        "body": body.get("body"),
        "reference": body.get("reference"),
        "scheduledDatetime": None,
        "createdDatetime": now,
        "recipients": {
            "totalCount": len(recipients),
            "totalSentCount": len(recipients),
            "totalDeliveredCount": 0,
            "totalDeliveryFailedCount": 0,
            "items": [
                {"recipient": int(recipient), "status": "sent", "statusDatetime": now}
                for recipient in recipients
            ],
        },
    }
    if media:
        resource |= {"subject": body.get("subject"), "mediaUrls": media}
    else:
        resource |= {"type": "sms", "datacoding": "plain", "mclass": 1, "reportUrl": body.get("reportUrl")}
    return JSONResponse(resource, status_code=201)
