"""Redis's own files after a delete: the rewrite leaves no copy of the deleted value on disk.
Real Valkey servers, persisting as production does (append-only file on) and as a test server
does (nothing kept)."""

from __future__ import annotations

import time
from pathlib import Path

import redis

from bridge.infra.persistence import rewrite_files

SECRET = b"+525587143926"


def on_disk(directory: Path) -> list[str]:
    return [
        str(path.relative_to(directory))
        for path in directory.rglob("*")
        if path.is_file() and SECRET in path.read_bytes()
    ]


def test_a_deleted_value_leaves_the_append_only_file_once_it_is_rewritten(restartable_redis):
    client = redis.Redis.from_url(restartable_redis.connection_url)
    client.set("bridge:identity:phone:+525587143926", "c1")
    client.set("kept", "another customer")
    client.delete("bridge:identity:phone:+525587143926")
    time.sleep(1.2)  # appendfsync everysec: the write is on disk
    assert on_disk(restartable_redis.data_dir)  # deleted, yet still in the file

    assert rewrite_files(client) == "Redis: append-only file rewritten"

    deadline = time.monotonic() + 5  # the replaced files are unlinked in the background
    while on_disk(restartable_redis.data_dir) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert on_disk(restartable_redis.data_dir) == []
    client.close()
    restartable_redis.stop()
    restartable_redis.start()
    client = redis.Redis.from_url(restartable_redis.connection_url)
    assert client.get("kept") == b"another customer"  # the rewrite lost nothing else
    client.close()


def test_a_server_that_keeps_no_files_needs_no_rewrite(redis_client):
    assert rewrite_files(redis_client) == "Redis keeps no files here (no AOF, no snapshots)"
