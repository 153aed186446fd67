"""What the dev tools' tests share: a sandbox run's environment with its stand-ins running."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bridge.dev.sandbox.credentials import sandbox_credentials
from bridge.runtime.serving import free_port
from bridge.runtime.supervisor import RunOptions, sandbox_environment
from tests.helpers import ENV_PREFIXES


@pytest.fixture
def sandbox_run(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A sandbox run's environment, with its `bridge standins` process started in it."""
    env = sandbox_environment(sandbox_credentials(tmp_path), RunOptions(standins_port=free_port()), {})
    clean = {name: value for name, value in os.environ.items() if not name.startswith(ENV_PREFIXES)}
    url = env["TWILIO_API_URL"]
    process = subprocess.Popen(
        [sys.executable, "-m", "bridge", "standins", "--port", url.rsplit(":", 1)[1]],
        env=clean | env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/_standin/sends", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise
            time.sleep(0.1)
        yield env
    finally:
        process.terminate()
        process.wait(10)
