"""Meta's Graph API for WhatsApp: media lookups and downloads (and sends).

Its paths start with a version (`/v23.0/…`) and end in ids, so its catch-all routes are mounted
last: other providers' paths must be matched first.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from bridge.standins.state import StandInState, bearer_ok
from bridge.standins.twilio import serve_media


def error(status: int, message: str, code: int | None = None) -> JSONResponse:
    return JSONResponse(
        {
            "error": {
                "message": message,
                "type": "OAuthException",
                "code": code if code is not None else (190 if status == 401 else 100),
                "fbtrace_id": "standin",
            }
        },
        status_code=status,
    )


def router(state: StandInState) -> APIRouter:
    api = APIRouter()

    @api.get("/lookaside/{media_id}")
    async def media_bytes(media_id: str, request: Request) -> Response:
        if not bearer_ok(request, state.whatsapp_access_token):
            return error(401, "Invalid OAuth access token")
        return serve_media(state, media_id)

    @api.get("/{version}/{media_id}")
    async def media_lookup(version: str, media_id: str, request: Request) -> Response:
        if not bearer_ok(request, state.whatsapp_access_token):
            return error(401, "Invalid OAuth access token")
        stored = state.media.get(media_id)
        if stored is None:
            return error(404, f"Unsupported get request. Object with ID '{media_id}' does not exist")
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

    return api
