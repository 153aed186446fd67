"""Intercom's error answer, the one shape of everything the sandbox refuses.

Intercom answers every failed request with an `error.list` (2.16 OpenAPI, `components/schemas/error`):
`{"type": "error.list", "request_id": <uuid>, "errors": [{"code", "message", "field"?}]}`, and its
clients read only that. So the sandbox's own checks raise `ApiError`, and what FastAPI and Starlette
would otherwise answer in their own `{"detail": ...}` shape is translated here:

    unknown route                    404 not_found
    method the route lacks           404 not_found   (Intercom: "A request using an HTTP method that
                                                      the endpoint does not support also returns 404";
                                                      developers.intercom.com, 2.17 rest-api/errors/
                                                      http-responses. Its 405 is an admin permission.)
    other HTTPException              its status, a code from HTTP_CODES
    request validation (FastAPI)     400 parameter_not_found (missing) / parameter_invalid (malformed),
                                     `field` naming the parameter (as Intercom's 2.16 examples answer
                                     "ticket_type_id is a required parameter", "start_ts must be ...")
    anything unexpected              500 server_error
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

NOT_FOUND_MESSAGE = "Resource Not Found"  # Intercom's `not_found` message in the 2.16 description
NOT_JSON_MESSAGE = "the body is not JSON"  # Intercom: 400 parameter_invalid (2.17 http-responses page)
# Intercom's codes (developers.intercom.com rest-api/errors/error-codes) for the statuses Starlette raises.
HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    422: "unprocessable_entity",
    429: "rate_limit_exceeded",
    503: "service_unavailable",
}


class ApiError(Exception):
    """An Intercom error answer: status, `error.list` code and message, extra headers."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: Mapping[str, str] | None = None,
        *,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.field = field

    def item(self) -> dict[str, str]:
        """This error as one entry of `errors`."""
        item = {"code": self.code, "message": self.message}
        return (item | {"field": self.field}) if self.field else item

    def response(self) -> JSONResponse:
        """The answer, for code that returns rather than raises (the edge runs outside the handlers)."""
        return error_response(self.status, [self.item()], self.headers)


def error_response(
    status: int, errors: Sequence[Mapping[str, str]], headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """The `error.list` answer; every error the sandbox gives is built here."""
    body = {"type": "error.list", "request_id": str(uuid.uuid4()), "errors": [dict(e) for e in errors]}
    return JSONResponse(body, status_code=status, headers=headers)


def _http_error(exc: HTTPException) -> ApiError:
    """Starlette's own refusal (no route, a method the route lacks, a form it cannot parse)."""
    if exc.status_code in (404, 405):
        # No `Allow` on the 404: Starlette's names only the methods of the first route matching the
        # path (GET for /contacts/{id}, which also takes PUT and DELETE).
        return ApiError(404, "not_found", NOT_FOUND_MESSAGE)
    fallback = "server_error" if exc.status_code >= 500 else "client_error"
    code = HTTP_CODES.get(exc.status_code, fallback)
    return ApiError(exc.status_code, code, str(exc.detail), exc.headers)


def _validation_errors(exc: RequestValidationError) -> list[ApiError]:
    """One error per parameter FastAPI refused. The value sent is never echoed: it may be a phone
    number or a token."""
    return [_validation_error(error) for error in exc.errors()]


def _validation_error(error: Mapping[str, Any]) -> ApiError:
    # `loc` is where the parameter was: ("query", "per_page"), ("body", "from", "id"), ("body",).
    field = ".".join(str(part) for part in error["loc"][1:]) or None
    name = field or "the body"
    if error["type"] == "missing":
        return ApiError(400, "parameter_not_found", f"{name} is a required parameter", field=field)
    if error["type"] == "json_invalid":
        return ApiError(400, "parameter_invalid", NOT_JSON_MESSAGE)
    return ApiError(400, "parameter_invalid", f"{name}: {error['msg']}", field=field)


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error of `app` as Intercom does, whatever raised it."""

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(HTTPException)
    async def starlette_error(request: Request, exc: HTTPException) -> JSONResponse:
        return _http_error(exc).response()

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(400, [error.item() for error in _validation_errors(exc)])

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Starlette raises the exception again after this answer, so the server still logs it.
        return ApiError(500, "server_error", f"The sandbox failed: {type(exc).__name__}").response()
