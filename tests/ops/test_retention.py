"""Retention: every record the bridge stores goes after `BRIDGE_RETENTION_DAYS`; media files are
swept by the web process; what routes a returning customer stays."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from bridge.conversations.media import MediaStore, media_store
from bridge.core.settings import reset_settings_cache
from bridge.infra import keys
from bridge.infra.queueing import inbound_job_id
from bridge.ops.retention import sweep_media
from tests.helpers import signed_twilio

DAY = 86400


def test_leftovers_of_cut_short_writes_go_once_an_hour_old(tmp_path: Path) -> None:
    now = [time.time()]
    store = MediaStore(tmp_path, ttl_seconds=DAY, clock=lambda: now[0])
    kept = store.put(b"kept", "image/png")
    orphan, tmp, fresh_tmp = tmp_path / "orphan.bin", tmp_path / "x.bin.tmp", tmp_path / "y.json.tmp"
    for path in (orphan, tmp, fresh_tmp):
        path.write_bytes(b"half")
    two_hours_ago = now[0] - 7200
    os.utime(orphan, (two_hours_ago, two_hours_ago))
    os.utime(tmp, (two_hours_ago, two_hours_ago))

    assert store.purge_expired() == 2
    assert not orphan.exists() and not tmp.exists()
    assert fresh_tmp.exists()  # maybe a write in progress
    assert store.get(kept) is not None


def test_the_sweeper_removes_expired_media_and_keeps_going(tmp_path: Path) -> None:
    now = [1000.0]
    store = MediaStore(tmp_path, ttl_seconds=60, clock=lambda: now[0])
    old = store.put(b"old", "image/png")
    now[0] += 61

    async def sweep_once() -> None:
        task = asyncio.create_task(sweep_media(store, interval=0.01))
        while (tmp_path / f"{old}.json").exists():
            await asyncio.sleep(0.01)
        now[0] += 61  # the next item expires too: the loop keeps sweeping
        newer = store.put(b"newer", "image/png")
        now[0] += 61
        while (tmp_path / f"{newer}.json").exists():
            await asyncio.sleep(0.01)
        task.cancel()

    asyncio.run(asyncio.wait_for(sweep_once(), timeout=30))
    assert list(tmp_path.iterdir()) == []


def test_a_failing_sweep_is_logged_and_tried_again(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    calls = []

    class Broken(MediaStore):
        def purge_expired(self) -> int:
            calls.append(1)
            if len(calls) == 1:
                raise OSError("disk went away")
            return 0

    async def run() -> None:
        task = asyncio.create_task(sweep_media(Broken(tmp_path, ttl_seconds=60), interval=0.01))
        while len(calls) < 2:
            await asyncio.sleep(0.01)
        task.cancel()

    asyncio.run(asyncio.wait_for(run(), timeout=30))
    assert "media sweep failed" in caplog.text


def test_the_web_app_sweeps_expired_media_when_it_starts(settings, tmp_path: Path) -> None:
    from bridge.app import create_app
    from bridge.runtime.serving import BackgroundServer

    past = [time.time() - 30 * DAY]
    writer = MediaStore(settings.data_dir / "media", ttl_seconds=DAY, clock=lambda: past[0])
    expired = writer.put(b"old", "image/png")
    current = media_store(settings.data_dir, settings.retention_days).put(b"new", "image/png")

    with BackgroundServer(create_app(settings)):
        deadline = time.monotonic() + 30
        while (settings.data_dir / "media" / f"{expired}.json").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    assert not (settings.data_dir / "media" / f"{expired}.bin").exists()
    assert (settings.data_dir / "media" / f"{current}.bin").exists()


def test_records_expire_after_the_retention_and_routing_stays(
    bridge_env, monkeypatch, sandbox, drain, http, redis_client
) -> None:
    from bridge.app import create_app
    from bridge.core.settings import get_settings
    from bridge.runtime.serving import BackgroundServer

    monkeypatch.setenv("BRIDGE_RETENTION_DAYS", "3")
    reset_settings_cache()
    settings = get_settings()
    sandbox.fault(500, times=None)
    with BackgroundServer(create_app(settings)) as bridge:
        request = signed_twilio(
            bridge.url, settings, sender="+14155550123", recipient="+14155550100", text="hi"
        )
        assert request.send(http).status_code == 200
        drain()
        sandbox.clear_faults()
        request = signed_twilio(
            bridge.url, settings, sender="+14155550124", recipient="+14155550100", text="ok"
        )
        assert request.send(http).status_code == 200
        drain()

    def within_retention(key: str) -> bool:
        return 3 * DAY - 120 < redis_client.ttl(key) <= 3 * DAY

    entries = {
        key.decode().removeprefix(keys.inbound("")): redis_client.hget(key, "status").decode()
        for key in redis_client.scan_iter(keys.inbound("twilio-*"))
    }
    assert sorted(entries.values()) == ["delivered", "failed"]
    assert all(within_retention(keys.inbound(entry_id)) for entry_id in entries)
    for entry_id, status in entries.items():
        job_ttl = redis_client.ttl(f"rq:job:{inbound_job_id(entry_id)}")
        if status == "failed":  # kept for ops as long as its message
            assert within_retention(f"rq:job:{inbound_job_id(entry_id)}")
        else:  # a finished job's result: an hour
            assert 0 < job_ttl <= 3600
    # What routes the customer who wrote successfully stays, with no expiry.
    assert redis_client.ttl(keys.identity("phone:+14155550124")) == -1
