"""Intercom's inbox app (Canvas Kit): "Merge with existing user/lead" beside the conversation.

Each request is signed with `X-Body-Signature`: the hex HMAC-SHA256 of the raw body keyed by the
app's client secret (no prefix; research/intercom-api.md §5.3). An agent is waiting for the
canvas, so the Intercom calls happen here, on a worker thread (the client is synchronous).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
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
from bridge.intercom.client import IntercomClient
from bridge.web.deps import RedisDep, SettingsDep
from bridge.web.routes.webhooks import read_webhook

router = APIRouter(tags=["inbox app"])
SIGNATURE_HEADER = "X-Body-Signature"
INTERACTIVE_WAIT_SECONDS = 3.0  # longest wait for an Intercom call slot or a 429 window


@router.post("/intercom/inbox-app/initialize")
async def initialize(request: Request, settings: SettingsDep, redis_client: RedisDep) -> JSONResponse:
    """The first canvas: the conversation's contact, its other candidates, and a field to find any contact."""
    payload = await _verified_payload(request, settings)
    return JSONResponse(
        await run_in_threadpool(_run, settings, redis_client, lambda app: app.initialize(payload))
    )


@router.post("/intercom/inbox-app/submit")
async def submit(request: Request, settings: SettingsDep, redis_client: RedisDep) -> JSONResponse:
    """The next canvas after an agent's click: preview, confirm, outcome."""
    payload = await _verified_payload(request, settings)
    return JSONResponse(
        await run_in_threadpool(_run, settings, redis_client, lambda app: app.submit(payload))
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
    settings: Settings, redis_client: Redis, step: Callable[[InboxApp], dict[str, Any]]
) -> dict[str, Any]:
    # An agent is waiting and Intercom gives a canvas request a few seconds: a short wait for a
    # budget slot and for 429 windows, then the canvas says "try again" (`InboxApp._guarded`).
    interactive = RetryPolicy(backoff=settings.http_backoff, max_wait=INTERACTIVE_WAIT_SECONDS)
    with IntercomClient.from_settings(
        settings, redis_client=redis_client, policy=interactive, budget_wait=INTERACTIVE_WAIT_SECONDS
    ) as intercom:
        return step(InboxApp(redis_client=redis_client, intercom=intercom, settings=settings))
