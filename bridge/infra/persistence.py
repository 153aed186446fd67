"""Rewriting Redis's own files, so data deleted from memory leaves the disk too.

Deleting a key removes it from memory, but Redis's append-only file still holds every write that
made it, and an RDB snapshot the value itself, until the next rewrite: for weeks on a quiet
deployment (the embedded server rewrites its file only once it has doubled). Forgetting a person
(`bridge.ops.forget`) therefore asks for the rewrites itself, once everything is deleted, and
waits for them: `BGREWRITEAOF` where the append-only file is on, `BGSAVE` where RDB snapshots
are configured. A managed Redis may refuse either command; that is reported, not raised, since
its own snapshots and backups are the provider's (and roll over on their own schedule).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import redis
from redis import Redis

REWRITE_TIMEOUT_SECONDS = 120.0
_POLL_SECONDS = 0.05


def rewrite_files(
    client: Redis, *, timeout: float = REWRITE_TIMEOUT_SECONDS, sleep: Callable[[float], None] = time.sleep
) -> str:
    """Rewrite the server's append-only file and snapshot as it keeps them, and wait; what was done."""
    try:
        persistence = client.info("persistence")
    except redis.ResponseError as refused:
        return f"Redis's files were not rewritten (INFO refused: {refused})"
    done: list[str] = []
    try:
        if int(persistence.get("aof_enabled", 0)):
            _wait(client, "aof_rewrite_in_progress", timeout, sleep)
            client.bgrewriteaof()
            _wait(client, "aof_rewrite_scheduled", timeout, sleep)
            _wait(client, "aof_rewrite_in_progress", timeout, sleep)
            done.append("append-only file rewritten")
        if _snapshots_configured(client):
            _wait(client, "rdb_bgsave_in_progress", timeout, sleep)
            client.bgsave()
            _wait(client, "rdb_bgsave_in_progress", timeout, sleep)
            done.append("snapshot written again")
    except (redis.ResponseError, TimeoutError) as failed:
        return (
            f"Redis's files were not all rewritten ({failed}); they keep old writes until their next rewrite"
        )
    return "Redis: " + ", ".join(done) if done else "Redis keeps no files here (no AOF, no snapshots)"


def _snapshots_configured(client: Redis) -> bool:
    try:
        save = client.config_get("save").get("save", "")
    except redis.ResponseError:  # CONFIG refused (a managed Redis): its snapshots are the provider's
        return False
    return bool(str(save).strip())


def _wait(client: Redis, flag: str, timeout: float, sleep: Callable[[float], None]) -> None:
    """Until INFO persistence's `flag` is 0."""
    deadline = time.monotonic() + timeout
    while int(client.info("persistence").get(flag, 0)):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{flag} still set after {timeout:.0f}s")
        sleep(_POLL_SECONDS)
