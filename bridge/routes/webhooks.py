"""Provider webhooks: verify, store, queue, then acknowledge. No Intercom call happens here."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from bridge.deps import LedgerDep, SettingsDep
from bridge.errors import PayloadTooLarge
from bridge.ledger import RawPayload
from bridge.providers import WebhookRequest, get_adapter
from bridge.settings import Settings

router = APIRouter(tags=["webhooks"])


@router.post("/webhooks/{provider}")
async def receive_webhook(
    provider: str, request: Request, settings: SettingsDep, ledger: LedgerDep
) -> Response:
    """Accept a provider's inbound messages; answer only once every one of them is stored."""
    adapter = get_adapter(provider)
    if adapter is None:
        return JSONResponse({"detail": f"unknown provider {provider!r}"}, status_code=404)
    disabled = adapter.disabled_reason(settings)
    if disabled:
        return JSONResponse({"detail": disabled}, status_code=404)
    webhook = await read_webhook(request, settings)
    adapter.verify(webhook, settings)
    messages = adapter.parse(webhook, settings)
    raw = RawPayload(
        content_type=webhook.content_type, body=webhook.body.decode("utf-8", "replace"), path=request.url.path
    )
    for message in messages:
        ledger.accept(message, raw)
    ack = adapter.acknowledge()
    return Response(ack.body, status_code=ack.status, media_type=ack.media_type, headers=dict(ack.headers))


async def read_webhook(request: Request, settings: Settings) -> WebhookRequest:
    """The request as the provider sent it: raw body (size-capped) and the URL it called."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > settings.max_body_bytes:
        raise PayloadTooLarge(f"the body is larger than {settings.max_body_bytes} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > settings.max_body_bytes:
            raise PayloadTooLarge(f"the body is larger than {settings.max_body_bytes} bytes")
    return WebhookRequest(
        method=request.method,
        url=public_url(request, settings),
        headers=request.headers,
        query=request.url.query,
        body=bytes(body),
        received_at=datetime.now(UTC),
    )


def public_url(request: Request, settings: Settings) -> str:
    """The URL the provider called. Behind a proxy the app sees another host or scheme, and
    providers sign the URL they called, so it is rebuilt from `BRIDGE_PUBLIC_URL`."""
    if not settings.public_url:
        return str(request.url)
    query = f"?{request.url.query}" if request.url.query else ""
    return f"{settings.public_url.rstrip('/')}{request.url.path}{query}"
