"""Attachments the bridge re-serves to Intercom, by unguessable token."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, JSONResponse

from bridge.media import MediaStore

router = APIRouter(tags=["media"])


@router.get("/media/{token}")
def serve_media(token: str, request: Request) -> Response:
    """An attachment a provider sent, for Intercom to fetch; 404 once expired."""
    store: MediaStore = request.app.state.media
    stored = store.get(token)
    if stored is None:
        return JSONResponse({"detail": "no such media (unknown or expired)"}, status_code=404)
    disposition = "inline" if stored.inline else "attachment"
    response = FileResponse(
        stored.path,
        media_type=stored.content_type,
        filename=stored.filename,
        content_disposition_type=disposition,
        headers={"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )
    if "content-disposition" not in response.headers:  # Starlette sets it only with a filename
        response.headers["Content-Disposition"] = disposition
    return response
