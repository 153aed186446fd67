"""`bridge run --sandbox` lists WhatsApp templates from the stand-ins: the environment it gives
every process names the WhatsApp Business Account and points Twilio's Content API at the
stand-ins, and the `bridge standins` process it starts serves that account's templates."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bridge.core.errors import ProviderRejected
from bridge.core.settings import Settings
from bridge.dev.sandbox.credentials import sandbox_credentials
from bridge.dev.standins.templates import META_TEMPLATES, TWILIO_CONTENTS
from bridge.providers.registry import ADAPTERS
from bridge.runtime.serving import free_port
from bridge.runtime.supervisor import RunOptions, sandbox_environment

PREFIXES = (
    "BRIDGE_",
    "INTERCOM_",
    "TWILIO_",
    "WHATSAPP_",
    "MESSAGEBIRD_",
    "VONAGE_",
    "TEXTMAGIC_",
    "AFRICASTALKING_",
)


@pytest.fixture
def sandbox_run(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A sandbox run's environment, with its `bridge standins` process started in it."""
    env = sandbox_environment(sandbox_credentials(tmp_path), RunOptions(standins_port=free_port()), {})
    clean = {name: value for name, value in os.environ.items() if not name.startswith(PREFIXES)}
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


def test_the_sandbox_names_a_business_account_and_the_standins_content_api(tmp_path: Path) -> None:
    env = sandbox_environment(sandbox_credentials(tmp_path), RunOptions(standins_port=8002), {})
    assert env["WHATSAPP_BUSINESS_ACCOUNT_ID"].isdigit()
    assert env["TWILIO_CONTENT_API_URL"] == env["TWILIO_API_URL"] == "http://127.0.0.1:8002"


@pytest.mark.parametrize(
    ("provider", "names"),
    [
        ("whatsapp", [template["name"] for template in META_TEMPLATES]),
        ("twilio", [content["sid"] for content in TWILIO_CONTENTS]),
    ],
)
def test_a_sandbox_run_lists_the_standins_templates(
    sandbox_run: dict[str, str], provider: str, names: list[str]
) -> None:
    settings = Settings(_env_file=None, **sandbox_run)  # type: ignore[arg-type]
    with httpx.Client(timeout=10.0) as http:
        listed = ADAPTERS[provider].list_templates(settings, http)
    assert [info.name for info in listed] == names


def test_the_standins_list_only_the_sandboxs_business_account(sandbox_run: dict[str, str]) -> None:
    env = sandbox_run | {"WHATSAPP_BUSINESS_ACCOUNT_ID": "999999999999999"}
    with httpx.Client(timeout=10.0) as http, pytest.raises(ProviderRejected) as refused:
        ADAPTERS["whatsapp"].list_templates(Settings(_env_file=None, **env), http)  # type: ignore[arg-type]
    assert refused.value.code == "100"
