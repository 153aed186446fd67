"""Attachments the bridge links in Intercom, by unguessable token, as data and never as a page.

Most attachments are handed to Intercom as files and never served here; only those linked
instead (too large for Intercom, or refused by it: `bridge.conversations.media`) are, until they
expire. Any other token answers 404, as an unknown one does.

The bytes are a customer's (or whoever posted the webhook): whatever they are, they must not run
on the bridge's origin. So every answer forbids the browser to guess a type (`nosniff`), to load
anything or to run anything (`default-src 'none'; sandbox`, which also gives the document an
opaque origin), and only the types `bridge.model.media_types` allows are shown inline; every other
one is offered as a download.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, JSONResponse

from bridge.conversations.media import MediaStore

router = APIRouter(tags=["media"])

# On every /media answer, the 404 included.
DATA_ONLY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "X-Content-Type-Options": "nosniff",
}


# `:path`: every GET below /media/ is answered here, with the headers above, even `/media/a/b`.
@router.get("/media/{token:path}")
def serve_media(token: str, request: Request) -> Response:
    """An attachment a provider sent, linked in Intercom; 404 once expired."""
    store: MediaStore = request.app.state.media
    stored = store.served(token)
    if stored is None:
        return JSONResponse(
            {"detail": "no such media (unknown or expired)"}, status_code=404, headers=DATA_ONLY_HEADERS
        )
    disposition = "inline" if stored.inline else "attachment"
    response = FileResponse(
        stored.path,
        media_type=stored.content_type,
        filename=stored.filename,
        content_disposition_type=disposition,
        headers={"Cache-Control": "private, max-age=3600", **DATA_ONLY_HEADERS},
    )
    if "content-disposition" not in response.headers:  # Starlette sets it only with a filename
        response.headers["Content-Disposition"] = disposition
    return response
