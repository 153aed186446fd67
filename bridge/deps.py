"""FastAPI dependencies, as `Annotated` aliases so route signatures read like prose."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from redis import Redis

from bridge.ledger import InboundLedger
from bridge.providers import ProviderAdapter
from bridge.settings import Settings
from bridge.statuses import StatusLedger


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _redis(request: Request) -> Redis:
    client: Redis = request.app.state.redis
    return client


def _ledger(request: Request) -> InboundLedger:
    ledger: InboundLedger = request.app.state.ledger
    return ledger


def _status_ledger(request: Request) -> StatusLedger:
    ledger: StatusLedger = request.app.state.status_ledger
    return ledger


def _adapters(request: Request) -> dict[str, ProviderAdapter]:
    adapters: dict[str, ProviderAdapter] = request.app.state.adapters
    return adapters


SettingsDep = Annotated[Settings, Depends(_settings)]
StatusLedgerDep = Annotated[StatusLedger, Depends(_status_ledger)]
AdaptersDep = Annotated[dict[str, ProviderAdapter], Depends(_adapters)]
RedisDep = Annotated[Redis, Depends(_redis)]
LedgerDep = Annotated[InboundLedger, Depends(_ledger)]
