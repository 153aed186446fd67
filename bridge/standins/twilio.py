"""Twilio's REST API, as much of it as the bridge uses: media downloads (and sends)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from bridge.standins.state import StandInState, basic_ok


def router(state: StandInState) -> APIRouter:
    api = APIRouter()

    @api.get("/2010-04-01/Accounts/{account}/Messages/{message}/Media/{media_id}")
    async def media(account: str, message: str, media_id: str, request: Request) -> Response:
        # Twilio's "HTTP Basic Authentication for media access" setting: account SID + auth token.
        if state.require_auth and not basic_ok(request, state.twilio_account_sid, state.twilio_auth_token):
            return JSONResponse({"code": 20003, "message": "Authenticate", "status": 401}, status_code=401)
        return serve_media(state, media_id)

    return api


def serve_media(state: StandInState, media_id: str) -> Response:
    stored = state.media.get(media_id)
    if stored is None:
        return JSONResponse({"message": "not found"}, status_code=404)
    if stored.status != 200:
        return JSONResponse({"message": "failing on purpose"}, status_code=stored.status)
    return Response(stored.content, media_type=stored.content_type)
