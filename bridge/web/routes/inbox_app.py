"""Intercom's inbox app (Canvas Kit): "Merge with existing user/lead" and "Send SMS / WhatsApp"
beside the conversation.

Each request is signed with `X-Body-Signature`: the hex HMAC-SHA256 of the raw body keyed by the
app's client secret (no prefix; research/intercom-api.md §5.3). An agent is waiting for the
canvas, so the Intercom calls happen here, on a worker thread (the client is synchronous). What
the send panel asks for (send a message, show one) is done here with the app's `Outreach`: the
inbox package never loads the job queue.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from redis import Redis

from bridge.core.errors import ProviderDisabled
from bridge.core.json_payloads import parse_json_object
from bridge.core.retrying import RetryPolicy
from bridge.core.settings import Settings
from bridge.core.signing import verify_hmac_header
from bridge.inbox.panel import InboxApp
from bridge.inbox.send_panel import Answer, SendMessage, ShowMessage
from bridge.intercom.client import IntercomClient
from bridge.outreach.accept import Outreach
from bridge.outreach.requests import Refusal
from bridge.providers.base import ProviderAdapter
from bridge.web.deps import AdaptersDep, OutreachDep, RedisDep, SettingsDep
from bridge.web.routes.webhooks import read_webhook

router = APIRouter(tags=["inbox app"])
SIGNATURE_HEADER = "X-Body-Signature"
INTERACTIVE_WAIT_SECONDS = 3.0  # longest wait for an Intercom call slot or a 429 window


@router.post("/intercom/inbox-app/initialize")
async def initialize(
    request: Request,
    settings: SettingsDep,
    redis_client: RedisDep,
    adapters: AdaptersDep,
    outreach: OutreachDep,
) -> JSONResponse:
    """The first canvas: the conversation's contact, its other candidates, a field to find any
    contact, and Send SMS / WhatsApp."""
    payload = await _verified_payload(request, settings)
    return JSONResponse(
        await run_in_threadpool(
            _run, settings, redis_client, adapters, outreach, lambda inbox: inbox.initialize(payload)
        )
    )


@router.post("/intercom/inbox-app/submit")
async def submit(
    request: Request,
    settings: SettingsDep,
    redis_client: RedisDep,
    adapters: AdaptersDep,
    outreach: OutreachDep,
) -> JSONResponse:
    """The next canvas after an agent's click: preview, confirm, outcome; the send panel's steps."""
    payload = await _verified_payload(request, settings)
    return JSONResponse(
        await run_in_threadpool(
            _run, settings, redis_client, adapters, outreach, lambda inbox: inbox.submit(payload)
        )
    )


async def _verified_payload(request: Request, settings: Settings) -> dict[str, Any]:
    if settings.intercom_client_secret is None:
        raise ProviderDisabled(
            "the inbox app is not configured: set INTERCOM_CLIENT_SECRET to verify its requests"
        )
    body = (await read_webhook(request, settings)).body
    verify_hmac_header(
        request.headers.get(SIGNATURE_HEADER.lower()),
        header=SIGNATURE_HEADER,
        secret=settings.secret("intercom_client_secret"),
        body=body,
        digest=hashlib.sha256,
    )
    return parse_json_object(body)


def _run(
    settings: Settings,
    redis_client: Redis,
    adapters: Mapping[str, ProviderAdapter],
    outreach: Outreach,
    step: Callable[[InboxApp], Answer],
) -> dict[str, Any]:
    # An agent is waiting and Intercom gives a canvas request a few seconds: a short wait for a
    # budget slot and for 429 windows, then the canvas says "try again" (`InboxApp._guarded`).
    interactive = RetryPolicy(backoff=settings.http_backoff, max_wait=INTERACTIVE_WAIT_SECONDS)
    with IntercomClient.from_settings(
        settings, redis_client=redis_client, policy=interactive, budget_wait=INTERACTIVE_WAIT_SECONDS
    ) as intercom:
        inbox = InboxApp(
            redis_client=redis_client,
            intercom=intercom,
            settings=settings,
            adapters=adapters,
            catalog=outreach.catalog,
        )
        return _carry_out(inbox, outreach, step(inbox))


def _carry_out(inbox: InboxApp, outreach: Outreach, answer: Answer) -> dict[str, Any]:
    """The canvas, once what the send panel asked for is done: a message accepted (or refused),
    or one described."""
    if isinstance(answer, SendMessage):
        try:
            stored = outreach.accept(answer.message, source="inbox")
        except Refusal as refusal:
            return inbox.refused(answer, refusal)
        return inbox.sent(answer, outreach.view(stored.entry))
    if isinstance(answer, ShowMessage):
        return inbox.shown(answer, outreach.describe(answer.message_id))
    return answer
