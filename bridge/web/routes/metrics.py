"""Prometheus metrics: the whole bridge's, from any web process."""

from __future__ import annotations

import redis
from fastapi import APIRouter, Response

from bridge.ops.metrics_export import CONTENT_TYPE, render
from bridge.web.deps import RedisDep

router = APIRouter(tags=["health"])


@router.get("/metrics", response_class=Response)
def metrics(redis_client: RedisDep) -> Response:
    """Prometheus text format. Open like /healthz: it carries counts by provider, queue and
    outcome, never a phone number, an id or a secret."""
    try:
        body = render(redis_client)
    except redis.RedisError as exc:
        # Not a partial scrape: Prometheus records the target as down.
        return Response(f"Redis does not answer: {type(exc).__name__}\n", status_code=503)
    return Response(body, media_type=CONTENT_TYPE)
