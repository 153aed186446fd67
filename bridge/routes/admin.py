"""The ops API: `Authorization: Bearer $BRIDGE_ADMIN_TOKEN`; off (404) when no token is set."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from bridge.deps import AdminDep, RedisDep
from bridge.merges import MergeAudit

router = APIRouter(prefix="/admin", tags=["ops"])


@router.get("/merges")
def list_merges(
    _: AdminDep, redis_client: RedisDep, limit: int = Query(100, ge=1, le=1000)
) -> dict[str, Any]:
    """Every merge attempt from the inbox app, newest first: who, when, from, into, outcome, snapshots."""
    return {"merges": MergeAudit(redis_client).recent(limit)}
