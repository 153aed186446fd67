"""FastAPI dependencies, as `Annotated` aliases so route signatures read like prose.

Each is `async def` although none awaits: FastAPI runs a plain `def` dependency in its thread
pool, and the hops to a thread and back took an eighth of the web process's time under load
(`bench/ingest.py`).
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from pydantic import SecretStr
from redis import Redis

from bridge.core.settings import Settings
from bridge.intake.edge import Intake
from bridge.outreach.accept import Outreach
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


def _bearer(request: Request, token: SecretStr | None, *, off: str) -> None:
    """A bearer-token check: 404 saying how to turn the API on when `token` is unset; a
    constant-time comparison otherwise."""
    if token is None:
        raise HTTPException(404, off)
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    expected = token.get_secret_value()
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected.encode()):
        raise HTTPException(
            401, "a valid Authorization: Bearer token is required", headers={"WWW-Authenticate": "Bearer"}
        )


async def _admin(request: Request) -> None:
    """The ops API's check (`BRIDGE_ADMIN_TOKEN`)."""
    settings: Settings = request.app.state.settings
    _bearer(request, settings.admin_token, off="the ops API is off: set BRIDGE_ADMIN_TOKEN to enable it")


async def _api(request: Request) -> None:
    """The message API's check (`BRIDGE_API_TOKEN`)."""
    settings: Settings = request.app.state.settings
    _bearer(request, settings.api_token, off="the message API is off: set BRIDGE_API_TOKEN to enable it")


async def _outreach(request: Request) -> Outreach:
    outreach: Outreach = request.app.state.outreach
    return outreach


SettingsDep = Annotated[Settings, Depends(_settings)]
AdminDep = Annotated[None, Depends(_admin)]
ApiDep = Annotated[None, Depends(_api)]
OutreachDep = Annotated[Outreach, Depends(_outreach)]
AdaptersDep = Annotated[dict[str, ProviderAdapter], Depends(_adapters)]
RedisDep = Annotated[Redis, Depends(_redis)]
IntakeDep = Annotated[Intake, Depends(_intake)]
