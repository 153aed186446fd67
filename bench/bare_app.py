"""The baseline for `bench/ingest.py`: a bare FastAPI endpoint at the bridge's Twilio URL.

It reads the body and answers the same empty TwiML the bridge does, and nothing else: no
signature check, no storage, no middleware. What the bridge's intake costs is the difference.

    uvicorn bare_app:app --app-dir bench
"""

from __future__ import annotations

from fastapi import FastAPI, Request, Response

from bridge.providers.twilio.adapter import EMPTY_TWIML

app = FastAPI(title="bare webhook endpoint")


@app.post("/webhooks/twilio")
async def receive(request: Request) -> Response:
    await request.body()
    return Response(EMPTY_TWIML, media_type="text/xml")
