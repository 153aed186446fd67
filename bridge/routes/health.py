"""Liveness and readiness."""

from __future__ import annotations

import redis
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from bridge.deps import RedisDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(redis_client: RedisDep) -> JSONResponse:
    """Ready to accept webhooks: Redis answers."""
    try:
        redis_client.ping()
    except redis.RedisError as exc:
        return JSONResponse({"status": "unavailable", "redis": type(exc).__name__}, status_code=503)
    return JSONResponse({"status": "ok", "redis": "ok"})
