"""Every HTTP request's id (`bridge.core.context`): taken from a sane `X-Request-ID` or made
new, in context while the request is handled, and echoed in the response."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bridge.core.context import HEADER, bind_request_id, new_request_id, sane_request_id, unbind_request_id


class RequestIdMiddleware:
    """Gives every HTTP request an id, in context while it is handled and in the response.

    Pure ASGI rather than `BaseHTTPMiddleware`, which runs the app in another task: context
    variables set here would not reach the routes, and streamed bodies would be buffered.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next(
            (value.decode("latin-1") for name, value in scope["headers"] if name == b"x-request-id"), None
        )
        request_id = sane_request_id(incoming) or new_request_id()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[HEADER] = request_id
            await send(message)

        token = bind_request_id(request_id)
        await self.app(scope, receive, send_with_id)
        # Reset only on a normal return: after an exception the variable stays set in this
        # request's own task, so the server's "Exception in ASGI application" line, logged as
        # the exception leaves the app, still carries the id.
        unbind_request_id(token)
