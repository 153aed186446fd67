"""One HTTP app standing in for every provider's API, under the providers' own paths.

Media (what inbound messages point at):
- Twilio: `GET /2010-04-01/Accounts/{sid}/Messages/{message}/Media/{media}`, HTTP Basic with the
  account SID and auth token when `require_auth` is on (Twilio's "media access" setting).
- Meta Graph: `GET /{version}/{media_id}` (Bearer) answers `{url, mime_type, ...}`; that URL
  (`/lookaside/{media_id}`, like lookaside.fbsbx.com) serves the bytes, Bearer again.
- Any other provider: `GET /media/{media_id}`, no credentials (a public URL).

`/_standin/` (no auth) seeds media, shows recorded requests and resets.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

CONTROL_PREFIX = "/_standin"


@dataclass
class StoredMedia:
    content: bytes
    content_type: str
    status: int = 200  # to make a media URL fail on purpose (404 expired, 503 flaky)


@dataclass
class StandInState:
    """What the stand-in holds; credentials are what the bridge must present."""

    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    whatsapp_access_token: str = ""
    require_auth: bool = True
    media: dict[str, StoredMedia] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)

    def reset(self) -> None:
        self.media.clear()
        self.requests.clear()


def create_standin_app(state: StandInState | None = None) -> FastAPI:
    state = state or StandInState()
    app = FastAPI(title="provider stand-ins", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.standin = state

    @app.middleware("http")
    async def record(request: Request, call_next: Any) -> Response:
        if not request.url.path.startswith(CONTROL_PREFIX):
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

    # --- Twilio ---

    @app.get("/2010-04-01/Accounts/{account}/Messages/{message}/Media/{media_id}")
    async def twilio_media(account: str, message: str, media_id: str, request: Request) -> Response:
        if state.require_auth and not _basic_ok(request, state.twilio_account_sid, state.twilio_auth_token):
            return JSONResponse({"code": 20003, "message": "Authenticate", "status": 401}, status_code=401)
        return _serve(state, media_id)

    # --- public media (any provider); before Graph's catch-all /{version}/{id} ---

    @app.get("/media/{media_id}")
    async def public_media(media_id: str) -> Response:
        return _serve(state, media_id)

    # --- Meta Graph API ---

    @app.get("/lookaside/{media_id}")
    async def meta_media_bytes(media_id: str, request: Request) -> Response:
        if not _bearer_ok(request, state.whatsapp_access_token):
            return _meta_error(401, "Invalid OAuth access token")
        return _serve(state, media_id)

    @app.get("/{version}/{media_id}")
    async def meta_media(version: str, media_id: str, request: Request) -> Response:
        if not _bearer_ok(request, state.whatsapp_access_token):
            return _meta_error(401, "Invalid OAuth access token")
        stored = state.media.get(media_id)
        if stored is None:
            return _meta_error(404, f"Unsupported get request. Object with ID '{media_id}' does not exist")
        base = str(request.base_url).rstrip("/")
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "url": f"{base}/lookaside/{media_id}",
                "mime_type": stored.content_type,
                "sha256": "",
                "file_size": len(stored.content),
                "id": media_id,
            }
        )

    # --- control ---

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

    @app.get(f"{CONTROL_PREFIX}/requests")
    async def requests() -> list[dict[str, Any]]:
        return state.requests

    @app.post(f"{CONTROL_PREFIX}/reset")
    async def reset() -> dict[str, str]:
        state.reset()
        return {"status": "reset"}

    return app


def _serve(state: StandInState, media_id: str) -> Response:
    stored = state.media.get(media_id)
    if stored is None:
        return JSONResponse({"message": "not found"}, status_code=404)
    if stored.status != 200:
        return JSONResponse({"message": "failing on purpose"}, status_code=stored.status)
    return Response(stored.content, media_type=stored.content_type)


def _basic_ok(request: Request, user: str, password: str) -> bool:
    header = request.headers.get("authorization", "")
    if not header.startswith("Basic "):
        return False
    try:
        given = base64.b64decode(header.removeprefix("Basic ")).decode()
    except (binascii.Error, UnicodeDecodeError):
        return False
    return given == f"{user}:{password}"


def _bearer_ok(request: Request, token: str) -> bool:
    return bool(token) and request.headers.get("authorization", "") == f"Bearer {token}"


def _meta_error(status: int, message: str) -> JSONResponse:
    return JSONResponse(
        {
            "error": {
                "message": message,
                "type": "OAuthException",
                "code": 190 if status == 401 else 100,
                "fbtrace_id": "standin",
            }
        },
        status_code=status,
    )
