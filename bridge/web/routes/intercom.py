"""Intercom's webhooks: agents' replies to send, conversation state to track, contacts deleted."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from bridge.conversations.threads import ThreadStore
from bridge.core.errors import ProviderDisabled
from bridge.intercom import webhooks
from bridge.replies.deletions import DeletedContacts
from bridge.replies.events import handle_notification
from bridge.replies.ledger import ReplyLedger
from bridge.web.deps import IntakeDep, RedisDep, SettingsDep
from bridge.web.routes.webhooks import read_webhook

router = APIRouter(tags=["intercom"])


@router.head("/intercom/webhooks")
@router.post("/intercom/webhooks")
async def intercom_webhook(
    request: Request, settings: SettingsDep, redis_client: RedisDep, intake: IntakeDep
) -> Response:
    """Intercom's notifications (signed with X-Hub-Signature); HEAD answers Intercom's URL check."""
    if request.method == "HEAD":
        return Response(status_code=200)
    if settings.intercom_client_secret is None:
        raise ProviderDisabled(
            "Intercom webhooks are not configured: set INTERCOM_CLIENT_SECRET to verify them"
        )
    body = (await read_webhook(request, settings)).body
    webhooks.verify(
        body, request.headers.get("x-hub-signature"), secret=settings.secret("intercom_client_secret")
    )
    notification = webhooks.parse(body)
    outcome = await handle_notification(
        notification,
        threads=ThreadStore(redis_client),
        replies=ReplyLedger(redis_client, settings),
        batcher=intake.batcher,
        settings=settings,
        now=time.time(),
        deletions=DeletedContacts(redis_client, settings),
    )
    return JSONResponse({"status": "ok", **outcome.to_json()})
