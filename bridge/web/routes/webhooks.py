"""Provider webhooks: verify, store as it arrived, then acknowledge. Nothing is parsed here and no
Intercom call happens: a worker reads the stored request (`bridge.intake.raw`)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute

from bridge.core import metrics
from bridge.core.errors import (
    MethodNotAllowed,
    ProviderDisabled,
    UnknownProvider,
    WebhookRejected,
)
from bridge.core.metrics import WebhookKind, refusal_outcome
from bridge.core.settings import Settings
from bridge.intake.edge import Intake, webhook_tally
from bridge.intake.ledger import RawPayload
from bridge.intake.signatures import verify_signature
from bridge.providers.base import Acknowledgement, ProviderAdapter, WebhookRequest


class _ProviderRoute(APIRoute):
    """A webhook route without FastAPI's per-request machinery (dependency solving, parameter
    validation, response serialization): the handler takes only the `provider` path parameter and
    the request, and answers a `Response`, so it is called directly. The route still describes
    itself to OpenAPI from the handler's signature. These routes take every provider's traffic,
    and that machinery was a quarter of the web process's work per webhook (`bench/ingest.py`)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint = self.endpoint

        async def handle(request: Request) -> Response:
            response: Response = await endpoint(request.path_params["provider"], request)
            return response

        return handle


router = APIRouter(tags=["webhooks"], route_class=_ProviderRoute)


@router.head("/webhooks/{provider}")
@router.get("/webhooks/{provider}")
@router.post("/webhooks/{provider}")
async def receive_webhook(provider: str, request: Request) -> Response:
    """Accept a provider's inbound messages; answer only once the request is stored."""
    return await _receive(provider, request, WebhookKind.INBOUND)


@router.head("/webhooks/{provider}/status")
@router.get("/webhooks/{provider}/status")
@router.post("/webhooks/{provider}/status")
async def receive_status(provider: str, request: Request) -> Response:
    """Accept a provider's delivery reports for messages the bridge sent."""
    return await _receive(provider, request, WebhookKind.STATUS)


async def _receive(provider: str, request: Request, kind: WebhookKind) -> Response:
    """Both routes, told apart by `kind`: the methods the provider may call with, the parser a
    log-only request must pass, and the handshake (Meta's `hub.challenge`), which only the inbound
    URL answers."""
    intake = _intake(request)
    settings = intake.settings
    adapter = _adapter(intake.adapters, provider, settings)
    if request.method == "HEAD":  # the provider checking the URL before it registers it
        return Response(status_code=200)
    inbound = kind is WebhookKind.INBOUND
    _check_method(adapter, request.method, adapter.methods if inbound else adapter.status_methods)
    webhook = await read_webhook(request, settings)
    handshake = adapter.handshake(webhook, settings) if inbound else None
    if handshake is not None:
        return _answer(handshake)
    await _store(intake, adapter, request, webhook, settings, kind)
    return _answer(adapter.acknowledge())


def _intake(request: Request) -> Intake:
    """The app's intake. Not a FastAPI dependency, unlike the other routes' (`bridge.web.deps`):
    resolving one per request costs the web process about as much as the signature check, and
    these routes take every provider's traffic (`bench/ingest.py`)."""
    intake: Intake = request.app.state.intake
    return intake


async def _store(
    intake: Intake,
    adapter: ProviderAdapter,
    request: Request,
    webhook: WebhookRequest,
    settings: Settings,
    kind: WebhookKind,
) -> None:
    """Verify, then store the request as it arrived; a worker reads it (`bridge.intake.raw`).

    Under BRIDGE_SIGNATURE_MODE=log-only a request whose signature failed is taken only if it can
    be read here: an unverified request that is not even the provider's format is refused (400).
    """
    verified = verify_signature(adapter, webhook, settings)
    if not verified:
        if kind is WebhookKind.STATUS:
            adapter.parse_statuses(webhook, settings)
        else:
            adapter.parse(webhook, settings)
    tally = webhook_tally(adapter.name, kind, verified=verified)
    await intake.store_raw(
        adapter.name, _raw(request, webhook), received_at=webhook.received_at, verified=verified, tally=tally
    )


def _raw(request: Request, webhook: WebhookRequest) -> RawPayload:
    return RawPayload(
        content_type=webhook.headers.get("content-type", ""),
        body=webhook.body.decode("utf-8", "replace"),
        path=request.url.path,
        query=_without_secrets(webhook.query),
        method=webhook.method,
    )


_KINDS = {"/webhooks/{provider}": WebhookKind.INBOUND, "/webhooks/{provider}/status": WebhookKind.STATUS}


def count_rejection(request: Request, refused: WebhookRejected) -> None:
    """Count a provider webhook the bridge refused (the app's handler for `WebhookRejected` calls
    this for every route; only the provider routes' refusals are counted, and only for a known
    provider: an unknown one's name is whatever path was asked for)."""
    kind = _KINDS.get(getattr(request.scope.get("route"), "path", ""))
    provider = request.path_params.get("provider", "")
    outcome = refusal_outcome(refused)
    if kind is not None and outcome is not None and provider in request.app.state.adapters:
        metrics.current().webhook(provider, kind, outcome)


def _adapter(adapters: Mapping[str, ProviderAdapter], provider: str, settings: Settings) -> ProviderAdapter:
    """The provider's adapter if it is configured; a 404 with the reason otherwise."""
    adapter = adapters.get(provider)
    if adapter is None:
        raise UnknownProvider(f"unknown provider {provider!r}")
    disabled = adapter.disabled_reason(settings)
    if disabled:
        raise ProviderDisabled(disabled)
    return adapter


def _check_method(adapter: ProviderAdapter, method: str, allowed: frozenset[str]) -> None:
    if method not in allowed:
        raise MethodNotAllowed(
            f"{adapter.name} does not call this URL with {method}",
            headers={"Allow": ", ".join(sorted(allowed))},
        )


def _without_secrets(query: str) -> str:
    return urlencode(
        [(name, value) for name, value in parse_qsl(query, keep_blank_values=True) if name != "token"]
    )


def _answer(ack: Acknowledgement) -> Response:
    return Response(ack.body, status_code=ack.status, media_type=ack.media_type, headers=dict(ack.headers))


async def read_webhook(request: Request, settings: Settings) -> WebhookRequest:
    """The request as the provider sent it: raw body and the URL it called. The body is at most
    `BRIDGE_MAX_BODY_BYTES`: `bridge.web.body_limit` raises `PayloadTooLarge` while it is read."""
    body = await request.body()
    return WebhookRequest(
        method=request.method,
        url=public_url(request, settings),
        headers=request.headers,
        query=request.url.query,
        body=body,
        received_at=datetime.now(UTC),
    )


def public_url(request: Request, settings: Settings) -> str:
    """The URL the provider called. Behind a proxy the app sees another host or scheme, and
    providers sign the URL they called, so it is rebuilt from `BRIDGE_PUBLIC_URL`."""
    if not settings.public_url:
        return str(request.url)
    query = f"?{request.url.query}" if request.url.query else ""
    return f"{settings.public_url.rstrip('/')}{request.url.path}{query}"
