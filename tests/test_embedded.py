"""The embedded default: with no REDIS_URL, a real Valkey server under BRIDGE_DATA_DIR."""

from __future__ import annotations

import redis

from bridge.app import create_app
from bridge.embedded import ensure_embedded_redis
from bridge.serving import BackgroundServer
from bridge.settings import Settings


def test_the_first_process_starts_the_server_and_the_next_one_attaches(tmp_path):
    first = ensure_embedded_redis(tmp_path)
    try:
        second = ensure_embedded_redis(tmp_path)
        assert first.owner and not second.owner
        assert first.url == second.url
        redis.Redis.from_url(first.url).set("shared", "yes")
        assert redis.Redis.from_url(second.url).get("shared") == b"yes"
        assert (tmp_path / "redis.url").read_text().strip() == first.url
    finally:
        first.stop()


def test_data_survives_a_restart(tmp_path):
    first = ensure_embedded_redis(tmp_path)
    client = redis.Redis.from_url(first.url)
    client.rpush("queued", "message-1")
    client.close()
    first.stop()
    second = ensure_embedded_redis(tmp_path)
    try:
        assert second.owner  # the old server is gone; a new one replays the append-only file
        assert redis.Redis.from_url(second.url).lrange("queued", 0, -1) == [b"message-1"]
    finally:
        second.stop()


def test_stopping_the_owner_stops_the_server(tmp_path):
    embedded = ensure_embedded_redis(tmp_path)
    embedded.stop()
    try:
        redis.Redis.from_url(embedded.url, socket_connect_timeout=0.5).ping()
        answered = True
    except redis.ConnectionError:
        answered = False
    assert not answered


def test_the_web_app_without_redis_url_runs_on_the_embedded_server(tmp_path, http):
    settings = Settings(_env_file=None, redis_url=None, data_dir=tmp_path)
    with BackgroundServer(create_app(settings)) as server:
        assert http.get(f"{server.url}/readyz").json()["redis"] == "ok"
        url = (tmp_path / "redis.url").read_text().strip()
        assert redis.Redis.from_url(url).ping()
    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
        still_running = True
    except redis.ConnectionError:
        still_running = False
    assert not still_running  # the app started it, so the app stopped it
