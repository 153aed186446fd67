"""FastAPI dependencies, as `Annotated` aliases so route signatures read like prose."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from redis import Redis

from bridge.ledger import InboundLedger
from bridge.settings import Settings


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _redis(request: Request) -> Redis:
    client: Redis = request.app.state.redis
    return client


def _ledger(request: Request) -> InboundLedger:
    ledger: InboundLedger = request.app.state.ledger
    return ledger


SettingsDep = Annotated[Settings, Depends(_settings)]
RedisDep = Annotated[Redis, Depends(_redis)]
LedgerDep = Annotated[InboundLedger, Depends(_ledger)]
