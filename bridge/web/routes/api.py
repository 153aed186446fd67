"""The message API: the team writes first (`Authorization: Bearer $BRIDGE_API_TOKEN`; off, 404).

Thin over `bridge.outreach`: the routes read the request, hand it over, and answer with what it
decided. A message is accepted (202) once it is stored and queued; a worker sends it. Refusals
(`Refusal`) answer with the field at fault and the reason, turned into JSON by the app.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from bridge.core.errors import MalformedPayload
from bridge.core.json_payloads import parse_json
from bridge.outreach.requests import Refusal, read_request
from bridge.web.deps import ApiDep, OutreachDep

router = APIRouter(prefix="/api", tags=["messages"])


@router.post("/messages", status_code=202)
async def send_message(_: ApiDep, request: Request, outreach: OutreachDep) -> JSONResponse:
    """Send a message to a customer first: SMS or WhatsApp, text, media or a template.

    Body: `to`, `channel` (`sms`, `whatsapp`), `provider`, `from`, `text`, `media_urls`,
    `template` (`name`, `language`, `variables`, `header`), `intercom_contact_id`, `admin_id`,
    `idempotency_key` (or the `Idempotency-Key` header). 202 with the message; 4xx with
    `{"error": {"field", "reason"}}`."""
    try:
        data = parse_json(await request.body())
    except MalformedPayload as unreadable:
        raise Refusal(400, unreadable.reason) from None
    message = read_request(data, idempotency_header=request.headers.get("idempotency-key"))
    stored = await run_in_threadpool(outreach.accept, message, source="api")
    return JSONResponse(outreach.view(stored.entry), status_code=202)


@router.get("/messages/{message_id}")
async def get_message(_: ApiDep, message_id: str, outreach: OutreachDep) -> dict[str, Any]:
    """A message and where it stands: queued, sent, delivered, read, failed or blocked."""
    described = await run_in_threadpool(outreach.describe, message_id)
    if described is None:
        raise HTTPException(404, f"no message {message_id!r}")
    return described


@router.get("/templates")
async def list_templates(_: ApiDep, outreach: OutreachDep, provider: str | None = None) -> dict[str, Any]:
    """The approved WhatsApp templates of every configured provider that lists them (or of
    `provider`), with what a send needs: name, language, variables, header. A provider that
    could not be asked is named under `errors`, the others still listed."""
    try:
        listing = await run_in_threadpool(outreach.catalog.approved, provider)
    except LookupError as unknown:
        raise Refusal(422, str(unknown), field="provider") from None
    return listing.to_json()
