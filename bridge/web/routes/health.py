"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from bridge.infra.heartbeats import readiness
from bridge.web.deps import RedisDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(redis_client: RedisDep) -> JSONResponse:
    """Ready to work: Redis answers and a worker heartbeated recently, so accepted messages will
    be delivered; 503 says which is missing."""
    ready = readiness(redis_client)
    return JSONResponse(ready.to_json(), status_code=200 if ready.ready else 503)
