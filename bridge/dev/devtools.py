"""What keeps the dev tools (the Intercom sandbox, the providers' stand-ins) to the developer's machine.

They listen on 127.0.0.1 with no authentication on their control routes, which is safe only if
nothing but local programs can reach them. A web page the developer visits can, twice over:

- DNS rebinding: the page's own host name is made to resolve to 127.0.0.1, and the browser then
  lets the page read and write the dev tool as same-origin. The request still says the attacker's
  name in `Host`, so only loopback names are answered (`127.0.0.1`, `localhost`, `[::1]`, any port),
  plus names the tool was explicitly told to accept (a container's service name).
- Cross-site requests: a page may POST anywhere without asking (a form, or `fetch` with a
  `text/plain` body: a CORS "simple" request, sent with no preflight; only the answer is hidden).
  So a control route's POST must say `Content-Type: application/json`, which a page can send
  cross-origin only after a preflight the tools never approve; so must a PUT, PATCH or DELETE
  carrying a body (those methods are preflighted anyway; the rule keeps one contract). A bodiless
  POST is refused too: `fetch(url, {method: "POST"})` is simple and would reset a tool's state.

`LocalOnly` applies both, in front of everything else of the app, for both tools.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from starlette.datastructures import Headers
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]"})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
JSON_TYPE = "application/json"
_HOST = re.compile(r"(\[[0-9a-f:.]+\]|[a-z0-9._-]+)(?::\d{1,5})?")

# (status, code, message) -> the answer, in the tool's own error shape.
Refusal = Callable[[int, str, str], Response]


def json_refusal(status: int, code: str, message: str) -> Response:
    """A refusal for a tool without an error shape of its own (the stand-ins' control routes)."""
    return JSONResponse({"error": code, "message": message}, status_code=status)


def host_name(host_header: str) -> str | None:
    """The name in a `Host` header, lowercased, without its port (`[::1]:8001` -> `[::1]`); None
    when the header is not `name[:port]` (or is missing)."""
    match = _HOST.fullmatch(host_header.strip().lower())
    return match.group(1) if match else None


def is_json(content_type: str | None) -> bool:
    """Whether a `Content-Type` is `application/json` (parameters such as charset allowed)."""
    return (content_type or "").split(";", 1)[0].strip().lower() == JSON_TYPE


class LocalOnly:
    """ASGI middleware: answer only loopback `Host`s (and `extra_hosts`), and take only JSON on the
    control routes under `control_prefix`; everything else is refused with `refuse`'s answer."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        control_prefix: str,
        refuse: Refusal = json_refusal,
        extra_hosts: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.control_prefix = control_prefix
        self.refuse = refuse
        self.hosts = LOOPBACK_HOSTS | {host.strip().lower() for host in extra_hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        refusal = self.refusal(scope)
        if refusal is None:
            await self.app(scope, receive, send)
        else:
            await refusal(scope, receive, send)

    def refusal(self, scope: Scope) -> Response | None:
        """The answer refusing this request, or None to let it through."""
        headers = Headers(scope=scope)
        name = host_name(headers.get("host", ""))
        if name not in self.hosts:
            # The header is not echoed: it is whatever the page's author chose.
            return self.refuse(
                403,
                "forbidden",
                "this dev tool answers only requests to 127.0.0.1, localhost or [::1] "
                "(start it with --allow-host NAME to add a name)",
            )
        if (
            scope["type"] == "http"
            and self._needs_json(scope, headers)
            and not is_json(headers.get("content-type"))
        ):
            return self.refuse(415, "unsupported", f"control routes take only {JSON_TYPE} bodies")
        return None

    def _needs_json(self, scope: Scope, headers: Headers) -> bool:
        path: str = scope["path"]
        if not (path == self.control_prefix or path.startswith(self.control_prefix + "/")):
            return False
        method: str = scope["method"]
        if method == "POST":
            return True
        has_body = headers.get("content-length", "0") != "0" or "transfer-encoding" in headers
        return method in BODY_METHODS and has_body
