"""The ASGI application: `uvicorn bridge.app:app`. This module only assembles."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from bridge import __version__
from bridge.conversations.media import media_store
from bridge.core import metrics
from bridge.core.errors import ConfigurationError, NotDurable, StorageUnavailable, WebhookRejected
from bridge.core.logs import configure_logging, route_server_logs, secret_values
from bridge.core.settings import Settings, get_settings
from bridge.core.tls import tls_context
from bridge.infra.connection import async_redis_client, redis_client
from bridge.infra.durability import Durability
from bridge.infra.metrics import redis_metrics
from bridge.intake.edge import Intake
from bridge.ops.retention import sweep_media
from bridge.outreach.accept import Outreach
from bridge.outreach.catalog import LISTING_TIMEOUT
from bridge.outreach.requests import Refusal
from bridge.providers.base import ProviderAdapter
from bridge.providers.registry import ADAPTERS
from bridge.runtime.embedded import resolve_redis
from bridge.web.body_limit import BodyLimitMiddleware
from bridge.web.request_id import RequestIdMiddleware
from bridge.web.routes import admin, api, health, inbox_app, intercom, media, webhooks
from bridge.web.routes import metrics as metrics_route

log = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None, *, adapters: Iterable[ProviderAdapter] | None = None
) -> FastAPI:
    """The bridge's web app; `settings` default to the environment's, `adapters` to every provider."""
    settings = settings or get_settings()
    secrets = secret_values(settings)
    # Run as plain `uvicorn bridge.app:app`, nobody configured logging, and uvicorn imports the
    # app before its first line ("Started server process"): configured here, that line is
    # already in the bridge's format.
    if not logging.getLogger().handlers:
        configure_logging(secrets=secrets, log_format=settings.log_format)
        route_server_logs(secrets)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Again: a server configured after the app was made (tests, benchmarks) has just given
        # uvicorn's loggers handlers of their own.
        route_server_logs(secrets)
        url, embedded = resolve_redis(settings)
        client = redis_client(url)
        app.state.redis = client
        # What a webhook's answer waits for (BRIDGE_ACK_AFTER): `fsync` by default on the embedded server.
        durability = Durability.required(settings, embedded=embedded is not None)
        async_client = async_redis_client(url, wait_ms=durability.timeout_ms if durability else 0)
        app.state.intake = Intake(client, async_client, settings, app.state.adapters, durability=durability)
        # The message API's client for the providers' template lists (`bridge.outreach.catalog`).
        provider_http = httpx.Client(timeout=LISTING_TIMEOUT, verify=tls_context())
        app.state.outreach = Outreach(client, settings, app.state.adapters, provider_http)
        sweeper = asyncio.create_task(sweep_media(app.state.media), name="media-sweep")
        # What exists by now (modules, the app, its clients) lives as long as the process: kept
        # out of the cycle collector's full passes, which would scan all of it again and again,
        # stalling every request in flight for tens of milliseconds (`bench/ingest.py`).
        gc.collect()
        gc.freeze()
        try:
            with metrics.installed(redis_metrics(client)):
                yield
        finally:
            gc.unfreeze()
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            await app.state.intake.batcher.aclose()
            provider_http.close()
            client.close()
            if embedded is not None:
                embedded.stop()

    app = FastAPI(
        title="bridge",
        version=__version__,
        summary="SMS and WhatsApp providers <-> Intercom conversations",
        lifespan=lifespan,
    )
    app.state.settings = settings
    # Inside the request id's middleware, so a 413 carries the id too.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestIdMiddleware)
    app.state.media = media_store(settings.data_dir, settings.retention_days)
    app.state.adapters = {
        adapter.name: adapter for adapter in (adapters if adapters is not None else ADAPTERS.values())
    }
    # The providers' webhooks first: routes are matched in order, and they are nearly every request.
    app.include_router(webhooks.router)
    app.include_router(health.router)
    app.include_router(media.router)
    app.include_router(intercom.router)
    app.include_router(inbox_app.router)
    app.include_router(admin.router)
    app.include_router(api.router)
    app.include_router(metrics_route.router)

    @app.exception_handler(WebhookRejected)
    async def rejected(request: Request, exc: WebhookRejected) -> JSONResponse:
        webhooks.count_rejection(request, exc)
        return JSONResponse({"detail": exc.reason}, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(Refusal)
    async def refused(request: Request, exc: Refusal) -> JSONResponse:
        return JSONResponse(exc.to_json(), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own handler echoes each invalid value back, and a JSON body may carry
        # Infinity or NaN (Python's parser takes them) that no JSON answer can hold: a 500. The
        # field and the problem are enough; the request is not repeated.
        errors = [{key: value for key, value in error.items() if key != "input"} for error in exc.errors()]
        return JSONResponse({"detail": jsonable_encoder(errors)}, status_code=422)

    @app.exception_handler(ConfigurationError)
    async def misconfigured(request: Request, exc: ConfigurationError) -> JSONResponse:
        # A setting this request needs is missing or disagrees with the deployment's (e.g. a
        # BRIDGE_FORGET_SECRET other than the one the opt-outs were hashed with): the operator
        # must act, and the caller may retry once they have. Never a 500.
        log.error("request refused, the configuration is incomplete: %s", exc)
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "60"})

    @app.exception_handler(StorageUnavailable)
    async def storage_unavailable(request: Request, exc: StorageUnavailable) -> JSONResponse:
        # Never 2xx for a message that was not stored, or not as durably as BRIDGE_ACK_AFTER asks:
        # the provider must retry.
        if isinstance(exc, NotDurable):
            log.error("webhook stored but not acknowledged: %s", exc)
            detail = "storage could not confirm the message durable in time; retry later"
        else:
            log.error("webhook not stored: %s", exc)
            detail = "storage is unavailable; the message was not stored, retry later"
        return JSONResponse(
            {"detail": detail},
            status_code=503,
            headers={"Retry-After": "5"},
        )

    return app


app = create_app()
