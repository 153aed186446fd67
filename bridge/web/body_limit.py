"""Every request body capped at `BRIDGE_MAX_BODY_BYTES`, for every route, in one place.

Bytes are counted as they stream in, so a chunked body (no Content-Length) is cut off as soon
as it passes the limit, and a body whose Content-Length is over the limit is refused before any
of it is read. Nothing here buffers: the route that reads the body holds at most the limit and
one more chunk.

The refusal is raised, not answered, here: reading past the limit raises `PayloadTooLarge` in the
route, so the app's handler answers it (413, JSON with the reason) and a provider webhook's
refusal is counted as `too_large` like any other. FastAPI turns an error while it reads a body
itself (the ops API's JSON) into a 400, so an answer other than 413 after the limit was passed
is replaced by the same 413: every route refuses alike. A route that never reads its body
(a GET) answers as usual.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bridge.core.errors import PayloadTooLarge


class BodyLimitMiddleware:
    """Pure ASGI (see `bridge.web.request_id.RequestIdMiddleware` for why not `BaseHTTPMiddleware`)."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limited = _LimitedRequest(scope, receive, send, max_bytes=self.max_bytes)
        await self.app(scope, limited.receive, limited.send)


def declared_length(scope: Scope) -> int | None:
    """The Content-Length the client declared, if it is a plain number."""
    value = Headers(scope=scope).get("content-length", "")
    return int(value) if value.isascii() and value.isdigit() else None


class _LimitedRequest:
    """One request's `receive` and `send`, counting its body bytes against the limit."""

    def __init__(self, scope: Scope, receive: Receive, send: Send, *, max_bytes: int) -> None:
        self._scope, self._receive, self._send = scope, receive, send
        self._max_bytes = max_bytes
        self._declared = declared_length(scope)
        self._received = 0
        self._exceeded = False  # the app was told the body is too large
        self._replaced = False  # the app's answer was replaced by the 413

    async def receive(self) -> Message:
        if self._declared is not None and self._declared > self._max_bytes:
            raise self._refusal()
        message = await self._receive()
        if message["type"] == "http.request":
            self._received += len(message.get("body", b""))
            if self._received > self._max_bytes:
                raise self._refusal()
        return message

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start" and self._exceeded and message["status"] != 413:
            self._replaced = True
            refusal = self._refusal()
            answer = JSONResponse({"detail": refusal.reason}, status_code=refusal.status)
            await answer(self._scope, self._receive, self._send)
        elif not self._replaced:  # once replaced, the rest of the app's own answer is dropped
            await self._send(message)

    def _refusal(self) -> PayloadTooLarge:
        self._exceeded = True
        return PayloadTooLarge(f"the body is larger than {self._max_bytes} bytes")
