"""Vonage's send APIs: the SMS API (`POST /sms/json`) and the Messages API (`POST /v1/messages`),
and the Account API's balance (`GET /account/get-balance`), which `bridge doctor` reads.

As the real ones: the SMS API takes a form (or JSON) with `api_key`/`api_secret`, or the pair as
HTTP Basic (how the Vonage python SDK v4 sends it: `Sms` posts with its `basic` auth type), and
reports every outcome, bad credentials included, as a `status` per message in an HTTP 200
(Nexmo/api-specification `definitions/sms.yml`; nexmo-python's tests answer bad credentials with
status 4 "Bad Credentials"). Signed requests (`sig`) are not taken: the stand-in holds no signature
secret.
The Messages API takes JSON with HTTP Basic `api_key:api_secret`, answers 202 `{"message_uuid"}`,
and errors as RFC 7807 problems; a WhatsApp template comes as a `template` message (its variables
`template.parameters`) or, with a header, as a `custom` message carrying Meta's template object.
The balance takes `api_key`/`api_secret` as query parameters (Nexmo/api-specification
`definitions/account.yml`; Vonage's curl snippet sends them as HTTP Basic, also accepted), answers
`{"value", "autoReload"}`, and bad credentials 401 with `error-code`. The numbers the account owns
(`GET /account/numbers`, `definitions/numbers.yml`) authenticate the same way and are paged by
`index` and `size` (`numbers`). A read receipt is the Messages API's `PATCH /v1/messages/{uuid}`
with `{"status": "read"}` and the same Basic auth: a message id that is no UUID is not found (404),
another status is refused (422), and a read is recorded and answered 200; its faults are queued
apart (`/_standin/faults/vonage:read`).

A text longer than one SMS goes out as parts, and the SMS API answers one entry per part, each with
its own `message-id` (developer.vonage.com "Concatenation and Encoding"): the stand-in records the
message once, under its first part's id, as the bridge identifies it.

Faults (`/_standin/faults/vonage`) are taken by whichever endpoint is called next: a value below 100
is an SMS API status (1 throttled, 29 non-whitelisted…) in a 200 body, as the SMS API reports
errors; a negative value -N is a partial failure on the SMS API: the parts before the last are sent
and the last is refused with status N (the answer of the Vonage python SDK's test data
`send_sms_partial_error.json`; a one-part text is just refused); any other value is that HTTP
status, in the SMS API's body or as a problem.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from bridge.dev.standins import numbers
from bridge.dev.standins.state import READ_FAULTS, Read, Sent, StandInState, basic_ok

PROVIDER = "vonage"

# Fault HTTP status -> SMS API status in its body (sms.yml x-errors).
_SMS_STATUS_FOR_HTTP = {401: "4", 403: "4", 429: "1"}
# Fault HTTP status -> (problem type fragment, title) of the Messages API (messages-olympus.md and
# the generic errors of developer.vonage.com/api-errors).
_PROBLEMS: dict[int, tuple[str, str]] = {
    400: ("messages-olympus#1020", "Invalid params"),
    401: ("#unauthorized", "You did not provide correct credentials."),
    402: ("#low-balance", "Low balance"),
    403: ("#forbidden", "Forbidden"),
    404: ("#not-found", "Not Found"),
    422: ("messages-olympus#1120", "Invalid sender"),
    429: ("messages-olympus#1010", "Rate Limit Hit"),
}
_ERRORS_URL = "https://developer.nexmo.com/api-errors/"
# An SMS API status's `error-text` where the real one is known (status 1: the SDK's test data).
_ERROR_TEXTS = {"1": "Throttled"}
# Characters in one SMS, and in each part of a longer one (a 6-octet concatenation header takes
# the rest), by the SMS API's `type`: GSM-7 `text` or UCS-2 `unicode` (3GPP TS 23.040).
_SINGLE_SMS = {"text": 160, "unicode": 70}
_CONCATENATED_PART = {"text": 153, "unicode": 67}
_MEDIA_TYPES = ("image", "video", "audio", "file", "vcard")
_CHANNELS = ("sms", "mms", "whatsapp")


def sms_answer(status: str, error_text: str, *, http_status: int = 200) -> JSONResponse:
    return JSONResponse(
        {"message-count": "1", "messages": [{"status": status, "error-text": error_text}]},
        status_code=http_status,
    )


def problem(status: int, detail: str) -> JSONResponse:
    fragment, title = _PROBLEMS.get(status, ("messages-olympus#1030", "Internal error"))
    return JSONResponse(
        {"type": _ERRORS_URL + fragment, "title": title, "detail": detail, "instance": uuid.uuid4().hex},
        status_code=status,
        media_type="application/problem+json",
    )


def router(state: StandInState) -> APIRouter:
    api = APIRouter()

    @api.post("/sms/json")
    async def send_sms(request: Request) -> Response:
        fields = await _sms_fields(request)
        if not _authenticated(state, request, fields):
            return sms_answer("4", "Bad Credentials")
        fault = state.take_fault(PROVIDER)
        if fault is not None and 0 <= fault < 100:
            return sms_answer(str(fault), _ERROR_TEXTS.get(str(fault), f"fault {fault} injected"))
        if fault is not None and fault >= 100:
            status = _SMS_STATUS_FOR_HTTP.get(fault, "5" if fault >= 500 else "3")
            return sms_answer(status, f"HTTP {fault} injected", http_status=fault)
        for name in ("from", "to", "text"):
            if not fields.get(name):
                return sms_answer("2", f"Missing {name} param")
        if not fields["to"].isdigit():
            return sms_answer("3", "Invalid to param")
        texts = sms_parts(fields["text"], fields.get("type", "text"))
        refused: list[dict[str, str]] = []
        if fault is not None:  # what is left: -N, the last part refused with status N
            status = str(-fault)
            refused = [{"status": status, "error-text": _ERROR_TEXTS.get(status, f"fault {status} injected")}]
            texts = texts[:-1]
            if not texts:
                return JSONResponse({"message-count": "1", "messages": refused})
        parts = [_sent_part(state, fields) for _ in texts]
        request_seen = {key: value for key, value in fields.items() if key != "api_secret"}
        state.record(
            Sent(
                provider=PROVIDER,
                message_id=parts[0]["message-id"],
                to=fields["to"],
                sender=fields["from"],
                text="".join(texts),
                request=request_seen,
            )
        )
        messages = parts + refused
        return JSONResponse({"message-count": str(len(messages)), "messages": messages})

    @api.get("/account/get-balance")
    async def get_balance(request: Request) -> Response:
        """The Account API's balance: authenticate like the SMS API, answer it in EUR."""
        if not _authenticated(state, request, request.query_params):
            return JSONResponse(
                {"error-code": "401", "error-code-label": "authentication failed"}, status_code=401
            )
        return JSONResponse({"value": 10.171275, "autoReload": False})

    @api.get("/account/numbers")
    async def owned_numbers(request: Request) -> Response:
        """The Numbers API's owned numbers: authenticate like the balance, answer one page."""
        if not _authenticated(state, request, request.query_params):
            return JSONResponse(
                {"error-code": "401", "error-code-label": "authentication failed"}, status_code=401
            )
        index = numbers.positive(request.query_params, "index", 1)
        size = numbers.positive(request.query_params, "size", 10)
        if index is None or size is None or size > 100:
            return JSONResponse(
                {"error-code": "420", "error-code-label": "Invalid parameters"}, status_code=400
            )
        page = numbers.vonage_page(state.vonage_numbers, index=index, size=min(size, max(1, state.page_size)))
        return JSONResponse(page)

    @api.post("/v1/messages")
    async def send_message(request: Request) -> Response:
        if state.require_auth and not basic_ok(request, state.vonage_api_key, state.vonage_api_secret):
            return problem(401, "Check that you're using the correct credentials")
        fault = state.take_fault(PROVIDER)
        if fault is not None:
            return problem(422 if fault < 100 else fault, f"fault {fault} injected")
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return problem(400, "The request body is not a JSON object")
        invalid = _invalid(body)
        if invalid:
            return problem(400 if invalid != "from" else 422, f"The `{invalid}` parameter is invalid")
        message_type = body["message_type"]
        attachment: dict[str, Any] = body[message_type] if message_type in _MEDIA_TYPES else {}
        name, variables, header = _template(body)
        message_uuid = str(uuid.UUID(int=state.next_id(), version=4))
        state.record(
            Sent(
                provider=PROVIDER,
                message_id=message_uuid,
                to=body["to"],
                sender=body["from"],
                text=str(body.get("text") or attachment.get("caption") or ""),
                media=[attachment["url"]] if attachment else [],
                template=name,
                variables=variables,
                header=header,
                request=body,
            )
        )
        return JSONResponse({"message_uuid": message_uuid}, status_code=202)

    @api.patch("/v1/messages/{message_uuid}")
    async def update_message(message_uuid: str, request: Request) -> Response:
        """Mark an inbound WhatsApp message read (the only update the bridge makes)."""
        if state.require_auth and not basic_ok(request, state.vonage_api_key, state.vonage_api_secret):
            return problem(401, "Check that you're using the correct credentials")
        fault = state.take_fault(PROVIDER + READ_FAULTS)
        if fault is not None:
            return problem(fault, f"fault {fault} injected")
        try:
            uuid.UUID(message_uuid)
            body = json.loads(await request.body())
        except ValueError:
            return problem(404, f"No message {message_uuid} in this region")
        if not isinstance(body, dict) or body.get("status") != "read":
            return problem(422, "Only the status read can be set on an inbound WhatsApp message")
        state.record_read(Read(provider=PROVIDER, message_id=message_uuid, request=body))
        return Response(status_code=200)

    return api


def _authenticated(state: StandInState, request: Request, params: Mapping[str, str]) -> bool:
    """The SMS and Account APIs' check: the account's key and secret as parameters (form, JSON or
    query), or as HTTP Basic; either proves the request."""
    key, secret = state.vonage_api_key, state.vonage_api_secret
    by_params = bool(key) and (params.get("api_key"), params.get("api_secret")) == (key, secret)
    return not state.require_auth or by_params or basic_ok(request, key, secret)


def _sent_part(state: StandInState, fields: dict[str, str]) -> dict[str, str]:
    """One accepted part in the SMS API's answer ("Troubleshooting SMS"), with an id of its own."""
    part = {
        "to": fields["to"],
        "message-id": f"{state.next_id():016X}",
        "status": "0",
        "remaining-balance": "15.53590000",
        "message-price": "0.03330000",
        "network": "23410",
    }
    if "client-ref" in fields:
        part["client-ref"] = fields["client-ref"]
    return part


def sms_parts(text: str, message_type: str) -> list[str]:
    """The SMS `text` goes out as: itself when it fits one, else parts of a concatenated SMS."""
    kind = "unicode" if message_type == "unicode" else "text"
    if len(text) <= _SINGLE_SMS[kind]:
        return [text]
    size = _CONCATENATED_PART[kind]
    return [text[start : start + size] for start in range(0, len(text), size)]


async def _sms_fields(request: Request) -> dict[str, str]:
    """The SMS API's parameters from a form or JSON body, or the query string."""
    raw = await request.body()
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
    fields = dict(parse_qsl(request.url.query))
    fields.update(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    return fields


def _template(body: dict[str, Any]) -> tuple[str | None, list[str], str | None]:
    """A template send's name, variables and header: a `template` message's `parameters`, or a
    `custom` message's Meta template object (its body and header components)."""
    if body["message_type"] == "template":
        template = body["template"]
        return str(template["name"]), list(template.get("parameters", [])), None
    custom = body.get("custom") if body["message_type"] == "custom" else None
    template = custom.get("template") if isinstance(custom, dict) else None
    if not isinstance(template, dict):
        return None, [], None
    parts = {str(part.get("type")): part.get("parameters", []) for part in template.get("components", [])}
    variables = [str(parameter.get("text", "")) for parameter in parts.get("body", [])]
    header = next(iter(parts.get("header", [])), None)
    value = None
    if isinstance(header, dict):
        kind = str(header.get("type"))
        value = str(header.get("text") if kind == "text" else (header.get(kind) or {}).get("link"))
    return str(template.get("name")), variables, value


def _invalid(body: dict[str, Any]) -> str | None:
    """The first parameter the Messages API would refuse, or None."""
    if body.get("channel") not in _CHANNELS:
        return "channel"
    for name in ("to", "from"):
        if not isinstance(body.get(name), str) or not body[name]:
            return name
    message_type = body.get("message_type")
    if message_type == "text":
        return None if isinstance(body.get("text"), str) and body["text"] else "text"
    if message_type == "template":
        template = body.get("template")
        locale = (body.get("whatsapp") or {}).get("locale")
        parameters = template.get("parameters", []) if isinstance(template, dict) else None
        strings = isinstance(parameters, list) and all(isinstance(value, str) for value in parameters)
        ok = body["channel"] == "whatsapp" and isinstance(template, dict) and template.get("name") and locale
        return None if ok and strings else "template"
    if message_type == "custom":
        # WhatsApp only; the object goes to WhatsApp as it is, so only its shape is checked here.
        custom = body.get("custom")
        ok = (
            body["channel"] == "whatsapp" and isinstance(custom, dict) and isinstance(custom.get("type"), str)
        )
        return None if ok else "custom"
    if message_type in _MEDIA_TYPES:
        attachment = body.get(message_type)
        return None if isinstance(attachment, dict) and attachment.get("url") else message_type
    return "message_type"
