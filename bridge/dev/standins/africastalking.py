"""Africa's Talking's messaging API (sends) and its application data (`GET /version1/user`, which
`bridge doctor` reads), as its SDKs and docs describe them.

`POST /version1/messaging` with headers `apiKey` and `Accept: application/json` and a form body
(`username`, `to`, `message`, `from`, `bulkSMSMode`). A wrong key or username is a plain-text
401 "The supplied authentication is invalid"; a send answers 201 with `SMSMessageData` and one
recipient per number (statusCode 101, `messageId` `ATXid_…`). A refused recipient comes back
with its statusCode, also as the HTTP status (406 UserInBlacklist, 409 DoNotDisturbRejection:
africastalking-node.js issue #143, AT's SMS notifications docs). The application data takes the
same `apiKey` header and `username` as a query parameter, answering `{"UserData": {"balance"}}`
(africastalking-python `Application.py`).
"""

from __future__ import annotations

from http import HTTPStatus

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from bridge.dev.standins.state import Sent, StandInState

SEND_PATH = "/version1/messaging"
USER_PATH = "/version1/user"
AUTH_FAILED = "The supplied authentication is invalid"
REQUIRED = ("username", "to", "message")

# Injected faults whose status is one of AT's recipient statusCodes answer the recipient JSON
# with that code (AT's SMS API reference: 402 InvalidSenderId ... 502 RejectedByGateway); any
# other status (400, 401, 429, 503) answers a plain-text body as AT's gateway does.
RECIPIENT_FAULTS: dict[int, str] = {
    402: "InvalidSenderId",
    403: "InvalidPhoneNumber",
    404: "UnsupportedNumberType",
    405: "InsufficientBalance",
    406: "UserInBlacklist",
    407: "CouldNotRoute",
    409: "DoNotDisturbRejection",
    500: "InternalServerError",
    501: "GatewayError",
    502: "RejectedByGateway",
}


def router(state: StandInState) -> APIRouter:
    api = APIRouter()

    @api.get(USER_PATH)
    async def application_data(request: Request) -> Response:
        """The app's data: authenticate like a send, answer its balance."""
        authenticated = (
            bool(state.africastalking_api_key)
            and request.headers.get("apikey") == state.africastalking_api_key
            and request.query_params.get("username") == state.africastalking_username
        )
        if state.require_auth and not authenticated:
            return PlainTextResponse(AUTH_FAILED, status_code=401)
        return JSONResponse({"UserData": {"balance": "KES 1785.5000"}})

    @api.post(SEND_PATH)
    async def send(request: Request) -> Response:
        """Africa's Talking's bulk SMS send: authenticate, validate, record, answer the recipients."""
        form = await request.form()
        fields = {key: value for key, value in form.items() if isinstance(value, str)}
        authenticated = (
            bool(state.africastalking_api_key)
            and request.headers.get("apikey") == state.africastalking_api_key
            and fields.get("username") == state.africastalking_username
        )
        if state.require_auth and not authenticated:
            return PlainTextResponse(AUTH_FAILED, status_code=401)
        missing = [name for name in REQUIRED if not fields.get(name)]
        if missing:
            return PlainTextResponse(
                f"Request is missing required form field '{missing[0]}'", status_code=400
            )
        to = fields["to"]
        fault = state.take_fault("africastalking")
        if fault is not None:
            return fault_answer(fault, to)
        message_id = f"ATXid_{state.next_id():032x}"
        state.record(
            Sent(
                provider="africastalking",
                message_id=message_id,
                to=to,
                sender=fields.get("from", ""),
                text=fields["message"],
                request=fields,
            )
        )
        recipient = {
            "statusCode": 101,
            "number": to,
            "status": "Success",
            "cost": "KES 0.8000",
            "messageId": message_id,
            "messageParts": 1,
        }
        return answer(201, "Sent to 1/1 Total Cost: KES 0.8000", [recipient])

    return api


def fault_answer(status: int, to: str) -> Response:
    """What Africa's Talking answers with `status` instead of sending."""
    name = RECIPIENT_FAULTS.get(status)
    if name is None:
        text = AUTH_FAILED if status == 401 else _phrase(status)
        return PlainTextResponse(text, status_code=status)
    recipient = {"cost": "0", "messageId": "None", "number": to, "status": name, "statusCode": status}
    return answer(status, "Sent to 0/1 Total Cost: 0", [recipient])


def answer(status: int, summary: str, recipients: list[dict[str, object]]) -> JSONResponse:
    return JSONResponse(
        {"SMSMessageData": {"Message": summary, "Recipients": recipients}}, status_code=status
    )


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Fault injected by the stand-in"
