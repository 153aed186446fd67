"""One HTTP app standing in for every provider's API, under the providers' own paths.

Each provider's endpoints live in their own module (`twilio.py`, `meta.py`, …) with the same
authentication as the real API, so the bridge's requests are exercised exactly as in production.
`/media/{id}` serves public media for any provider; `/_standin/` (no auth) seeds media, injects
send faults (and read-receipt faults, under `{provider}:read`), shows recorded requests, sends and
read receipts, and resets. `/` lists the sends and the messages marked read for a person.
Having no auth, `/_standin/` takes only JSON, and the whole app answers only requests addressed to
this machine (`bridge.dev.devtools`).
"""

from __future__ import annotations

import base64
import binascii
from collections import deque
from collections.abc import Iterable
from dataclasses import asdict
from html import escape
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse

from bridge.dev.devtools import LocalOnly
from bridge.dev.standins import africastalking, messagebird, meta, textmagic, twilio, vonage
from bridge.dev.standins.state import Read, Sent, StandInState, StoredMedia
from bridge.dev.standins.twilio import serve_media

CONTROL_PREFIX = "/_standin"


def template_cell(sent: Sent) -> str:
    """A template send as a person reads it: `order_shipped (Ada, 4711) header: https://…`."""
    if sent.template is None:
        return ""
    cell = sent.template + (f" ({', '.join(sent.variables)})" if sent.variables else "")
    return cell + (f" header: {sent.header}" if sent.header else "")


def rows(cells: Iterable[Iterable[str]]) -> str:
    """Table rows of escaped cells."""
    return "".join("<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in cells)


def read_cells(read: Read) -> tuple[str, ...]:
    return (read.provider, read.business_number, read.message_id)


def create_standin_app(state: StandInState | None = None, *, allowed_hosts: Iterable[str] = ()) -> FastAPI:
    """The stand-ins over `state`, answering requests to loopback names and `allowed_hosts` only."""
    state = state or StandInState()
    app = FastAPI(title="provider stand-ins", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.standin = state

    @app.middleware("http")
    async def record(request: Request, call_next: Any) -> Response:
        if not request.url.path.startswith(CONTROL_PREFIX) and request.url.path != "/":
            state.requests.append(
                {
                    "method": request.method,
                    "path": request.url.path,
                    "query": request.url.query,
                    "headers": dict(request.headers),
                    "body": (await request.body()).decode("utf-8", "replace"),
                }
            )
        response: Response = await call_next(request)
        return response

    @app.get("/", response_class=HTMLResponse)
    async def sends_page() -> str:
        sent_rows = rows(
            (sent.provider, sent.sender, sent.to, sent.text, ", ".join(sent.media), template_cell(sent))
            for sent in reversed(state.sends)
        )
        read_rows = rows(read_cells(read) for read in reversed(state.reads))
        return (
            "<!doctype html><html><head><meta charset='utf-8'><title>Provider stand-ins</title>"
            "<meta http-equiv='refresh' content='5'><style>body{font-family:system-ui,sans-serif;margin:2rem}"
            "td,th{border-bottom:1px solid #eee;padding:.2rem .6rem;text-align:left}</style></head><body>"
            f"<h1>Messages sent to customers ({len(state.sends)})</h1>"
            "<table><tr><th>provider</th><th>from</th><th>to</th><th>text</th><th>media</th><th>template</th></tr>"
            f"{sent_rows}</table>"
            f"<h2>Customers' messages marked read ({len(state.reads)})</h2>"
            "<table><tr><th>provider</th><th>through</th><th>message</th></tr>"
            f"{read_rows}</table></body></html>"
        )

    @app.get("/media/{media_id}")
    async def public_media(media_id: str) -> Response:
        return serve_media(state, media_id)

    @app.post(f"{CONTROL_PREFIX}/media/{{media_id}}")
    async def seed_media(media_id: str, request: Request) -> dict[str, Any]:
        fields = await request.json()
        try:
            content = base64.b64decode(fields.get("content_base64", ""), validate=True)
        except binascii.Error:
            return {"error": "content_base64 is not base64"}
        state.media[media_id] = StoredMedia(
            content=content,
            content_type=str(fields.get("content_type", "application/octet-stream")),
            status=int(fields.get("status", 200)),
        )
        return {"media_id": media_id, "bytes": len(content)}

    @app.post(f"{CONTROL_PREFIX}/faults/{{provider}}")
    async def add_faults(provider: str, request: Request) -> dict[str, Any]:
        asked = await request.json()
        statuses = [int(status) for status in asked.get("statuses", [])]
        # Optional, one per status: the provider's error code (Twilio: 21408 instead of 21610).
        codes = [int(code) if code is not None else None for code in asked.get("codes", [])]
        codes += [None] * (len(statuses) - len(codes))
        queued_before = len(state.faults.get(provider, ()))
        state.faults.setdefault(provider, deque()).extend(statuses)
        state.fault_codes.setdefault(provider, deque([None] * queued_before)).extend(codes[: len(statuses)])
        return {"provider": provider, "pending": len(state.faults[provider])}

    @app.get(f"{CONTROL_PREFIX}/sends")
    async def sends() -> list[dict[str, Any]]:
        return [asdict(sent) for sent in state.sends]

    @app.get(f"{CONTROL_PREFIX}/reads")
    async def reads() -> list[dict[str, Any]]:
        return [asdict(read) for read in state.reads]

    @app.get(f"{CONTROL_PREFIX}/requests")
    async def requests() -> list[dict[str, Any]]:
        return state.requests

    @app.post(f"{CONTROL_PREFIX}/reset")
    async def reset() -> dict[str, str]:
        state.reset()
        return {"status": "reset"}

    # Provider routes after the control routes, and Meta's catch-all `/{version}/{id}` last of all:
    # Starlette matches in order, and that pattern would take `/_standin/sends` for a media id.
    for module in (twilio, messagebird, vonage, textmagic, africastalking, meta):
        app.include_router(module.router(state))

    # Added last, so outermost: a refused request is not recorded either.
    app.add_middleware(LocalOnly, control_prefix=CONTROL_PREFIX, extra_hosts=allowed_hosts)
    return app
