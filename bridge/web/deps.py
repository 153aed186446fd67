"""FastAPI dependencies, as `Annotated` aliases so route signatures read like prose.

Each is `async def` although none awaits: FastAPI runs a plain `def` dependency in its thread
pool, and the hops to a thread and back took an eighth of the web process's time under load
(`bench/ingest.py`).
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from redis import Redis

from bridge.core.settings import Settings
from bridge.intake.edge import Intake
from bridge.providers.base import ProviderAdapter


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _redis(request: Request) -> Redis:
    client: Redis = request.app.state.redis
    return client


async def _intake(request: Request) -> Intake:
    intake: Intake = request.app.state.intake
    return intake


async def _adapters(request: Request) -> dict[str, ProviderAdapter]:
    adapters: dict[str, ProviderAdapter] = request.app.state.adapters
    return adapters


async def _admin(request: Request) -> None:
    """The ops API's check: off without BRIDGE_ADMIN_TOKEN; a constant-time bearer comparison."""
    settings: Settings = request.app.state.settings
    if settings.admin_token is None:
        raise HTTPException(404, "the ops API is off: set BRIDGE_ADMIN_TOKEN to enable it")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    expected = settings.admin_token.get_secret_value()
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected.encode()):
        raise HTTPException(
            401, "a valid Authorization: Bearer token is required", headers={"WWW-Authenticate": "Bearer"}
        )


SettingsDep = Annotated[Settings, Depends(_settings)]
AdminDep = Annotated[None, Depends(_admin)]
AdaptersDep = Annotated[dict[str, ProviderAdapter], Depends(_adapters)]
RedisDep = Annotated[Redis, Depends(_redis)]
IntakeDep = Annotated[Intake, Depends(_intake)]
